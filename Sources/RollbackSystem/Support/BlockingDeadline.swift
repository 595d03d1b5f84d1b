import Foundation
import RollbackCore

/// A point on the monotonic clock by which a blocking loop must give up.
struct BlockingDeadline: Sendable {
  /// The instant the deadline expires.
  let instant: ContinuousClock.Instant

  /// A deadline `duration` from now.
  init(after duration: Duration) {
    instant = ContinuousClock.now.advanced(by: duration)
  }

  /// Whether the deadline has passed.
  var hasExpired: Bool { ContinuousClock.now >= instant }

  /// Milliseconds left (never negative), capped at `cap` so loops wake up to check
  /// for cancellation.
  func remainingMilliseconds(cappedAt cap: Int32 = 200) -> Int32 {
    let left = ContinuousClock.now.duration(to: instant)
    return Swift.max(0, Swift.min(cap, Int32(clamping: left.millisecondsRoundedUp)))
  }
}

extension Duration {
  /// The duration in whole milliseconds, rounded up, never negative.
  var millisecondsRoundedUp: Int {
    let (seconds, attoseconds) = components
    guard seconds >= 0 else { return 0 }
    let millis = attoseconds / 1_000_000_000_000_000
    let remainder = attoseconds % 1_000_000_000_000_000
    let (total, overflow) = seconds.multipliedReportingOverflow(by: 1000)
    if overflow { return Int.max }
    return Int(clamping: total + millis + (remainder > 0 ? 1 : 0))
  }

  /// The duration in whole seconds, rounded up, and at least `minimum`.
  func secondsRoundedUp(atLeast minimum: Int) -> Int {
    let millis = millisecondsRoundedUp
    let seconds = millis / 1000 + (millis % 1000 > 0 ? 1 : 0)
    return Swift.max(minimum, seconds)
  }

  /// Short human text for a configured limit, in the runbook's notation
  /// (``Quantity/format(seconds:)``): `5s`, `1.5s`, `250ms`.
  var compactText: String {
    Quantity.format(seconds: doubleSeconds)
  }
}
