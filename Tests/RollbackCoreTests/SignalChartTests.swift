import Foundation
import RollbackCore
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// A runbook with two rules on error_rate, one on p95 and one on a percent-unit pool.
private func chartRunbook() throws -> Runbook {
  let source = """
    version: 1
    name: chart
    environments:
      production:
        prometheus:
          url: http://127.0.0.1:9090
    signals:
      error_rate:
        prometheus: errors
        unit: ratio
      p95:
        prometheus: p95
        unit: seconds
      pool:
        prometheus: pool
        unit: percent
    decision:
      - severity: critical
        any: ["error_rate > 5%"]
        action: {level: 3}
      - severity: high
        any: ["error_rate > 1%", "p95 > 2s"]
        action: pause
      - severity: medium
        all: ["pool > 90%"]
        action: monitor
    levels:
      3:
        name: Full rollback
        target: 5m
        steps:
          - check: [error_rate]
    """
  let result = RunbookLoader.load(source: source, file: "chart.yaml")
  let problems = result.errors.map(\.description).joined(separator: "\n")
  return try #require(result.runbook, "\(problems)")
}

@Suite("report --chart: the SVG of the decision signals")
struct SignalChartTests {
  static let start = Date(timeIntervalSince1970: 1_764_625_500)  // 2025-12-01T21:45:00Z

  /// A chart of the runbook's decision signals: error_rate with `count` points, p95 with none.
  static func chart(_ runbook: Runbook, count: Int) -> SignalChart {
    let points = (0..<count).map {
      SignalChart.Point(time: start.addingTimeInterval(Double($0) * 5), value: 0.08 - Double($0) * 0.001)
    }
    let panels = SignalChart.decisionSignals(runbook.decision).compactMap { name -> SignalChart.Panel? in
      guard let signal = runbook.signals.first(where: { $0.name == name }) else { return nil }
      let thresholds = SignalChart.thresholds(for: name, unit: signal.unit, rules: runbook.decision)
      return name == "error_rate"
        ? SignalChart.Panel(signal: name, unit: signal.unit, points: points, thresholds: thresholds)
        : SignalChart.Panel(
          signal: name, unit: signal.unit, points: [], thresholds: thresholds,
          noData: "connection refused at http://127.0.0.1:1 <down> & \"gone\"")
    }
    return SignalChart(
      title: "chart level 3 on <prod> & \"live\" — run 20251201T214500Z-abcd",
      start: start.addingTimeInterval(-30), end: start.addingTimeInterval(Double(count) * 5 + 30),
      panels: panels,
      steps: [
        SignalChart.Marker(time: start.addingTimeInterval(10), label: "disable-flag"),
        SignalChart.Marker(time: start.addingTimeInterval(20), label: "wait<&>'ok'"),
      ],
      deadline: start.addingTimeInterval(100), finish: start.addingTimeInterval(Double(count) * 5))
  }

  static func elements(_ root: XMLNode, _ xpath: String) throws -> [XMLElement] {
    try root.nodes(forXPath: xpath).compactMap { $0 as? XMLElement }
  }

  @Test("well-formed XML: one panel per decision signal, the points, thresholds, markers and escaped text")
  func structure() throws {
    let runbook = try chartRunbook()
    let svg = Self.chart(runbook, count: 40).svg()
    let document = try XMLDocument(data: Data(svg.utf8), options: [])
    let root = try #require(document.rootElement())
    #expect(root.name == "svg")

    let panels = try Self.elements(root, "//*[local-name()='g'][@class='panel']")
    #expect(
      panels.compactMap { $0.value(of: "data-signal") } == [
        "error_rate", "p95", "pool",
      ])

    let series = try Self.elements(root, "//*[local-name()='polyline'][@class='series']")
    #expect(series.count == 1)
    #expect(series.first?.value(of: "data-signal") == "error_rate")
    let coordinates = (series.first?.value(of: "points") ?? "").split(separator: " ")
    #expect(coordinates.count == 40)
    // Each point is inside the plot: x within the width, y within the panel; values fall, so y grows.
    let ys = coordinates.compactMap { $0.split(separator: ",").last.flatMap { Double($0) } }
    #expect(ys.count == 40)
    #expect(zip(ys, ys.dropFirst()).allSatisfy { $0 < $1 })

