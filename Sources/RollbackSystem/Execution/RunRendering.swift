import Foundation
import RollbackCore

/// JSON and text renderings of runs: journal events, `execute --json`, summaries.
public enum RunRendering {
  /// `1.2 s`, `2m3s` (``Quantity/formatElapsed(seconds:)``).
  public static func duration(_ seconds: Double) -> String {
    Quantity.formatElapsed(seconds: seconds)
  }

  /// One step as journalled: the step-finished event, written at `at`.
  public static func stepEvent(_ record: StepRecord, at: String?) -> StepFinishedEvent {
    StepFinishedEvent(
      id: record.id, kind: record.kind, name: record.name, status: record.status,
      mutates: record.mutates,
      startedAt: record.startedAt.map { Timestamp.iso($0) }, durationSeconds: record.duration,
      detail: record.detail, error: record.error, attempts: record.attempts, at: at,
      flagChanges: record.flagChanges.map {
        JournalFlagChange(
          file: $0.file, key: $0.key, before: $0.before, after: $0.after, changed: $0.changed,
          backup: $0.backup)
      },
      signals: record.signals.map {
        JournalSignal(
          name: $0.name, source: $0.source, value: $0.value, unit: $0.unit.rawValue, error: $0.error)
      },
      outputTail: record.output.flatMap { $0.isEmpty ? nil : String($0.suffix(2000)) }, hosts: record.hosts)
  }

  /// One step as `execute --json` lists it: the step-finished event without `event` and `at`.
  public static func stepJSON(_ record: StepRecord) -> JSONValue {
    stepEvent(record, at: nil).json(event: false)
  }

  /// The run as `execute --json` prints it (and `report --format json`).
  public static func json(_ result: RunResult) -> JSONValue {
    .object([
      ("run_id", .string(result.runID)), ("runbook", .string(result.runbook)),
      ("environment", .string(result.environment)), ("level", .int(result.target?.level)),
      ("scenario", .string(result.target?.scenario)),
      ("dry_run", .bool(result.dryRun)), ("status", .string(result.status.rawValue)),
      ("started_at", .string(Timestamp.iso(result.startedAt))),
      ("finished_at", .string(Timestamp.iso(result.finishedAt))),
      ("duration_s", .number((result.duration * 1000).rounded() / 1000)),
      ("rollback_duration_s", .number(result.rollbackDuration.map { ($0 * 1000).rounded() / 1000 })),
      ("target_s", .number(result.targetSeconds)),
      ("within_target", result.withinTarget.map { .bool($0) } ?? .null),
      ("exit_code", .int(Int(result.exitCode))),
      ("advice", .string(result.advice)), ("next_command", .string(result.nextCommand)),
      ("journal", .string(result.journalPath)),
      ("steps", .array(result.steps.map { stepJSON($0) })),
    ])
  }

  /// The journal's closing event.
  public static func finishedEvent(_ result: RunResult) -> JournalEvent {
    var finished = RunFinishedEvent(
      runID: result.runID, status: result.status, finishedAt: Timestamp.iso(result.finishedAt),
      durationSeconds: (result.duration * 1000).rounded() / 1000,
      rollbackDurationSeconds: result.rollbackDuration.map { ($0 * 1000).rounded() / 1000 },
      targetSeconds: result.targetSeconds, withinTarget: result.withinTarget, exitCode: Int(result.exitCode),
      advice: result.advice, nextCommand: result.nextCommand)
    finished.hosts = RunHostOutcome.of(result.steps.map(\.hosts))
    return .runFinished(finished)
  }

  /// The closing lines for a person: outcome and time against target.
  public static func summary(_ result: RunResult) -> String {
    let what = result.target?.description ?? ""
    let time = duration(result.duration)
    let target = result.targetSeconds.map { Quantity.format(seconds: $0) }
    var lines: [String] = []
    switch result.status {
    case .succeeded:
      var line = "Rolled back (\(what)) in \(time)"
      if let rollback = result.rollbackDuration {
        line = "Drill of \(what) passed: rolled back in \(duration(rollback)) (drill \(time))"
      }
      if let target {
        line += " — target \(target) " + (result.withinTarget == true ? "✓" : "✗ (over target)")
      }
      lines.append(line)
    case .dryRun:
      let would = result.steps.filter { $0.status == .wouldRun }.count
      lines.append(
        "Dry run of \(what) finished in \(time): \(would) change\(would == 1 ? "" : "s") would be made; nothing was changed"
      )
    case .failed:
      lines.append("Rollback FAILED (\(what)) after \(time)" + (target.map { " — target \($0)" } ?? ""))
    case .aborted where result.target == nil:
      lines.append("Rollback aborted before it started; nothing was run")
    case .aborted:
      lines.append("Rollback aborted (\(what)) after \(time)")
    case .interrupted:
      lines.append("Rollback interrupted (\(what)) after \(time); the journal allows resume")
    }
    if let advice = result.advice { lines.append("Next: \(advice)") }
    lines.append("Run \(result.runID)" + (result.journalPath.map { " · journal \($0)" } ?? ""))
    return lines.joined(separator: "\n")
  }
}
