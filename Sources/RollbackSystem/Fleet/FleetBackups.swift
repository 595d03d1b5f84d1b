import Foundation
import RollbackCore

/// Where a fleet run keeps the previous content of the files it changes on a host:
/// `STATE/backups/RUN_ID/HOST/` on the control machine, never on the host.
public struct FleetBackups: Sendable {
  /// The run's state directory.
  public let stateDirectory: String
  /// The run id.
  public let runID: String

  /// Creates the backup location of a run.
  public init(stateDirectory: String, runID: String) {
    self.stateDirectory = stateDirectory
    self.runID = runID
  }

  /// `STATE/backups/RUN_ID/HOST` (a `/` in the host name becomes `_`).
  public func directory(for host: String) -> String {
    let safeHost =
      host.isEmpty || host == "." || host == ".." ? "_" : host.replacingOccurrences(of: "/", with: "_")
    return Syscall.join(StateDirectory(path: stateDirectory).backupsPath(runID), safeHost)
  }

  /// Durably stores `contents` (the previous content of `path` on `host`); a backup of the
  /// same file with the same bytes already there is reused (a resumed run writes no second one).
  ///
  /// - Returns: the backup's path.
  @discardableResult
  public func store(_ contents: [UInt8], of path: String, host: String) throws(FileError) -> String {
    try AtomicFile.backup(contents: contents, of: path, to: directory(for: host), reusingIdentical: true)
  }
}
