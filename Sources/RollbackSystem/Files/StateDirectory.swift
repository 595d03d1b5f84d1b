import Foundation

/// The state directory and its layout, the one place that names its parts:
///
/// ```
/// STATE/lock                    held for a whole execution
/// STATE/runs/RUN_ID.jsonl       the journal of a run
/// STATE/backups/NAME/           the previous content of the files a run changed
/// STATE/assessments/TIME.json   saved assessments
/// ```
///
/// `STATE` is `--state-dir`, else `ROLLBACK_STATE_DIR`, else `.rollback/` beside the runbook;
/// an empty value counts as not given.
public struct StateDirectory: Sendable, Equatable {
  /// The directory itself.
  public let path: String

  /// The state directory at `path`, as given.
  public init(path: String) {
    self.path = path
  }

  /// Resolves the state directory from the `--state-dir` option, the process environment's
  /// `ROLLBACK_STATE_DIR` and the runbook's path, in that order; the runbook's path is only
  /// asked for when neither is given.
  public init(
    option: String?, processEnvironment: [String: String], runbookPath: @autoclosure () throws -> String
  ) rethrows {
    if let option, !option.isEmpty {
      path = option
    } else if let variable = processEnvironment["ROLLBACK_STATE_DIR"], !variable.isEmpty {
      path = variable
    } else {
      path = Self.defaultPath(forRunbook: try runbookPath())
    }
  }

  /// `.rollback/` beside the runbook (the current directory's when the path has no folder).
  public static func defaultPath(forRunbook runbookPath: String) -> String {
    let folder = Syscall.directoryName(runbookPath)
    return Syscall.join(folder, ".rollback")
  }

  /// `STATE/lock`.
  public var lockPath: String { Syscall.join(path, "lock") }

  /// `STATE/runs`.
  public var runsPath: String { Syscall.join(path, "runs") }

  /// `STATE/runs/RUN_ID.jsonl`.
  public func journalPath(runID: String) -> String { Syscall.join(runsPath, "\(runID).jsonl") }

  /// `STATE/backups/NAME`, where `NAME` is a run id (or `flag-RUN_ID` for `rollback flag`).
  public func backupsPath(_ name: String) -> String { Syscall.join(Syscall.join(path, "backups"), name) }

  /// `STATE/assessments`.
  public var assessmentsPath: String { Syscall.join(path, "assessments") }

  /// Creates `directory` and its missing parents (mode 0700), syncing the parent of each one
  /// created so that a new name survives a crash.
  public static func createDurably(_ directory: String) throws(FileError) {
    do {
      try Syscall.makeDirectories(directory, mode: 0o700)
    } catch {
      throw FileError.from(errno: error.code, path: directory, operation: "create the directory")
    }
  }
}
