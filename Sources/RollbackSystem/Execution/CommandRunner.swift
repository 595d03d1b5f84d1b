import Foundation
import RollbackCore

/// Runs a resolved command on one host: the `run` step's runner, and `restart`'s commands.
///
/// Given the host (``HostEffects``: local today, ssh later), the environment children get and
/// where their output lines go; nothing else.
struct CommandRunner {
  /// Where the command runs.
  var host: any HostEffects
  /// The children's environment: the process's, without the runbook's secret variables.
  var processEnvironment: [String: String]
  /// Says one line of the child's output (secrets already hidden by the sayer).
  var sayOutput: @Sendable (String) -> Void

  /// Runs the command within `timeout` seconds; cancellation throws.
  func run(_ command: ResolvedCommand, timeout: Double, id: String) async throws -> AttemptResult {
    var processEnvironment = processEnvironment
    for (name, value) in command.env { processEnvironment[name] = value }
    let spec = ProcessSpec(
      program: command.program, cwd: command.cwd, processEnvironment: processEnvironment,
      timeout: .milliseconds(Int(timeout * 1000)))
    let prefix = "    \(id) │ "
    let sayOutput = sayOutput
    let emitLine: @Sendable (ProcessStream, String) -> Void = { _, line in
      sayOutput(prefix + line.trimmingCharacters(in: CharacterSet(charactersIn: "\r\n")))
    }
    let outcome: ProcessOutcome
    do {
      outcome = try await host.run(command: spec, onOutput: emitLine)
    } catch {
      return .fail(command.display, error.description)
    }
    if outcome.cancelled { throw CancellationError() }
    var result = Self.result(outcome, display: command.display, timeout: timeout)
    result.output = String(outcome.output.suffix(4000))
    return result
  }

  /// How a finished process reads as a step's attempt.
  static func result(_ outcome: ProcessOutcome, display: String, timeout: Double) -> AttemptResult {
    if outcome.succeeded { return .ok(display) }
    if outcome.timedOut {
      return .fail(
        display, "timed out after \(Quantity.format(seconds: timeout)); its process group was stopped")
    }
    if let signal = outcome.signal { return .fail(display, "killed by signal \(signal)") }
    return .fail(display, "exited with status \(outcome.exitCode ?? -1)")
  }
}
