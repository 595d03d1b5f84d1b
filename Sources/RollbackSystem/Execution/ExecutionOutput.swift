/// What a line of execution output is, so a terminal can colour, overwrite or hide it.
public enum OutputKind: Sendable, Equatable {
  /// The run's or a step's heading.
  case heading
  /// A fact about the current step.
  case detail
  /// A line a child process printed.
  case output
  /// A step that passed.
  case success
  /// A step or check that failed.
  case failure
  /// Something to notice that does not stop the run.
  case warning
  /// A live status while waiting (a terminal overwrites it; elsewhere it is a plain line).
  case progress
  /// A live status between samples: shown only where a line can be overwritten.
  case tick
  /// Shown only with --verbose: notes and resolved details.
  case verbose
  /// The closing summary.
  case summary
}

/// One line of execution output.
public struct OutputLine: Sendable, Equatable {
  /// Its kind.
  public var kind: OutputKind
  /// Its text, secrets already hidden.
  public var text: String

  /// Creates a line.
  public init(_ kind: OutputKind, _ text: String) {
    self.kind = kind
    self.text = text
  }
}
