import Foundation
import RollbackCore

/// Runs a `flag` step: changes a flag in every one of its dotenv files on the host, all or
/// nothing, with backups; a dry run shows the diff and writes nothing.
struct FlagRunner {
  /// Where the flag files are (this machine, or one host of the inventory).
  var host: any HostEffects
  /// The run's backup directory for the files' previous bytes.
  var backupDirectory: String
  /// Says a line of the diff.
  var say: (String) -> Void
  /// Told what a real change wrote (a restart proves its service took it).
  var noteWrite: (FlagEditor.Result) -> Void

  /// Applies the change to the flag's files (nil when the runbook has no such flag); a run
  /// interrupted while waiting for another editor of the files throws.
  func run(_ name: String, editor: FlagEditor?, _ change: FlagChange, dryRun: Bool) async throws
    -> AttemptResult
  {
    guard let editor else { return .fail("flag \(name)", "unknown flag \(name)") }
    // A run killed while writing a backup leaves a temporary file in its backup directory; a
    // resumed run removes it (the host does), and reuses the backups already written.
    do {
      let result = try await host.applyFlag(editor, change, backupDirectory: backupDirectory, dryRun: dryRun)
      for diff in result.diffs {
        for line in diff.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
          say("    \(String(line))")
        }
      }
      if !dryRun { noteWrite(result) }
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
