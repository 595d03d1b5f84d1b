import Foundation
import Testing

extension OnTheTestFleet {
  @Suite("history and report of a fleet run killed before its end", .serialized)
  struct FleetKilledHistoryTests {
    @Test(
      "kill -9 mid-batch: history (text and --json) and report name the hosts from the per-host events"
    )
    func killedRunShowsItsHosts() throws {
      let fleet = try CLIFleet.current(count: 5)
      guard fleet.hosts.count == 5 else {
        Issue.record("this test needs a 5-host fleet: with-fleet -n 5 --crlf-host 3 (make test starts one)")
        return
      }
      try fleet.flagOn()
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let directory = try CLI.temporaryDirectory()
      let runbook = directory.appendingPathComponent("rollback.yaml")
      let slow = "\n            - {id: settle, run: [sleep, \"3\"]}"
      try fleet.runbook(batches: "[1, \"100%\"]", extraStep: slow).write(
        to: runbook, atomically: true, encoding: .utf8)
      let common = ["--runbook", runbook.path, "--state-dir", directory.appendingPathComponent("state").path]
      var spawns: [String: Int] = [:]
      for name in fleet.hosts { spawns[name] = try fleet.spawns(name) }
      let process = Process()
      process.executableURL = URL(fileURLWithPath: CLI.binary)
      process.arguments = ["execute", "--level", "3", "--yes"] + common
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      // Batch 2 (host-2 … host-5) has restarted its services and sleeps: kill the run there.
      let deadline = Date().addingTimeInterval(60)
      while Date() < deadline {
        if fleet.hosts.dropFirst().allSatisfy({ (try? fleet.spawns($0)) == (spawns[$0] ?? 0) + 1 }) { break }
        Thread.sleep(forTimeInterval: 0.05)
      }
      Thread.sleep(forTimeInterval: 0.5)
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      let (first, rest) = (fleet.hosts[0], Array(fleet.hosts.dropFirst()))
      let expected =
        "touched: \(fleet.hosts.joined(separator: " ")); incomplete: \(rest.joined(separator: " "))"

      let history = try CLI.run(["history"] + common)
      #expect(history.status == 0, "\(history.stderr)")
      let lines = history.stdout.split(separator: "\n").map(String.init)
      #expect(lines.first?.hasSuffix("HOSTS") == true, "\(history.stdout)")
      let row = try #require(lines.dropFirst().first, "\(history.stdout)")
      #expect(row.contains(" incomplete ") && row.hasSuffix(expected), "\(history.stdout)")

      let historyJSON = try CLI.run(["history", "--json"] + common)
      let runs = try #require(
        try JSONSerialization.jsonObject(with: Data(historyJSON.stdout.utf8)) as? [[String: Any]])
      #expect(runs.first?["status"] as? String == "incomplete")
      let hosts = try #require(runs.first?["hosts"] as? [[String: String]], "\(historyJSON.stdout)")
      #expect(
        hosts == [["name": first, "status": "succeeded"]] + rest.map { ["name": $0, "status": "incomplete"] })

      let runID = try #require(runs.first?["run_id"] as? String)
      let report = try CLI.run(["report", runID] + common)
      #expect(report.status == 0, "\(report.stderr)")
      #expect(report.stdout.contains("| Hosts | \(expected) |"), "\(report.stdout)")
    }
  }
}
