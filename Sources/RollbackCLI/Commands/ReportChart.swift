import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `rollback report --chart FILE.svg`: the decision signals over the incident window, read
/// from Prometheus with range queries and drawn as SVG.
enum ReportChart {
  /// Checks before anything is printed that the chart can be written at `path`.
  static func checkDestination(_ path: String) throws {
    let directory = (path as NSString).deletingLastPathComponent
    var isDirectory: ObjCBool = false
    let folder = directory.isEmpty ? "." : directory
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue
    else {
      throw CLIError.usage("--chart \(path): the directory \(folder) does not exist")
    }
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
      throw CLIError.usage("--chart \(path) is a directory; give a file name such as chart.svg")
    }
  }

  /// The runbook the run was of: `--runbook` when given, else the file the journal recorded
  /// when it still exists, else the usual search.
  static func runbookOptions(_ options: RunbookOptions, report: RunReport) -> RunbookOptions {
    var chosen = options
    if chosen.runbook == nil, let recorded = report.runbookPath,
      FileManager.default.fileExists(atPath: recorded)
    {
      chosen.runbook = recorded
    }
    if chosen.env == nil, !report.environment.isEmpty { chosen.env = report.environment }
    return chosen
  }

  /// Builds the chart of the run and writes it at `path`.
  static func write(
    to path: String, report: RunReport, assessment: SavedAssessment?, options: RunbookOptions
  ) async throws {
    let chosen = runbookOptions(options, report: report)
    let loaded = try LoadedRunbook.load(chosen, printWarnings: false)
    let runbook = try loaded.runbook()
    let processEnvironment = ProcessInfo.processInfo.environment
    let resolver = try makeResolver(runbook, options: chosen, overrides: [:], resolveSecrets: true)
    let chart = await build(
      report: report, assessment: assessment, resolver: resolver, processEnvironment: processEnvironment)
    do {
      try Data(chart.svg().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw CLIError.usage("cannot write the chart to \(path): \(error.localizedDescription)")
    }
  }

  /// The chart of a run: one panel per Prometheus signal the decision rules name.
  static func build(
    report: RunReport, assessment: SavedAssessment?, resolver: Resolver, processEnvironment: [String: String]
  ) async -> SignalChart {
    let runStart = Timestamp.parse(report.startedAt) ?? Date()
    let finish = report.finishedAt.flatMap(Timestamp.parse)
    func end(_ step: RunReport.StepEntry) -> Date? {
      step.startedAt.flatMap(Timestamp.parse).map { $0.addingTimeInterval(step.duration) }
    }
    let lastWait = report.steps.filter { $0.kind == "wait" }.compactMap(end).max()
    let lastStep = report.steps.compactMap(end).max()
    let runEnd = [lastWait, finish].compactMap { $0 }.max() ?? lastStep ?? runStart.addingTimeInterval(60)
    let assessedAt = assessment?.assessedAt.flatMap(Timestamp.parse)
    let window = SignalChart.window(runStart: runStart, runEnd: runEnd, assessedAt: assessedAt)

    let runbook = resolver.runbook
    let signals = SignalChart.decisionSignals(runbook.decision).compactMap { name in
      runbook.signals.first { $0.name == name }
    }.filter { if case .prometheus = $0.source { return true } else { return false } }

    var panels = [SignalChart.Panel?](repeating: nil, count: signals.count)
    await withTaskGroup(of: (Int, SignalChart.Panel).self) { group in
      for (index, signal) in signals.enumerated() {
        group.addTask {
          (
            index,
            await panel(signal, window: window, resolver: resolver, processEnvironment: processEnvironment)
          )
        }
      }
      for await (index, panel) in group { panels[index] = panel }
    }
    let steps = report.steps.compactMap { step in
      step.startedAt.flatMap(Timestamp.parse).map { SignalChart.Marker(time: $0, label: step.id) }
    }
    return SignalChart(
      title: "\(report.runbook) \(report.what) on \(report.environment) — run \(report.runID)",
      start: window.start, end: window.end, panels: panels.compactMap { $0 }, steps: steps,
      deadline: report.targetSeconds.map { runStart.addingTimeInterval($0) }, finish: finish)
  }

  /// One signal's panel: its values over the window, or why there are none.
  static func panel(
    _ signal: Signal, window: (start: Date, end: Date, step: Double), resolver: Resolver,
    processEnvironment: [String: String]
  ) async -> SignalChart.Panel {
    let thresholds = SignalChart.thresholds(
      for: signal.name, unit: signal.unit, rules: resolver.runbook.decision)
    func noData(_ reason: String) -> SignalChart.Panel {
      SignalChart.Panel(
        signal: signal.name, unit: signal.unit, points: [], thresholds: thresholds, noData: reason)
    }
    guard case .prometheus(let template) = signal.source else { return noData("not a Prometheus signal") }
    let (client, query): (PrometheusClient, String)
    switch PrometheusSignalQuery.make(template, resolver: resolver, processEnvironment: processEnvironment) {
    case .success(let made): (client, query) = (made.client, made.query)
    case .failure(let reason): return noData(reason.description)
    }
    do {
      let series = try await client.queryRange(query, start: window.start, end: window.end, step: window.step)
      guard !series.isEmpty else { return noData("Prometheus returned no series for the window") }
      let reduction = PrometheusReduction(rawValue: signal.reduce.rawValue) ?? .max
      let points = PrometheusRangeSeries.combined(series, by: reduction).map {
        SignalChart.Point(time: Date(timeIntervalSince1970: $0.timestamp), value: $0.value)
      }
      guard !points.isEmpty else { return noData("no finite value in the window") }
      return SignalChart.Panel(signal: signal.name, unit: signal.unit, points: points, thresholds: thresholds)
    } catch {
      return noData(error.description)
    }
  }
}
