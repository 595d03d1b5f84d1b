import Foundation
import RollbackCore

/// JSON and text renderings of runs: journal events, `execute --json`, summaries.
public enum RunRendering {
  /// `0.004 s`, `1.2 s`, `2m3s`.
  public static func duration(_ seconds: Double) -> String {
    if seconds < 0.01 { return String(format: "%.3f s", seconds) }
    if seconds < 60 { return String(format: "%.1f s", seconds) }
    return Quantity.format(seconds: seconds)
  }

  static func readingJSON(_ reading: SignalReading) -> JSONValue {
    .object([
      ("name", .string(reading.name)), ("source", .string(reading.source)), ("value", .number(reading.value)),
      ("unit", .string(reading.unit.rawValue)), ("error", .string(reading.error)),
    ])
  }

  /// One step as JSON; `event` adds the journal's event name and time.
  public static func stepJSON(_ record: StepRecord, event: String? = nil) -> JSONValue {
    var members: [(String, JSONValue)] = []
    if let event { members.append(("event", .string(event))) }
    members += [
      ("id", .string(record.id)), ("kind", .string(record.kind)), ("name", .string(record.name)),
      ("status", .string(record.status.rawValue)), ("mutates", .bool(record.mutates)),
      ("started_at", .string(record.startedAt.map { Timestamp.iso($0) })),
      ("duration_s", .number(record.duration)),
      ("detail", .string(record.detail)), ("error", .string(record.error)),
      ("attempts", .int(record.attempts)),
    ]
    if event != nil { members.append(("at", .string(Timestamp.iso(Date())))) }
    if !record.flagChanges.isEmpty {
      members.append(
        (
          "flag_changes",
          .array(
            record.flagChanges.map {
              .object([
                ("file", .string($0.file)), ("key", .string($0.key)), ("before", .string($0.before)),
                ("after", .string($0.after)), ("changed", .bool($0.changed)), ("backup", .string($0.backup)),
              ])
            })
        ))
    }
    if !record.signals.isEmpty { members.append(("signals", .array(record.signals.map(readingJSON)))) }
    if let output = record.output, !output.isEmpty {
      members.append(("output_tail", .string(String(output.suffix(2000)))))
    }
    return .object(members)
  }

  /// The run as `execute --json` prints it (and `report --format json`).
  public static func json(_ result: RunResult) -> JSONValue {
    .object([
      ("run_id", .string(result.runID)), ("runbook", .string(result.runbook)),
      ("environment", .string(result.environment)), ("level", .int(result.level)),
      ("scenario", .string(result.scenario)),
      ("dry_run", .bool(result.dryRun)), ("status", .string(result.status.rawValue)),
      ("started_at", .string(Timestamp.iso(result.startedAt))),
      ("finished_at", .string(Timestamp.iso(result.finishedAt))),
      ("duration_s", .number((result.duration * 1000).rounded() / 1000)),
      ("rollback_duration_s", .number(result.rollbackDuration.map { ($0 * 1000).rounded() / 1000 })),
      ("target_s", .number(result.target)),
      ("within_target", result.withinTarget.map { .bool($0) } ?? .null),
      ("exit_code", .int(Int(result.exitCode))),
      ("advice", .string(result.advice)), ("next_command", .string(result.nextCommand)),
      ("journal", .string(result.journalPath)),
      ("steps", .array(result.steps.map { stepJSON($0) })),
    ])
  }

  /// The journal's closing event.
  public static func finishedEvent(_ result: RunResult) -> JSONValue {
    .object([
      ("event", .string("run-finished")), ("run_id", .string(result.runID)),
      ("status", .string(result.status.rawValue)),
      ("finished_at", .string(Timestamp.iso(result.finishedAt))),
      ("duration_s", .number((result.duration * 1000).rounded() / 1000)),
      ("rollback_duration_s", .number(result.rollbackDuration.map { ($0 * 1000).rounded() / 1000 })),
      ("target_s", .number(result.target)),
      ("within_target", result.withinTarget.map { .bool($0) } ?? .null),
      ("exit_code", .int(Int(result.exitCode))),
      ("advice", .string(result.advice)), ("next_command", .string(result.nextCommand)),
    ])
  }

  /// The closing lines for a person: outcome and time against target.
  public static func summary(_ result: RunResult) -> String {
    let what = result.level.map { "level \($0)" } ?? "scenario \(result.scenario ?? "")"
    let time = duration(result.duration)
    let target = result.target.map { Quantity.format(seconds: $0) }
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
    case .aborted where result.level == nil && result.scenario == nil:
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
