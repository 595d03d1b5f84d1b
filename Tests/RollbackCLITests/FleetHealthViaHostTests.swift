import Foundation
import Testing

extension OnTheTestFleet {
  @Suite("health: {via: host} on the test fleet", .serialized)
  struct FleetHealthViaHostTests: FleetSuite {
    let workspace: FleetWorkspace

    init() throws { workspace = try FleetWorkspace() }

    /// The rolling runbook, its health check asked from the host when `viaHost`.
    func write(viaHost: Bool, pickup: Bool = false) throws {
      var text = fleet.runbook(batches: "[1, \"100%\"]", pickup: pickup)
      if viaHost {
        text = text.replacingOccurrences(of: "within: 20s}", with: "within: 5s, via: host}")
      } else {
        text = text.replacingOccurrences(of: "within: 20s}", with: "within: 5s}")
      }
      try text.write(to: runbook, atomically: true, encoding: .utf8)
    }

    /// A proxy that refuses every connection: the control machine's requests go through it
    /// (libcurl reads `http_proxy`), a host's curl never sees it (ssh does not pass it on).
    let deadProxy = ["http_proxy": "http://127.0.0.1:9"]

    @Test("via: host asks each host's curl over ssh: healthy where the control machine cannot reach the app")
    func healthFromTheHost() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(viaHost: true)
      let common = ["--runbook", runbook.path, "--state-dir", directory.appendingPathComponent("via").path]
      let result = try CLI.run(["execute", "--level", "3", "--yes"] + common, environment: deadProxy)
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      for name in fleet.hosts {
        #expect(
          result.stdout.contains("[\(name)] ✓ roll.restart-2  frontend restarted, healthy after "),
          "\(result.stdout)")
        let text = String(
          decoding: try fleet.ssh(name, "cat /srv/rollback-fleet/app/.env.local"), as: UTF8.self)
        #expect(text.contains("NEXT_PUBLIC_USE_BACKEND_API=false"), "\(name)")
      }
      let healthy = result.stdout.split(separator: "\n").filter { $0.contains("(HTTP 200 from the host)") }
      #expect(healthy.count >= fleet.hosts.count, "\(result.stdout)")
    }

    @Test("via: host: the pickup proof's reported value is asked from the host too")
    func pickupFromTheHost() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(viaHost: true, pickup: true)
      let common = [
        "--runbook", runbook.path, "--state-dir", directory.appendingPathComponent("pickup").path,
      ]
      let result = try CLI.run(["execute", "--level", "3", "--yes"] + common, environment: deadProxy)
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      let proved = result.stdout.split(separator: "\n").filter {
        $0.contains("pickup: pid ") && $0.contains("reports flags.NEXT_PUBLIC_USE_BACKEND_API = false")
      }
      #expect(proved.count >= fleet.hosts.count, "\(result.stdout)")
    }

    @Test("without via: the same check is asked from the control machine, and the dead proxy fails it")
    func healthFromTheControlMachine() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(viaHost: false)
      let common = [
        "--runbook", runbook.path, "--state-dir", directory.appendingPathComponent("control").path,
      ]
      let result = try CLI.run(["execute", "--level", "3", "--yes"] + common, environment: deadProxy)
      #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
      #expect(
        (result.stdout + result.stderr).contains("frontend did not become healthy within 5s"),
        "\(result.stdout)\(result.stderr)")
      #expect(!result.stdout.contains("from the host"))
    }
  }
}
