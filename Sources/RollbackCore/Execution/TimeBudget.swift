import Foundation

/// A level's clock against its target while it runs: elapsed, and the projected finish.
///
/// The projection is the time elapsed plus the declared upper bounds of the steps left (the
/// current one's bound less what it has used): a wait's `within` (cut by its timeout), any
/// other step's `timeout`, a restart's service budget (restart timeout and health `within`).
/// A step with no declared bound adds nothing.
public struct TimeBudget: Sendable, Equatable {
  /// The level's target, in seconds.
  public var target: Double
  /// The declared upper bound of each step of the plan, in plan order.
  public var bounds: [Double]

  /// Creates a budget from a target and the steps' bounds.
  public init(target: Double, bounds: [Double]) {
    self.target = target
    self.bounds = bounds
  }

  /// The budget of a plan's steps; `service` gives a restart's budget (nil when unknown).
  public init(target: Double, steps: [Step], service: (String) -> Double? = { _ in nil }) {
    self.init(target: target, bounds: steps.map { Self.upperBound($0, service: service) })
  }

  /// A step's declared upper bound in seconds (0 when it declares none).
  public static func upperBound(_ step: Step, service: (String) -> Double? = { _ in nil }) -> Double {
    switch step.kind {
    case .wait(_, let within, _, _):
      return min(within, step.timeout ?? within) * Double(step.retries + 1)
    case .restart(let name, _):
      return (step.timeout ?? service(name.value) ?? 0) * Double(step.retries + 1)
    default:
      return (step.timeout ?? 0) * Double(step.retries + 1)
    }
  }

  /// The projected finish: `elapsed` plus the bounds of step `current` (less `inStep`, the time
  /// it has run) and of every step after it.
  public func projection(elapsed: Double, current: Int, inStep: Double = 0) -> Double {
    guard current < bounds.count else { return elapsed }
    let rest = bounds[(current + 1)...].reduce(0, +)
    return elapsed + max(0, bounds[max(0, current)] - inStep) + rest
  }

  /// Whether a projection passes the target.
  public func passes(_ projection: Double) -> Bool { projection > target }

  /// `elapsed 1m 10s · projected 4m 30s of target 5m` with a mark when it passes.
  public func line(elapsed: Double, projection: Double) -> String {
    "elapsed \(Quantity.format(seconds: elapsed)) · projected \(Quantity.format(seconds: projection)) of target \(Quantity.format(seconds: target))"
      + (passes(projection) ? " ⚠" : " ✓")
  }

  /// Each step's share of the target, in whole percent of `duration`.
  public static func share(duration: Double, target: Double) -> Int? {
    // Journals are input: a duration or target that is not a finite number has no share.
    let percent = (duration / target * 100).rounded()
    guard target > 0, percent.isFinite, abs(percent) < 1e9 else { return nil }
    return Int(percent)
  }
}
