import Foundation
import RollbackCore

/// Commands printed for the operator's next move, complete enough to paste from any directory.
public enum AdviceCommand {
  /// `rollback ARGS --runbook ABS --env ENV [--state-dir ABS]`, each argument shell-quoted.
  public static func make(
    _ arguments: [String], runbookPath: String, environment: String?, stateDirectory: String
  ) -> String {
    let runbook = absolute(runbookPath)
    var words = ["rollback"] + arguments + ["--runbook", runbook]
    if let environment, !environment.isEmpty { words += ["--env", environment] }
    let state = absolute(stateDirectory)
    let defaultState = absolute(StateDirectory.defaultPath(forRunbook: runbook))
    if state != defaultState { words += ["--state-dir", state] }
    return words.map(ShellInterpolation.word).joined(separator: " ")
  }

  /// The path made absolute against the current directory, `.` and `..` removed.
  public static func absolute(_ path: String) -> String {
    let full =
      path.hasPrefix("/")
      ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    return (full as NSString).standardizingPath
  }
}
