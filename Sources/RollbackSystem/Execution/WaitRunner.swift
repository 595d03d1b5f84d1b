import Foundation
import RollbackCore

/// Runs a `wait` step: samples its condition every `interval` until it holds `consecutive` times
/// in a row, or `within` runs out. Time is the injected clock's.
struct WaitRunner {
  /// Where the condition's signals come from.
  var signals: SignalSampler
  /// Measures the wait and sleeps between samples.
  var clock: any ExecutionClock
  /// Says a line of the given kind.
  var say: (String, OutputKind) -> Void
  /// Says the level's live budget line.
  var sayBudget: () -> Void
  /// Between samples: the result that ends the wait early (an accepted escalation), or nil.
  var cutShort: (_ id: String, _ last: [SignalReading]) async -> AttemptResult? = { _, _ in nil }

  /// A `wait` step's parameters.
  struct Spec {
    var condition: Condition
    var within: Double
    var interval: Double
    var consecutive: Int
  }

  /// Waits for the condition, at most the step's `timeout`; after a dry run's first change it is
  /// sampled once instead.
  func run(_ spec: Spec, timeout: Double?, id: String, phase: DryRunPhase) async throws -> AttemptResult {
    guard phase == .sampled else {
      var capped = spec
      capped.within = min(spec.within, timeout ?? spec.within)
      return try await wait(capped, id: id)
    }
    let (holds, readings) = await signals.evaluate(spec.condition)
    var result = AttemptResult(
      status: .sampled,
      detail:
        "would wait up to \(Quantity.format(seconds: spec.within)) for \(spec.condition.text); now \(SignalSampler.text(readings))"
        + (holds == true ? " (holds)" : ""))
    result.signals = readings
    return result
  }

  /// Polls until the condition holds often enough in a row, or time runs out.
  func wait(_ spec: Spec, id: String) async throws -> AttemptResult {
    let (condition, within) = (spec.condition, spec.within)
    let start = clock.now
    var streak = 0
    var last: [SignalReading] = []
    var samples = 0
    while true {
      let (holds, readings) = await signals.evaluate(condition)
      samples += 1
      last = readings
      streak = holds == true ? streak + 1 : 0
      let elapsed = (clock.now - start).doubleSeconds
      let verdict = holds == true ? "holds" : (holds == false ? "not yet" : "unknown")
      say(
        "    \(id): \(SignalSampler.text(readings)) — \(condition.text) \(verdict) (\(streak)/\(spec.consecutive)), \(Quantity.format(seconds: elapsed)) of \(Quantity.format(seconds: within))",
        .progress
      )
      sayBudget()
      if streak >= spec.consecutive {
        var result = AttemptResult.ok(
          "\(condition.text) held \(spec.consecutive)× after \(Quantity.format(seconds: elapsed)) (\(SignalSampler.text(readings)))"
        )
        result.signals = readings
        return result
      }
      if elapsed + spec.interval > within { break }
      if let cut = try await tick(
        until: clock.now + .milliseconds(Int(spec.interval * 1000)), spec, since: start, id: id,
        last: readings)
      {
        return cut
      }
    }
    var result = AttemptResult.fail(
      "wait for \(condition.text)",
      "\(condition.text) did not hold within \(Quantity.format(seconds: within)) (\(samples) samples); last: \(SignalSampler.text(last))"
    )
    result.signals = last
    return result
  }

  /// Between samples, a terminal shows the time running against the budget and the last value;
  /// a cut (an escalation accepted meanwhile, checked about once a second) ends the wait.
  func tick(
    until next: ContinuousClock.Instant, _ spec: Spec, since start: ContinuousClock.Instant, id: String,
    last readings: [SignalReading]
  ) async throws -> AttemptResult? {
    while clock.now < next {
      if let cut = await cutShort(id, readings) { return cut }
      try await clock.sleep(for: min(next - clock.now, .seconds(1)))
      let now = (clock.now - start).doubleSeconds
      say(
        "    \(id): \(Quantity.format(seconds: now)) of \(Quantity.format(seconds: spec.within)) — last \(SignalSampler.text(readings)), want \(spec.condition.text)",
        .tick)
    }
    return nil
  }
}
