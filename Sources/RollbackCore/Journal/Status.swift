import Foundation

// The statuses journals record (`step-finished` and `run-finished`), shared by the executor
// that writes them and the readers.

/// How a step ended.
public enum StepStatus: String, Sendable, Codable {
  /// It did what it should.
  case succeeded
  /// It did not.
  case failed
  /// Its condition did not hold, or a resume found it done.
  case skipped
  /// A mutating step in a dry run.
  case wouldRun = "would-run"
  /// A read after the first mutation in a dry run.
  case sampled
  /// Not reached.
  case pending
}

/// The overall outcome of a run.
public enum RunStatus: String, Sendable, Codable {
  /// Every step passed.
  case succeeded
  /// A step failed and the run stopped.
  case failed
  /// The run stopped before any step (preflight) or at a declined gate.
  case aborted
  /// SIGINT or SIGTERM.
  case interrupted
  /// A rehearsal.
  case dryRun = "dry-run"
}
