/// The exit statuses of `rollback`, as the CLI contract (cli.md, "Exit status") lists them:
/// every command exits with one of these.
public enum ExitStatus: Int32, Sendable, CaseIterable {
  /// Success; for `assess`: healthy.
  case success = 0
  /// A step or check failed; the run was aborted.
  case failed = 1
  /// Bad input: usage, runbook, missing environment variable.
  case usage = 2
  /// `assess`: a signal it needed is unknown.
  case inconclusive = 3
  /// Another execution holds the lock.
  case lockHeld = 4
  /// A `confirm` gate was declined or could not be asked.
  case declined = 5
  /// `assess`: severity low.
  case severityLow = 10
  /// `assess`: severity medium.
  case severityMedium = 11
  /// `assess`: severity high.
  case severityHigh = 12
  /// `assess`: severity critical.
  case severityCritical = 13
  /// Interrupted by SIGINT or SIGTERM; the journal allows `resume`.
  case interrupted = 130

  /// The status of `assess` for a severity.
  public static func assess(_ severity: Severity) -> ExitStatus {
    switch severity {
    case .low: return .severityLow
    case .medium: return .severityMedium
    case .high: return .severityHigh
    case .critical: return .severityCritical
    }
  }
}
