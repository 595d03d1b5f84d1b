import Foundation
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// `report --chart` on the real harness: a real run, its signals read back from Prometheus.
extension SharedAppTests {
  @Suite("report --chart on real Prometheus")
  struct ReportChartTests {
    static let atom = "runbooks/frontend-backend-migration.yaml"

    static func elements(_ root: XMLNode, _ xpath: String) throws -> [XMLElement] {
      try root.nodes(forXPath: xpath).compactMap { $0 as? XMLElement }
    }

    /// An attribute's value (FoundationXML's `attribute(forName:)` misses them in the SVG namespace).
    static func value(_ element: XMLElement, _ name: String) -> String? {
      element.attributes?.first { $0.name == name || $0.localName == name }?.stringValue
    }

    @Test(
      "after assess and execute, the chart has error_rate's real values, the thresholds and steps, and renders"
    )
    func chartOfRealRun() throws {
      let harness = try Harness.current()
      try harness.resetApp()
      harness.waitForIncident()
      let state = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(state) }
      let common = ["--runbook", Self.atom, "--env", "local", "--state-dir", state.path]
      let assessment = try CLI.run(["assess"] + common, environment: harness.runbookEnvironment)
      #expect(assessment.status == 13, "\(assessment.stdout)\(assessment.stderr)")
      let execution = try CLI.run(
        ["execute", "--level", "3", "--yes"] + common, environment: harness.runbookEnvironment)
      #expect(execution.status == 0, "\(execution.stdout)\(execution.stderr)")

      let chart = state.appendingPathComponent("incident.svg").path
      let report = try CLI.run(
        ["report", "--chart", chart] + common, environment: harness.runbookEnvironment)
      #expect(report.status == 0, "\(report.stderr)")
      // The Markdown report is printed as without --chart.
      #expect(report.stdout.contains("## Timeline"))
      #expect(report.stderr.contains("Chart written to \(chart)"))

      let document = try XMLDocument(contentsOf: URL(fileURLWithPath: chart), options: [])
      let root = try #require(document.rootElement())
      let panels = try Self.elements(root, "//*[local-name()='g'][@class='panel']")
      let names = panels.compactMap { Self.value($0, "data-signal") }
      #expect(names.first == "error_rate")
      #expect(Set(names).isSuperset(of: ["error_rate", "p95_latency"]))
      let errorPanel = try #require(panels.first)
      let lines = try Self.elements(errorPanel, ".//*[local-name()='polyline'][@class='series']")
      let points = lines.flatMap { (Self.value($0, "points") ?? "").split(separator: " ") }
      // Real evaluations across the window (a point about every window/200 seconds, at least 1 s).
      #expect(points.count >= 10, "\(points.count) points")
      let coordinates = points.map { $0.split(separator: ",").compactMap { Double($0) } }
      #expect(coordinates.allSatisfy { $0.count == 2 && $0[0] >= 0 && $0[0] <= 960 })
      // The incident's error ratio was over 5 %: some points are above the critical threshold (smaller y).
      let thresholds = try Self.elements(errorPanel, ".//*[local-name()='line'][@class='threshold']")
      let critical = try #require(thresholds.first { Self.value($0, "data-severity") == "critical" })
      let criticalY = try #require(Double(Self.value(critical, "y1") ?? ""))
      #expect(coordinates.contains { $0.count == 2 && $0[1] < criticalY })
      let labels = try Self.elements(errorPanel, ".//*[local-name()='text'][@class='threshold-label']")
        .compactMap(\.stringValue)
      #expect(labels.contains("critical: error_rate > 5%"))
      #expect(labels.contains("high: error_rate > 1%"))
      // One marker per level 3 step, and the finish and target deadline.
      let markers = try Self.elements(errorPanel, ".//*[local-name()='line'][@class='step-marker']")
      #expect(markers.compactMap { Self.value($0, "data-step") } == SharedAppTests.ExecuteTests.level3Steps)
      #expect(try Self.elements(errorPanel, ".//*[local-name()='line'][@class='finish']").count == 1)
      // The target (5 minutes) ends after the window: said at its right edge.
      let deadline = try Self.elements(errorPanel, ".//*[local-name()='text'][@class='deadline-label']")
      #expect(deadline.first?.stringValue?.hasPrefix("target ") == true)
      #expect(deadline.first?.stringValue?.hasSuffix(" →") == true)

      // It renders: rsvg-convert makes a PNG of it.
      let png = state.appendingPathComponent("incident.png").path
      let converted = try Shell.run(["rsvg-convert", "-o", png, chart])
      #expect(converted.status == 0, "\(converted.stderr)")
      let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
      #expect(bytes.count > 1000)
      #expect(bytes.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
      if let keep = ProcessInfo.processInfo.environment["ROLLBACK_TEST_KEEP_CHART"], !keep.isEmpty {
        try? FileManager.default.removeItem(atPath: keep + ".svg")
        try? FileManager.default.removeItem(atPath: keep + ".png")
        try? FileManager.default.copyItem(atPath: chart, toPath: keep + ".svg")
        try? FileManager.default.copyItem(atPath: png, toPath: keep + ".png")
      }

      // Prometheus unreachable: every panel says why, the report is still printed, the command succeeds.
      var down = harness.runbookEnvironment
      down["ROLLBACK_PROM_URL"] = "http://127.0.0.1:1"
      let offline = state.appendingPathComponent("offline.svg").path
      let again = try CLI.run(["report", "--format", "json", "--chart", offline] + common, environment: down)
      #expect(again.status == 0, "\(again.stderr)")
      #expect((try? JSONSerialization.jsonObject(with: Data(again.stdout.utf8))) is [String: Any])
      let offlineRoot = try #require(
        try XMLDocument(contentsOf: URL(fileURLWithPath: offline), options: []).rootElement())
      let noData = try Self.elements(offlineRoot, "//*[local-name()='text'][@class='no-data']").compactMap(
        \.stringValue)
      #expect(noData.count == names.count)
      #expect(noData.allSatisfy { $0.hasPrefix("no data: connection refused") }, "\(noData)")
      #expect(try Self.elements(offlineRoot, "//*[local-name()='polyline']").isEmpty)
      if let keep = ProcessInfo.processInfo.environment["ROLLBACK_TEST_KEEP_CHART"], !keep.isEmpty {
        try? FileManager.default.removeItem(atPath: keep + "-offline.svg")
        try? FileManager.default.copyItem(atPath: offline, toPath: keep + "-offline.svg")
      }
    }

    @Test("--chart into a directory that does not exist is refused before anything is printed")
    func chartDestinationMissing() throws {
      let state = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(state) }
      let chart = state.appendingPathComponent("missing/incident.svg").path
      let result = try CLI.run(["report", "--state-dir", state.path, "--chart", chart])
      #expect(result.status == 2)
      #expect(result.stdout.isEmpty)
      #expect(result.stderr.contains("the directory \(state.path)/missing does not exist"))
    }
  }
}
