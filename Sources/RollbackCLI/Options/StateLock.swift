import ArgumentParser
import RollbackCore
import RollbackSystem

/// Taking the state directory's execution lock for a command that changes files outside a run
/// (`flag`, `restore`), the way `execute` takes it: a stale holder is a warning; a lock held by
/// another execution exits 4; a state directory that cannot hold the lock exits 1 with its reason.
enum StateLock {
  /// The lock of `state` for `runID`; nil (no lock) for a dry run.
  static func take(_ state: String, runID: String, dryRun: Bool) throws -> FileLock? {
    guard !dryRun else { return nil }
    do {
      let lock = try FileLock.acquire(at: StateDirectory(path: state).lockPath, runID: runID)
      if let warning = lock.warning { Console.error("warning: \(warning)") }
      return lock
    } catch {
      Console.error(error.description)
      if case .unavailable = error {
        Console.error("  make the state directory \(state) writable (and give it room)")
        throw ExitCode(.failed)
      }
      throw ExitCode(.lockHeld)
    }
  }
}
