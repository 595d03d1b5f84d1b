/// How a child process ended: an exit status, a signal, a timeout or a cancellation.
///
/// A non-zero exit is an outcome, not an error: ``ProcessRunner`` throws only when the
/// process could not be started at all.
public struct ProcessOutcome: Sendable, Equatable, CustomStringConvertible {
  /// The exit status when the child exited by itself (including after SIGTERM, if it
  /// handled the signal and exited).
  public var exitCode: Int32?
  /// The signal that killed the child, when one did.
  public var signal: Int32?
  /// Whether the spec's timeout expired and the process group was torn down.
  public var timedOut: Bool
  /// Whether the awaiting task was cancelled and the process group was torn down.
  public var cancelled: Bool
  /// From the start of the child to its reaping.
  public var duration: Duration
  /// The tail of the combined stdout and stderr lines, in arrival order, at most the
  /// spec's `outputCap` bytes.
  public var output: String
  /// Whether older output was dropped to keep `output` within the cap.
  public var truncated: Bool

  /// Creates an outcome (for fakes and tests; ``ProcessRunner`` makes the real ones).
  public init(
    exitCode: Int32?,
    signal: Int32? = nil,
    timedOut: Bool = false,
    cancelled: Bool = false,
    duration: Duration = .zero,
    output: String = "",
    truncated: Bool = false
  ) {
    self.exitCode = exitCode
    self.signal = signal
    self.timedOut = timedOut
    self.cancelled = cancelled
    self.duration = duration
    self.output = output
    self.truncated = truncated
  }

  /// Whether the child exited 0 on its own, without timeout or cancellation.
  public var succeeded: Bool { exitCode == 0 && !timedOut && !cancelled }

  /// "exit 0", "exit 3", "killed by signal 9 after the timeout", "cancelled (exit 143)".
  public var description: String {
    var status: String
    if let exitCode {
      status = "exit \(exitCode)"
    } else if let signal {
      status = "killed by signal \(signal)"
    } else {
      status = "no exit status"
    }
    if timedOut {
      status += " after the timeout"
    } else if cancelled {
      status = "cancelled (\(status))"
    }
    return status
  }
}
