import Foundation
import Testing

extension OnTheTestFleet {
  @Suite("escalation into a level with host-scoped steps, on the test fleet", .serialized)
  struct FleetEscalationTests: FleetSuite {
    let workspace: FleetWorkspace

    init() throws { workspace = try FleetWorkspace() }

    var common: [String] {
      ["--runbook", runbook.path, "--state-dir", directory.appendingPathComponent("state").path]
    }

    /// The fleet runbook with a level 2 of `steps` that escalates to the rolling level 3 after 1 s.
    func write(level2 steps: String) throws {
      let level2 = """
        levels:
          2:
            name: Partial
            escalate: {after: 1s, to: 3}
            steps:
        \(steps)
        """
      let text = fleet.runbook(batches: "[1, \"100%\"]").replacingOccurrences(of: "levels:", with: level2)
      try text.write(to: runbook, atomically: true, encoding: .utf8)
    }

    func escalate() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      var spawns: [String: Int] = [:]
      for name in fleet.hosts { spawns[name] = try fleet.spawns(name) }
      let result = try CLI.run(["execute", "--level", "2", "--yes", "--json"] + common)
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      #expect(result.stderr.contains("abandoning it for level 3"), "\(result.stderr)")
      for name in fleet.hosts {
        let text = String(
          decoding: try fleet.ssh(name, "cat /srv/rollback-fleet/app/.env.local"), as: UTF8.self)
        #expect(text.contains("NEXT_PUBLIC_USE_BACKEND_API=false"), "\(name): \(text)")
        #expect(try fleet.spawns(name) == (spawns[name] ?? 0) + 1, "\(name) restarted more or less than once")
        #expect(!FileManager.default.fileExists(atPath: fleet.lockPath(name)), "\(name): lock left behind")
      }
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
      #expect(object["level"] as? Int == 3)
      let steps = object["steps"] as? [[String: Any]] ?? []
      let roll = try #require(steps.first { $0["id"] as? String == "roll" })
      #expect(roll["status"] as? String == "succeeded", "\(roll)")
      let hosts = (roll["hosts"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
      #expect(hosts == fleet.hosts)
    }

    @Test("a level with no host-scoped step escalates into the rolling level: the flag flips on every host")
    func escalateFromTheControlMachine() throws {
      try write(level2: "      - {id: slow, run: [sleep, \"2\"]}\n      - {id: rest, run: [echo, partial]}")
      try escalate()
    }

    @Test("a level on one host escalates into the rolling level: the other hosts are opened and locked too")
    func escalateFromOneHost() throws {
      try write(
        level2:
          "      - {id: slow, run: [sleep, \"2\"], on: \(fleet.hosts[0])}\n      - {id: rest, run: [echo, partial]}"
      )
      try escalate()
    }

    @Test("an escalated level that preflight refuses on a host fails the run before any of its steps")
    func escalationRefusedByPreflight() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(level2: "      - {id: slow, run: [sleep, \"2\"]}\n      - {id: rest, run: [echo, partial]}")
      _ = try fleet.ssh(fleet.hosts[2], "rm /srv/rollback-fleet/app/.env")
      let before = try fleet.hosts.map { try fleet.ssh($0, "cat /srv/rollback-fleet/app/.env.local") }
      let result = try CLI.run(["execute", "--level", "2", "--yes"] + common)
      let output = result.stdout + result.stderr
      #expect(result.status == 1, "\(output)")
      #expect(output.contains("preflight of level 3 failed; none of its steps was run"), "\(output)")
      #expect(output.contains("\(fleet.hosts[2]): /srv/rollback-fleet/app/.env does not exist"), "\(output)")
      #expect(try fleet.hosts.map { try fleet.ssh($0, "cat /srv/rollback-fleet/app/.env.local") } == before)
      #expect(!fleet.hosts.contains { FileManager.default.fileExists(atPath: fleet.lockPath($0)) })
    }
  }
}
