import Foundation
import Testing

extension OnTheTestFleet {
  @Suite("history and report show a fleet run's hosts", .serialized)
  struct FleetHistoryReportTests {
    @Test("a run stopped by an unreachable host: history and report name touched, failed and untouched hosts")
    func hostsInHistoryAndReport() throws {
      let fleet = try CLIFleet.current()
      try fleet.flagOn()
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      let runbook = directory.appendingPathComponent("rollback.yaml")
      try fleet.runbook(batches: "[1, 2, \"100%\"]").write(to: runbook, atomically: true, encoding: .utf8)
      let common = ["--runbook", runbook.path, "--state-dir", directory.appendingPathComponent("state").path]
      let (first, second, third) = (fleet.hosts[0], fleet.hosts[1], fleet.hosts[2])
      try fleet.ctl("stop-sshd", second)
      let run = try CLI.run(["execute", "--level", "3", "--yes", "--json"] + common)
      _ = try? fleet.ctl("start-sshd", second)
      #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
      let runObject = try #require(
        try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
      let runID = try #require(runObject["run_id"] as? String)
      let expected = "touched: \(first); failed: \(second); untouched: \(third)"

      let history = try CLI.run(["history"] + common)
      #expect(history.status == 0, "\(history.stderr)")
      let lines = history.stdout.split(separator: "\n").map(String.init)
      #expect(lines.first?.hasSuffix("HOSTS") == true, "\(history.stdout)")
      #expect(lines.contains { $0.hasPrefix(runID) && $0.hasSuffix(expected) }, "\(history.stdout)")

      let historyJSON = try CLI.run(["history", "--json"] + common)
      let runs = try #require(
        try JSONSerialization.jsonObject(with: Data(historyJSON.stdout.utf8)) as? [[String: Any]])
      let hosts = try #require(runs.first?["hosts"] as? [[String: String]])
      #expect(
        hosts == [
          ["name": first, "status": "succeeded"], ["name": second, "status": "unreachable"],
          ["name": third, "status": "untouched"],
        ])

      let report = try CLI.run(["report", runID] + common)
      #expect(report.status == 0, "\(report.stderr)")
      #expect(report.stdout.contains("| Hosts | \(expected) |"), "\(report.stdout)")
      let reportJSON = try CLI.run(["report", runID, "--format", "json"] + common)
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(reportJSON.stdout.utf8)) as? [String: Any])
      #expect(object["hosts"] as? [[String: String]] == hosts)
    }

    @Test("runs without hosts keep history's columns and report's keys")
    func noHostsNoColumn() throws {
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      let state = directory.appendingPathComponent("state").path
      let run = try CLI.run([
        "execute", "--runbook", "runbooks/frontend-backend-migration.yaml", "--env", "staging", "--level",
        "3",
        "--dry-run", "--state-dir", state,
      ])
      #expect(run.status == 0 || run.status == 1, "\(run.stderr)")
      let history = try CLI.run(["history", "--state-dir", state])
      #expect(!history.stdout.contains("HOSTS"), "\(history.stdout)")
    }
  }
}
