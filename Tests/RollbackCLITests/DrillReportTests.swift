import Foundation
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// Drills, reports and history on the real harness.
extension SharedAppTests {
  @Suite("drill, report and history on real services")
  struct DrillReportTests {
    static let atom = "runbooks/frontend-backend-migration.yaml"

    func testCases(_ path: String) throws -> [XMLElement] {
      let document = try XMLDocument(contentsOf: URL(fileURLWithPath: path))
      return try document.nodes(forXPath: "//testcase").compactMap { $0 as? XMLElement }
    }

    @Test("drill of level 3 passes and writes one JUnit test case per step, with times")
    func drillWritesJUnit() throws {
      let harness = try Harness.current()
      try harness.resetApp()
      let state = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(state) }
      let junit = state.appendingPathComponent("junit.xml").path
      let result = try CLI.run(
        [
          "drill", "--runbook", Self.atom, "--env", "local", "--level", "3", "--yes", "--state-dir",
          state.path, "--junit", junit,
        ],
        environment: harness.runbookEnvironment)
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      #expect(result.stdout.contains("Drill of level 3 passed: rolled back in "))
      let cases = try testCases(junit)
      let names = cases.compactMap { $0.attribute(forName: "name")?.stringValue }
      // The flag put forward, the service restarted with it, the level's 8 steps, verification again, the target.
      #expect(names.prefix(2) == ["drill.forward-backend-api", "drill.restart-frontend"])
      #expect(Array(names[2..<10]) == SharedAppTests.ExecuteTests.level3Steps)
      #expect(
        names.suffix(3) == [
          "drill.verify-again.verify-flag-served", "drill.health-after-frontend", "within-target",
        ])
      for element in cases {
        let time = Double(element.attribute(forName: "time")?.stringValue ?? "")
        #expect(time != nil && (time ?? -1) >= 0)
        #expect(element.elements(forName: "failure").isEmpty)
      }
      let suite = try #require(
        try XMLDocument(contentsOf: URL(fileURLWithPath: junit)).nodes(forXPath: "//testsuite").first
          as? XMLElement)
      #expect(suite.attribute(forName: "tests")?.stringValue == String(cases.count))
      #expect(suite.attribute(forName: "failures")?.stringValue == "0")
      #expect(try harness.health()["backend_api"] as? String == "false")
    }

    @Test("a drill whose verification fails exits 1 and reports the failure in JUnit")
    func drillFailureInJUnit() throws {
      let harness = try Harness.current()
      try harness.resetApp()
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      let runbook = """
        version: 1
        name: drill-fails
        environments:
          local:
            vars: {app_dir: "\(harness.appDirectory)", conf: "\(harness.supervisorConf)", url: "\(harness.appURL)"}
        flags:
          api:
            key: NEXT_PUBLIC_USE_BACKEND_API
            files: ["${app_dir}/.env.local", "${app_dir}/.env.production", "${app_dir}/.env"]
            service: frontend
        services:
          frontend:
            restart: [supervisorctl, -c, "${conf}", restart, frontend]
            health: {http: {url: "${url}/api/health"}, within: 10s, interval: 500ms}
        levels:
          3:
            target: 5m
            steps:
              - {id: off, flag: {name: api, set: disabled}}
              - {id: restart, restart: frontend}
              - {id: verify, http: {url: "${url}/api/health", expect_body: "this text is never served"}}
              - {id: announce, notify: "done"}
        """
      try runbook.write(
        to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
      let junit = directory.appendingPathComponent("junit.xml").path
      let result = try CLI.run(["drill", "--level", "3", "--yes", "--junit", junit], in: directory)
      #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
      let cases = try testCases(junit)
      let failed = cases.filter { !$0.elements(forName: "failure").isEmpty }.compactMap {
        $0.attribute(forName: "name")?.stringValue
      }
      #expect(
        failed == [
          "verify", "announce", "drill.verify-again.verify", "drill.health-after-frontend", "within-target",
        ])
      let verify = try #require(cases.first { $0.attribute(forName: "name")?.stringValue == "verify" })
      let message =
        verify.elements(forName: "failure").first?.attribute(forName: "message")?.stringValue ?? ""
      #expect(message.contains("does not contain \"this text is never served\""))
      // The failure carries the step's output tail: the body the service answered.
      #expect(
        verify.elements(forName: "failure").first?.stringValue?.contains("\"backend_api\":\"false\"") == true)
    }

    @Test("report after assess and execute: the timeline matches the journal, with the assessment before it")
    func reportMatchesJournal() throws {
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

      let report = try CLI.run(["report", "--format", "json"] + common)
      #expect(report.status == 0, "\(report.stderr)")
      let json = try #require(
        try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
      let journal = try journalEvents(try #require(journals(in: state).first))
      let finished = journal.filter { $0["event"] as? String == "step-finished" }
      let steps = try #require(json["steps"] as? [[String: Any]])
      #expect(steps.compactMap { $0["id"] as? String } == finished.compactMap { $0["id"] as? String })
      for (step, event) in zip(steps, finished) {
        #expect(step["status"] as? String == event["status"] as? String)
        #expect(step["started_at"] as? String == event["started_at"] as? String)
        #expect(step["duration_s"] as? Double == event["duration_s"] as? Double)
      }
      #expect(json["status"] as? String == "succeeded")
      #expect(json["within_target"] as? Bool == true)
      let assessed = try #require(json["assessment"] as? [String: Any])
      #expect(assessed["severity"] as? String == "critical")
      let flag = try #require(steps.first { $0["id"] as? String == "disable-flag" })
      let changes = try #require(flag["flag_changes"] as? [[String: Any]])
      #expect(changes.count == 3)
      #expect(changes.allSatisfy { $0["before"] as? String == "true" && $0["after"] as? String == "false" })
      #expect(
        (json["communication"] as? String)?.hasPrefix(
          "🚨 ROLLBACK COMPLETE: frontend-backend-migration level 3") == true)

      let markdown = try CLI.run(["report"] + common)
      #expect(markdown.status == 0)
      for id in SharedAppTests.ExecuteTests.level3Steps {
        #expect(markdown.stdout.contains("| \(id) |"), "\(id)")
      }
      for heading in [
        "## Timeline", "## Impact", "## Root cause", "## Lessons learned", "## Action items",
        "### Flag values",
      ] {
        #expect(markdown.stdout.contains(heading), "\(heading)")
      }
      #expect(markdown.stdout.contains("Severity **critical**"))

      let history = try CLI.run(["history", "--json"] + common)
      let rows = try #require(
        try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]])
      #expect(rows.count == 1)
      #expect(rows.first?["status"] as? String == "succeeded")
      #expect(rows.first?["level"] as? Int == 3)
      let table = try CLI.run(["history"] + common)
      #expect(table.stdout.contains("level 3  local  succeeded"))

      // With --state-dir, history and report read the journals without looking for a runbook:
      // here, a directory whose ./runbooks holds several.
      let elsewhere = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(elsewhere) }
      let runbooks = elsewhere.appendingPathComponent("runbooks")
      try FileManager.default.createDirectory(at: runbooks, withIntermediateDirectories: true)
      for name in ["a.yaml", "b.yaml"] {
        try Data("version: 1\n".utf8).write(to: runbooks.appendingPathComponent(name))
      }
      let ambiguous = try CLI.run(["history"], in: elsewhere)
      #expect(ambiguous.status == 2 && ambiguous.stderr.contains("several runbooks"), "\(ambiguous.stderr)")
      for arguments in [["history"], ["history", "--json"], ["report", "--format", "json"]] {
        let withRunbook = try CLI.run(arguments + common)
        let stateOnly = try CLI.run(arguments + ["--state-dir", state.path], in: elsewhere)
        #expect(stateOnly.status == 0, "\(arguments): \(stateOnly.stderr)")
        #expect(stateOnly.stdout == withRunbook.stdout, "\(arguments)")
      }
    }
  }
}
