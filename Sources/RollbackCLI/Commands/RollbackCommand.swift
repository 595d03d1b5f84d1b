import ArgumentParser
import Foundation
import RollbackCore

/// The `rollback` command: check, rehearse and execute rollback runbooks.
public struct RollbackCommand: AsyncParsableCommand {
  /// The command's configuration and subcommands.
  public static let configuration = CommandConfiguration(
    commandName: "rollback",
    abstract: "Check, rehearse and execute rollback runbooks.",
    discussion: """
      A runbook (YAML, format version 1) describes how to roll one system back: its signals, \
      decision matrix, feature flags, services, levels and scenarios.

      Exit status: 0 success (assess: healthy), 1 a step failed, 2 bad input, 3 inconclusive, \
      4 lock held, 5 confirm declined, 10-13 assess severity low..critical, 130 interrupted.
      """,
    version: "0.1.0",
    subcommands: [
      ValidateCommand.self, PlanCommand.self, AssessCommand.self, ExecuteCommand.self, ResumeCommand.self,
      FlagCommand.self, DrillCommand.self, HistoryCommand.self, ReportCommand.self, RestoreCommand.self,
    ]
  )

  /// Creates the command.
  public init() {}

  /// Usage errors read `error: …`, as every other error of this tool does.
  public static var _errorPrefix: String { "error: " }

  /// Parses the arguments, runs the command and returns the process exit status.
  ///
  /// Usage errors exit with 2 (not swift-argument-parser's 64), as the CLI contract says.
  public static func run(arguments: [String]) async -> Int32 {
    do {
      var command = try parseAsRoot(arguments)
      if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
      return ExitStatus.success.rawValue
    } catch let error as CLIError {
      // A runbook error is already a `FILE:LINE:COL: error: …` diagnostic.
      if case .runbook(let diagnostic) = error {
        Console.error(diagnostic)
      } else {
        Console.error("error: \(error.description)")
      }
      return ExitStatus.usage.rawValue
    } catch {
      let code = exitCode(for: error)
      let message = fullMessage(for: error)
      if code == .success {
        if !message.isEmpty { print(message) }
        return ExitStatus.success.rawValue
      }
      if !message.isEmpty { Console.error(message) }
      return code == .validationFailure ? ExitStatus.usage.rawValue : code.rawValue
    }
  }
}
