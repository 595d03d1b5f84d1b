import Foundation
import Testing

extension OnTheTestFleet {
  @Suite("execute --hosts on the test fleet", .serialized)
  struct FleetHostLimitTests: FleetSuite {
    let workspace: FleetWorkspace

    init() throws { workspace = try FleetWorkspace() }

    @Test(
      "execute --hosts host-2 flips only host-2's files and restarts only its service; the journal keeps the limit"
    )
    func limitToOneHost() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      let chosen = fleet.hosts[1]
      let before = try fleet.snapshot()
      var spawns: [String: Int] = [:]
      for name in fleet.hosts { spawns[name] = try fleet.spawns(name) }
      let result = try CLI.run(["execute", "--level", "3", "--yes", "--hosts", chosen, "--json"] + common())
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      let text = String(decoding: try envLocal(chosen), as: UTF8.self)
      #expect(text.contains("NEXT_PUBLIC_USE_BACKEND_API=false"), "\(text)")
      #expect(try fleet.spawns(chosen) == (spawns[chosen] ?? 0) + 1)
      for name in fleet.hosts where name != chosen {
        for file in [".env.local", ".env"] {
          let path = "\(fleet.localApp(name))/\(file)"
          #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before[path], "\(path) changed")
        }
        #expect(try fleet.spawns(name) == spawns[name], "\(name) was restarted")
      }
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
      let steps = try #require(object["steps"] as? [[String: Any]])
      let hosts = try #require(steps.first?["hosts"] as? [[String: Any]])
      #expect(hosts.compactMap { $0["name"] as? String } == [chosen])
      let runID = try #require(object["run_id"] as? String)
      let journal = try String(
        contentsOf: directory.appendingPathComponent("state/runs/\(runID).jsonl"), encoding: .utf8)
      let start = try #require(journal.split(separator: "\n").first)
      let event = try #require(
        try JSONSerialization.jsonObject(with: Data(start.utf8)) as? [String: Any])
      #expect(event["host_limit"] as? String == chosen)
      #expect(event["limited_hosts"] as? [String] == [chosen])
    }

    @Test("resume of a run limited with --hosts goes on with the same hosts only")
    func resumeKeepsTheLimit() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      let (first, second, third) = (fleet.hosts[0], fleet.hosts[1], fleet.hosts[2])
      let firstBefore = try envLocal(first)
      let firstSpawns = try fleet.spawns(first)
      // The canary (host-2) cannot be reached: the run stops with host-3 untouched.
      try fleet.ctl("stop-sshd", second)
      let failed = try CLI.run(
        ["execute", "--level", "3", "--yes", "--hosts", "\(second),\(third)", "--json"] + common())
      _ = try? fleet.ctl("start-sshd", second)
      #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
      #expect((failed.stdout + failed.stderr).contains("failed: \(second); untouched: \(third)"))
      // The command it offers to start again from the failed step keeps the limit.
      #expect(
        (failed.stdout + failed.stderr).contains("--level 3 --hosts \(second),\(third) --from roll"),
        "\(failed.stdout)\(failed.stderr)")
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(failed.stdout.utf8)) as? [String: Any])
      let runID = try #require(object["run_id"] as? String)

      let resumed = try CLI.run(["resume", runID, "--yes"] + common())
      #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
      for name in [second, third] {
        #expect(
          String(decoding: try envLocal(name), as: UTF8.self).contains("NEXT_PUBLIC_USE_BACKEND_API=false"),
          "\(name)")
      }
      #expect(try envLocal(first) == firstBefore, "\(first) is not in --hosts and was changed")
      #expect(try fleet.spawns(first) == firstSpawns, "\(first) is not in --hosts and was restarted")
    }

    @Test("execute --hosts with a pattern that matches nothing exits 2 before anything runs")
    func unknownPatternRefused() throws {
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      let before = try fleet.snapshot()
      let result = try CLI.run(["execute", "--level", "3", "--yes", "--hosts", "hots-*"] + common())
      #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
      #expect(
        result.stderr.contains("error: --hosts pattern 'hots-*' matches no host or group"), "\(result.stderr)"
      )
      #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("state/runs").path))
      #expect(try fleet.snapshot() == before)
    }
  }
}
