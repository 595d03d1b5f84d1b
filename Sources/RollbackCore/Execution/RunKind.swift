/// What started a run: the journal's `command` field, with the same JSON values as before.
public enum RunKind: String, Sendable, Equatable {
  /// `rollback execute`.
  case execute
  /// `rollback drill`: the level wrapped in the drill's own steps, `drill: skip` steps skipped.
  case drill
  /// `rollback resume`.
  case resume
  /// `rollback flag`.
  case flag

  /// The word written to the journal.
  public var journalValue: String { rawValue }
}

/// In a dry run: reads before the first mutation run for real, mutations are described, later
/// reads are sampled.
public enum DryRunPhase: Sendable, Equatable {
  /// Runs for real.
  case live
  /// A mutation described, not made.
  case wouldRun
  /// A read after the first (described) mutation: sampled once.
  case sampled
}
