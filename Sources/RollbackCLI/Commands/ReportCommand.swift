import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `rollback report`: the timeline of a run for the post-mortem.
struct ReportCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "The timeline of a run for the post-mortem, with the message to paste in the incident channel.",
    usage: "rollback report [<run-id>] [--format <format>] [--message] [<options>]",
    discussion: """
      Reads STATE/runs/RUN_ID.jsonl and the assessment saved before the run in STATE/assessments/. \
      Markdown ends with the post-mortem headings (Impact, Root cause, Lessons learned, Action items).
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case markdown, json
  }

  @OptionGroup var options: RunbookOptions

  @Argument(
    help: ArgumentHelp(
      "The run (default: the latest run of this runbook that is not a dry run).", valueName: "run-id"),
    completion: Completions.runIDs)
  var runID: String?

  @Option(name: .long, help: "markdown or json (--json is the same as --format json).")
  var format: Format = .markdown

  @Flag(name: .long, help: "Print only the communication message, ready to paste.")
  var message = false

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Also draw the decision signals over the incident window (from Prometheus) as an SVG file.",
      valueName: "file.svg"))
  var chart: String?

  func run() async throws {
    if let chart { try ReportChart.checkDestination(chart) }
    let state = try RunStore.state(options)
    guard let id = try runID ?? RunStore.latestRealRun(state: state, options: options) else {
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
    if let chart {
      try await ReportChart.write(to: chart, report: report, assessment: assessment, options: options)
      Console.error("Chart written to \(chart)")
    }
  }
}
