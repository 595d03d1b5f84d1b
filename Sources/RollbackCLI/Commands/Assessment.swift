import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// One assessment: the readings, the verdict and when it was made.
struct Assessment: Sendable {
  /// The runbook assessed.
  var runbook: Runbook
  /// The environment's name.
  var environment: String
  /// Every signal's reading, in runbook order.
  var readings: [SignalReading]
  /// What the decision matrix concluded.
  var verdict: Verdict
  /// When the reads started.
  var assessedAt: Date
  /// Wall time of the reads and the decision, seconds.
  var duration: Double
  /// Options appended to the recommended command (`--runbook FILE`, `--var …`).
  var invocation: [String]

  /// The recommended action in words, and the exact command when there is one.
  var action: (words: String, command: String?) {
    let described = DecisionEngine.describe(verdict.action, runbook: runbook, environment: environment)
    return (
      described.words,
      described.command.map { ([$0] + invocation.map(ShellInterpolation.word)).joined(separator: " ") }
    )
  }
}
