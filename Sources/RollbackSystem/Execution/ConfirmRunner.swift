import Foundation
import RollbackCore

/// Runs a `confirm` step: a person's yes goes on; no, or nobody to ask, stops the run with exit 5.
struct ConfirmRunner {
  /// Asks the person.
  var confirmer: Executor.Confirmer
  /// A dry run only says what it would ask.
  var dryRun: Bool
  /// `--yes` answers for the person.
  var assumeYes: Bool

  /// Asks the question (already resolved) for the step `id`.
  func run(_ question: String, id: String) async -> AttemptResult {
    if dryRun { return AttemptResult(status: .sampled, detail: "would ask: \(question)") }
    if assumeYes { return .ok("\(question) — yes (--yes)") }
    var result: AttemptResult
    switch await confirmer.ask(question) {
    case .some(true): return .ok("\(question) — yes")
    case .some(false): result = AttemptResult.fail(question, "declined: \(question)")
    case .none:
      result = AttemptResult.fail(
        question,
        "confirm gate '\(id)' needs an answer and there is no terminal; rerun with --yes to answer yes")
    }
    result.declined = ExitStatus.declined.rawValue
    return result
  }
}
