import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// Reads runs back from the state directory.
enum RunStore {
  /// The run's report, from its journal.
  static func report(state: String, runID: String) throws -> RunReport {
    let events: [[String: Any]]
    do {
      events = try JournalReader.events(at: JournalReader.path(stateDirectory: state, runID: runID))
    } catch {
      throw CLIError.usage("no run \(runID) in \(state)/runs")
    }
    guard let report = RunReport.parse(events) else {
      throw CLIError.usage("the journal of run \(runID) has no run-started event")
    }
    return report
  }

  /// The latest assessment saved in the state directory at or before `time` (ISO), if any.
  static func assessment(state: String, before time: String) -> [String: Any]? {
    let directory = (state as NSString).appendingPathComponent("assessments")
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
      $0.hasSuffix(".json")
    }
    let limit = Timestamp.parse(time) ?? Date.distantFuture
    var best: (Date, [String: Any])?
    for name in names {
      let path = (directory as NSString).appendingPathComponent(name)
      guard let data = FileManager.default.contents(atPath: path),
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
        let at = (object["assessed_at"] as? String).flatMap(Timestamp.parse), at <= limit
      else { continue }
      if best == nil || at > (best?.0 ?? .distantPast) { best = (at, object) }
    }
    return best?.1
  }
}

/// `rollback report`: the timeline of a run for the post-mortem.
struct ReportCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "The timeline of a run for the post-mortem, with the message to paste in the incident channel.",
    discussion: """
      Reads STATE/runs/RUN_ID.jsonl and the assessment saved before the run in STATE/assessments/.
      Markdown ends with the post-mortem headings (Impact, Root cause, Lessons learned, Action items).
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case markdown, json
  }

  @OptionGroup var options: RunbookOptions

  @Argument(help: ArgumentHelp("The run (default: the latest).", valueName: "run-id"))
  var runID: String?

  @Option(name: .long, help: "markdown or json (--json is the same as --format json).")
  var format: Format = .markdown

  @Flag(name: .long, help: "Print only the communication message, ready to paste.")
  var message = false

  func run() async throws {
    let path = try options.runbookPath()
    let state = stateDirectory(options, runbookPath: path)
    guard let id = runID ?? JournalReader.runIDs(stateDirectory: state).last else {
      throw CLIError.usage("no runs in \(state)/runs")
    }
    let report = try RunStore.report(state: state, runID: id)
    let assessment = RunStore.assessment(state: state, before: report.startedAt)
    if message {
      Console.output(ReportRendering.communication(report, assessment: assessment))
    } else if options.json || format == .json {
      Console.output(ReportRendering.json(report, assessment: assessment).pretty())
    } else {
      FileHandle.standardOutput.write(Data(ReportRendering.markdown(report, assessment: assessment).utf8))
    }
  }
}

/// `rollback history`: past runs.
struct HistoryCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "history",
    abstract: "Past runs: id, level or scenario, environment, outcome, duration, target.")

  @OptionGroup var options: RunbookOptions

  @Option(name: .long, help: "Show at most this many runs, newest first (default: all).")
  var limit: Int?

  func run() async throws {
    let path = try options.runbookPath()
    let state = stateDirectory(options, runbookPath: path)
    var ids = JournalReader.runIDs(stateDirectory: state).reversed().map { $0 }
    if let limit { ids = Array(ids.prefix(max(0, limit))) }
    let reports = ids.compactMap { try? RunStore.report(state: state, runID: $0) }
    if options.json {
      let rows = reports.map { report -> JSONValue in
        .object([
          ("run_id", .string(report.runID)), ("command", .string(report.command)),
          ("runbook", .string(report.runbook)),
          ("environment", .string(report.environment)), ("level", .int(report.level)),
          ("scenario", .string(report.scenario)), ("dry_run", .bool(report.dryRun)),
          ("status", .string(report.status)),
          ("started_at", .string(report.startedAt)), ("duration_s", .number(report.duration)),
          ("target_s", .number(report.target)),
          ("within_target", report.withinTarget.map { .bool($0) } ?? .null),
        ])
      }
      Console.output(JSONValue.array(rows).pretty())
      return
    }
    if reports.isEmpty {
      Console.output("no runs in \(state)/runs")
      return
    }
    let header = ["RUN", "WHAT", "ENV", "OUTCOME", "DURATION", "TARGET"]
    let rows = reports.map { report -> [String] in
      let target =
        report.target.map {
          Quantity.format(seconds: $0)
            + (report.withinTarget == true ? " ✓" : (report.withinTarget == false ? " ✗" : ""))
        } ?? "—"
      let outcome = report.dryRun && report.status == "dry-run" ? "dry-run" : report.status
      return [
        report.runID, report.what, report.environment, outcome, ReportRendering.seconds(report.duration),
        target,
      ]
    }
    var widths = header.map(\.count)
    for row in rows {
      for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    func line(_ cells: [String]) -> String {
      cells.enumerated().map { $0.element.rightPadded(to: widths[$0.offset]) }.joined(separator: "  ")
        .trimmingCharacters(in: .whitespaces)
    }
    Console.output(line(header))
    for row in rows { Console.output(line(row)) }
  }
}
