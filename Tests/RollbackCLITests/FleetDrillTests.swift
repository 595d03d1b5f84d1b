import Foundation
import Testing

extension OnTheTestFleet {
  @Suite("drill of a fleet runbook on the test fleet", .serialized)
  struct FleetDrillTests {
    let fleet: CLIFleet
    let directory: URL
    let runbook: URL

    init() throws {
      fleet = try CLIFleet.current(count: 5)
      guard fleet.hosts.count == 5 else {
        Issue.record("these tests need a 5-host fleet: with-fleet -n 5 --crlf-host 3 (make test starts one)")
        throw CLIFleetMissing()
      }
      try fleet.flagOn()
      directory = try CLI.temporaryDirectory()
      runbook = directory.appendingPathComponent("rollback.yaml")
      try fleet.runbook(batches: "[1, \"100%\"]").write(to: runbook, atomically: true, encoding: .utf8)
    }

    var common: [String] {
      ["--runbook", runbook.path, "--state-dir", directory.appendingPathComponent("state").path]
    }

    func envLocal(_ name: String) throws -> String {
      String(
        decoding: try Data(contentsOf: URL(fileURLWithPath: "\(fleet.localApp(name))/.env.local")),
        as: UTF8.self)
    }

    /// The hosts of the step `id` in a run's `--json`.
    func hosts(of id: String, in object: [String: Any]) -> [String] {
      let steps = object["steps"] as? [[String: Any]] ?? []
      let step = steps.first { $0["id"] as? String == id }
      return (step?["hosts"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    @Test(
      "drill of a rolling level acts on every host: flag forward, restart, the level, health on each host")
    func drillActsOnEveryHost() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      var spawns: [String: Int] = [:]
      for name in fleet.hosts { spawns[name] = try fleet.spawns(name) }
      let result = try CLI.run(["drill", "--level", "3", "--yes", "--json"] + common)
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      for name in fleet.hosts {
        #expect(try envLocal(name).contains("NEXT_PUBLIC_USE_BACKEND_API=false"), "\(name)")
        // The drill's own restart with the flag on, then the level's.
        #expect(try fleet.spawns(name) == (spawns[name] ?? 0) + 2, "\(name)")
        #expect(!FileManager.default.fileExists(atPath: fleet.lockPath(name)), "\(name): lock left behind")
      }
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
      #expect(hosts(of: "drill.forward-backend-api", in: object) == fleet.hosts)
      #expect(hosts(of: "drill.restart-frontend", in: object) == fleet.hosts)
      #expect(hosts(of: "drill.health-after-frontend", in: object) == fleet.hosts)
    }

    @Test("a drill of a service whose health is via: host asks its health after the rollback from each host")
    func drillHealthFromTheHosts() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let text = fleet.runbook(batches: "[1, \"100%\"]")
        .replacingOccurrences(of: "within: 20s}", with: "within: 5s, via: host}")
      try text.write(to: runbook, atomically: true, encoding: .utf8)
      // A proxy that refuses every connection, which only the control machine's requests use.
      let result = try CLI.run(
        ["drill", "--level", "3", "--yes", "--json"] + common,
        environment: ["http_proxy": "http://127.0.0.1:9"])
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
      let steps = object["steps"] as? [[String: Any]] ?? []
      let health = try #require(steps.first { $0["id"] as? String == "drill.health-after-frontend" })
      #expect(health["status"] as? String == "succeeded", "\(health)")
      #expect(hosts(of: "drill.health-after-frontend", in: object) == fleet.hosts)
    }

    @Test("drill --hosts acts on the matching hosts only and journals the limit, as execute --hosts does")
    func drillLimitedToHosts() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let chosen = [fleet.hosts[1], fleet.hosts[3]]
      let pattern = chosen.joined(separator: ",")
      var spawns: [String: Int] = [:]
      for name in fleet.hosts { spawns[name] = try fleet.spawns(name) }
      let before = try fleet.snapshot()
      let result = try CLI.run(["drill", "--level", "3", "--yes", "--hosts", pattern, "--json"] + common)
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      for name in chosen {
        #expect(try envLocal(name).contains("NEXT_PUBLIC_USE_BACKEND_API=false"), "\(name)")
        #expect(try fleet.spawns(name) == (spawns[name] ?? 0) + 2, "\(name)")
      }
      for name in fleet.hosts where !chosen.contains(name) {
        for file in [".env.local", ".env"] {
          let path = "\(fleet.localApp(name))/\(file)"
          #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before[path], "\(path) changed")
        }
        #expect(try fleet.spawns(name) == spawns[name], "\(name) was restarted")
      }
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
      for id in [
        "drill.forward-backend-api", "drill.restart-frontend", "roll", "drill.health-after-frontend",
      ] {
        #expect(hosts(of: id, in: object) == chosen, "\(id)")
      }
      let runID = try #require(object["run_id"] as? String)
      let journal = try String(
        contentsOf: directory.appendingPathComponent("state/runs/\(runID).jsonl"), encoding: .utf8)
      let line = try #require(journal.split(separator: "\n").first)
      let start = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      #expect(start["command"] as? String == "drill")
      #expect(start["host_limit"] as? String == pattern)
      #expect(start["limited_hosts"] as? [String] == chosen)
      // A pattern that matches nothing is a usage error before anything runs, as for execute.
      let unknown = try CLI.run(["drill", "--level", "3", "--yes", "--hosts", "hots-*"] + common)
      #expect(unknown.status == 2, "\(unknown.stdout)\(unknown.stderr)")
      #expect(
        unknown.stderr.contains("--hosts pattern 'hots-*' matches no host or group"), "\(unknown.stderr)")
    }
  }
}
