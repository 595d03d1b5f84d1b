import Foundation
import RollbackCore

/// Runs an `assert` step: it fails unless its condition holds, and an unknown value fails.
struct AssertRunner {
  /// Where the condition's signals come from.
  var signals: SignalSampler

  /// Evaluates the condition once; after a dry run's first change only what it would require.
  func run(_ condition: Condition, phase: DryRunPhase) async -> AttemptResult {
    let (holds, readings) = await signals.evaluate(condition)
    let values = SignalSampler.text(readings)
    var result: AttemptResult
    switch holds {
    case .some(true): result = .ok("\(condition.text) holds (\(values))")
    case .some(false): result = .fail(condition.text, "\(condition.text) does not hold (\(values))")
    case .none: result = .fail(condition.text, "cannot tell whether \(condition.text): \(values)")
    }
    if phase == .sampled {
      result = AttemptResult(
        status: .sampled,
        detail: "would require \(condition.text); now \(SignalSampler.describe(holds, readings))")
    }
    result.signals = readings
    return result
  }
}
