import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// Reads runs back from the state directory.
enum RunStore {
  /// The state directory to read: `--state-dir` or `ROLLBACK_STATE_DIR` when given, which need no
  /// runbook (runs are read from their journals only); else `.rollback/` beside the runbook.
  static func state(_ options: RunbookOptions) throws -> String {
    try stateDirectory(options, runbookPath: try options.runbookPath())
  }

  /// The run's report, from its journal.
  static func report(state: String, runID: String) throws -> RunReport {
    let events: [JournalEvent]
    do {
      events = try JournalReader.events(at: JournalReader.path(stateDirectory: state, runID: runID))
    } catch {
      throw CLIError.usage("no run \(runID) in \(state)/runs")
    }
    guard var report = RunReport.parse(events) else {
      throw CLIError.usage("the journal of run \(runID) has no run-started event")
    }
    if report.status == "in progress", !isRunning(runID, state: state) { report.status = "incomplete" }
    return report
  }

  /// Whether `runID` is the live holder of the state directory's lock. A run that never
  /// journalled its end and is not running was killed, or its journal could not be written.
  static func isRunning(_ runID: String, state: String) -> Bool {
    FileLock.liveHolder(at: (state as NSString).appendingPathComponent("lock"))?.runID == runID
  }

  /// The summaries of the runs that have a readable journal with a run-started event, in the
  /// order of `runIDs`. Only the run-level events of each journal are parsed, and only a summary
  /// is kept per run.
  static func summaries(state: String, runIDs: [String]) -> [RunSummary] {
    let holder = FileLock.liveHolder(at: (state as NSString).appendingPathComponent("lock"))
    return runIDs.compactMap { id in
      guard
        var summary = (try? JournalReader.summary(at: JournalReader.path(stateDirectory: state, runID: id)))
          ?? nil
      else { return nil }
      // Not finished and nobody running it: killed, or its journal could not be written.
      if summary.status == "in progress", holder?.runID != id { summary.status = "incomplete" }
      return summary
    }
  }

  /// The runbook the options name, absolute; nil (every run counts) when none is named and the
  /// state directory is given, or none is found.
  static func runbookFilter(_ options: RunbookOptions) -> String? {
    if let runbook = options.runbook { return AdviceCommand.absolute(runbook) }
    let variable = ProcessInfo.processInfo.environment["ROLLBACK_STATE_DIR"] ?? ""
    guard options.stateDir == nil, variable.isEmpty else { return nil }
    return (try? options.runbookPath()).map(AdviceCommand.absolute)
  }

  /// Whether the run is of the runbook (several runbooks may share a state directory).
  static func belongs(_ summary: RunSummary, to runbook: String?) -> Bool {
    guard let runbook, let recorded = summary.runbookPath else { return true }
    // Older journals hold the path as it was given: compare file names then.
    return recorded.hasPrefix("/")
      ? AdviceCommand.absolute(recorded) == runbook
      : (recorded as NSString).lastPathComponent == (runbook as NSString).lastPathComponent
  }

  /// The newest run that is not a dry run, of the runbook the options name (any runbook when
  /// none is named or found); nil when the state directory has no runs.
  static func latestRealRun(state: String, options: RunbookOptions) throws -> String? {
    let ids = JournalReader.runIDs(stateDirectory: state)
    guard !ids.isEmpty else { return nil }
    let runbook = runbookFilter(options)
    // Run ids sort by second only: the latest is the one that started last.
    let candidates = summaries(state: state, runIDs: ids).filter { !$0.dryRun && belongs($0, to: runbook) }
    if let latest = newestFirst(candidates).first { return latest.runID }
    throw CLIError.usage(
      "no run of \(runbook ?? "any runbook") other than dry runs in \(state)/runs; name one: rollback report RUN_ID"
    )
  }

  /// The runs, the one that started last first (ids tell the second only; the start time, the
  /// millisecond).
  static func newestFirst(_ runs: [RunSummary]) -> [RunSummary] {
    runs.sorted { ($0.startedAt, $0.runID) > ($1.startedAt, $1.runID) }
  }

  /// The latest assessment saved in the state directory at or before `time` (ISO), if any.
  static func assessment(state: String, before time: String) -> SavedAssessment? {
    let directory = StateDirectory(path: state).assessmentsPath
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
      $0.hasSuffix(".json")
    }
    let limit = Timestamp.parse(time) ?? Date.distantFuture
    var best: (Date, SavedAssessment)?
    for name in names {
      let path = (directory as NSString).appendingPathComponent(name)
      guard let data = FileManager.default.contents(atPath: path),
        let object = SavedAssessment.decode(data),
        let at = object.assessedAt.flatMap(Timestamp.parse), at <= limit
      else { continue }
      if best == nil || at > (best?.0 ?? .distantPast) { best = (at, object) }
    }
    return best?.1
  }
}