    // error_rate: 1 % high and 5 % critical (lowest first); p95: 2 s high; pool: 90 % medium.
    let thresholds = try Self.elements(root, "//*[local-name()='line'][@class='threshold']")
    #expect(
      thresholds.compactMap { $0.value(of: "data-severity") } == ["high", "critical", "high", "medium"])
    #expect(thresholds.allSatisfy { $0.value(of: "stroke-dasharray") != nil })
    let labelElements = try Self.elements(root, "//*[local-name()='text'][@class='threshold-label']")
    let labels = labelElements.compactMap(\.stringValue)
    #expect(
      labels == [
        "high: error_rate > 1%", "critical: error_rate > 5%", "high: p95 > 2s", "medium: pool > 90%",
      ])
    // The labels of error_rate's two lines (1 % and 5 %, close together) do not overlap.
    let labelYs = labelElements.prefix(2).compactMap { $0.value(of: "y").flatMap(Double.init) }
    #expect(labelYs.count == 2 && abs(labelYs[0] - labelYs[1]) >= 12)

    // Two steps in each of the three panels, and their labels once, escaped and read back intact.
    let markers = try Self.elements(root, "//*[local-name()='line'][@class='step-marker']")
    #expect(markers.count == 6)
    let stepLabels = try Self.elements(root, "//*[local-name()='text'][@class='step-label']").compactMap(
      \.stringValue)
    #expect(stepLabels == ["disable-flag", "wait<&>'ok'"])
    #expect(svg.contains("wait&lt;&amp;&gt;&apos;ok&apos;"))
    #expect(try Self.elements(root, "//*[local-name()='line'][@class='deadline']").count == 3)
    #expect(try Self.elements(root, "//*[local-name()='line'][@class='finish']").count == 3)
    let title = try Self.elements(root, "//*[local-name()='text'][@class='title']").first?.stringValue
    #expect(title == "chart level 3 on <prod> & \"live\" — run 20251201T214500Z-abcd")

    // The panels that could not be read say why.
    let noData = try Self.elements(root, "//*[local-name()='text'][@class='no-data']").compactMap(
      \.stringValue)
    #expect(noData.count == 2)
    #expect(noData.allSatisfy { $0 == "no data: connection refused at http://127.0.0.1:1 <down> & \"gone\"" })

    // Values with their unit: error_rate's axis in %, p95's in s, time as HH:MM:SS.
    let errorAxis = try Self.elements(panels[0], ".//*[local-name()='text'][@class='value-label']")
      .compactMap(
        \.stringValue)
    #expect(errorAxis.count >= 3 && errorAxis.allSatisfy { $0.hasSuffix(" %") })
    let p95Axis = try Self.elements(panels[1], ".//*[local-name()='text'][@class='value-label']").compactMap(
      \.stringValue)
    #expect(p95Axis.allSatisfy { $0.hasSuffix(" s") || $0.hasSuffix(" ms") })
    let times = try Self.elements(panels[0], ".//*[local-name()='text'][@class='time-label']").compactMap(
      \.stringValue)
    #expect(times.first == "21:44:30")
    #expect(times.allSatisfy { $0.wholeMatch(of: /\d\d:\d\d:\d\d/) != nil })
    // Round value ticks: error_rate's go by 2.5 % up to 10 % (values up to 8 %).
    #expect(errorAxis == ["0 %", "2.5 %", "5 %", "7.5 %", "10 %"])
  }

  @Test("a gap in the data splits the line; control characters in labels stay well-formed")
  func gapsAndControlCharacters() throws {
    let runbook = try chartRunbook()
    var chart = Self.chart(runbook, count: 10)
    chart.panels[0].points.removeSubrange(4..<7)
    chart.steps.append(SignalChart.Marker(time: Self.start, label: "bell\u{07}here"))
    let svg = chart.svg()
    let document = try XMLDocument(data: Data(svg.utf8), options: [])
    let root = try #require(document.rootElement())
    let series = try Self.elements(root, "//*[local-name()='polyline'][@class='series']")
    #expect(
      series.map { ($0.value(of: "points") ?? "").split(separator: " ").count } == [
        4, 3,
      ])
    let stepLabels = try Self.elements(root, "//*[local-name()='text'][@class='step-label']").compactMap(
      \.stringValue)
    #expect(stepLabels.last == "bell\u{FFFD}here")
    // The target deadline is after the window's end: not drawn at the edge, said in words there.
    #expect(try Self.elements(root, "//*[local-name()='line'][@class='deadline']").isEmpty)
    let deadline = try Self.elements(root, "//*[local-name()='text'][@class='deadline-label']").compactMap(
      \.stringValue)
    #expect(deadline == ["target 21:46:40 →", "target 21:46:40 →", "target 21:46:40 →"])
  }

  @Test(
    "the window opens at the assessment before the run, else 5 minutes before; step about 1/200, at least 1 s"
  )
  func window() {
    let start = Self.start
    let finish = start.addingTimeInterval(100)
    let assessed = start.addingTimeInterval(-60)
    let withAssessment = SignalChart.window(runStart: start, runEnd: finish, assessedAt: assessed)
    #expect(withAssessment.start == assessed.addingTimeInterval(-10))
    #expect(withAssessment.end == finish.addingTimeInterval(10))
    #expect(withAssessment.step == 1)
    let without = SignalChart.window(runStart: start, runEnd: finish, assessedAt: nil)
    #expect(without.start == start.addingTimeInterval(-300 - 20))
    #expect(without.end == finish.addingTimeInterval(20))
    #expect(without.step == 2)
    // An assessment after the start is not the one before the run.
    let later = SignalChart.window(runStart: start, runEnd: finish, assessedAt: start.addingTimeInterval(5))
    #expect(later.start == without.start)
  }
}

extension XMLElement {
  /// An attribute's value (FoundationXML's `attribute(forName:)` misses them in the SVG namespace).
  fileprivate func value(of name: String) -> String? {
    attributes?.first { $0.name == name || $0.localName == name }?.stringValue
  }
}
