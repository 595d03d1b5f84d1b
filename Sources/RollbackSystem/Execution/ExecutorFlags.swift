import Foundation
import RollbackCore

extension Executor {
  func flagEditor(_ name: String) -> FlagEditor? {
    guard let flag = request.runbook.flags[name] else { return nil }
    return FlagEditor(flag: flag, files: flag.files.map { resolve($0).value })
  }

  func changeFlag(_ name: String, _ change: FlagChange, dryRun: Bool) async throws -> AttemptResult {
    guard let editor = flagEditor(name) else { return .fail("flag \(name)", "unknown flag \(name)") }
    let backups = StateDirectory(path: request.stateDirectory).backupsPath(runID)
    // A run killed while writing a backup leaves a temporary file in its backup directory; a
    // resumed run removes it (the host does), and reuses the backups already written.
    do {
      let result = try await host.applyFlag(editor, change, backupDirectory: backups, dryRun: dryRun)
      for diff in result.diffs {
        for line in diff.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
          say("    \(String(line))")
        }
      }
      if !dryRun { noteFlagWrite(name, result) }
      var attempt = AttemptResult(status: dryRun ? .wouldRun : .succeeded, detail: result.summary)
      attempt.flagChanges = result.changes
      return attempt
    } catch {
      // Interrupted while waiting for another editor of the file: nothing was written.
      if case .file(.other(_, EINTR, _)) = error, Task.isCancelled { throw CancellationError() }
      return .fail("flag \(name)", error.description)
    }
  }
}
