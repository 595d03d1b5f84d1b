import Foundation
import Testing

extension OnTheTestFleet {
  /// runbooks/marketsage.yaml's full system rollback on the five hosts of the test fleet: its
  /// production hosts mapped onto the fleet by an environment the test adds (two backend
  /// servers, three frontend servers), each server with a real git checkout to roll back.
  @Suite("MarketSage's backend-first rollback across the test fleet's hosts", .serialized)
  struct MarketSageFleetTests {
    let fleet: CLIFleet
    let directory: URL

    init() throws {
      fleet = try CLIFleet.current(count: 5)
      guard fleet.hosts.count == 5 else {
        Issue.record("these tests need a 5-host fleet: with-fleet -n 5 --crlf-host 3 (make test starts one)")
        throw CLIFleetMissing()
      }
      directory = try CLI.temporaryDirectory()
    }

    static let backends = ["backend-1", "backend-2"]
    static let frontends = ["frontend-1", "frontend-2", "frontend-3"]

    /// The fleet host (host-K) behind each server name of the test environment.
    var servers: [(name: String, host: String)] {
      zip(Self.backends + Self.frontends, fleet.hosts).map { ($0, $1) }
    }

    /// The seed runbook with a `fleet-test` environment: production's variables, the servers
    /// on the fleet's hosts, services restarted by each host's supervisord (a "build" that
    /// records the checked-out commit), and the harness's Prometheus for the gates.
    func runbookText(prometheus: String) throws -> String {
      let seed = try String(
        contentsOf: CLI.packageRoot.appendingPathComponent("runbooks/marketsage.yaml"), encoding: .utf8)
      let port = fleet.env["ROLLBACK_FLEET_APP_PORT"] ?? "0"
      let app = "http://127.0.0.1:\(port)"
      let supervisor = "[supervisorctl, -c, /srv/rollback-fleet/supervisord.conf"
      var lines = [
        "  fleet-test:", "    vars:", "      app_url: \(app)", "      admin_url: \(app)",
        "      admin_host: admin.example.test", "      api_url: \(app)",
        "      prometheus_url: \(prometheus)",
        "      frontend_dir: /srv/rollback-fleet/marketsage-frontend",
        "      backend_dir: /srv/rollback-fleet/marketsage-backend",
        "      monitoring_dir: \(directory.path)/monitoring", "      backup_dir: \(directory.path)/backups",
        "      restore_from: backup_latest.dump",
        // The harness's Prometheus scrapes its sample app as job frontend.
        "      frontend_job: frontend", "      backend_job: frontend", "      rate_window: 10s",
      ]
      for name in [
        "backend_rollback_commit", "frontend_rollback_commit", "last_known_good_commit", "load_balancer_api",
        "rollback_migration", "severity", "reason", "oncall",
      ] {
        lines.append("      \(name): \"\"")
      }
      lines += [
        "    prometheus: {url: \(prometheus), timeout: 5s}",
        "    postgres: {dsn_env: DATABASE_URL, timeout: 5s}",
        "    ssh: {config: \(fleet.sshConfig), lock_dir: /srv/rollback-fleet/run, forks: 5}", "    hosts:",
      ]
      for (index, server) in servers.enumerated() {
        let address = fleet.env["ROLLBACK_FLEET_HOST_\(index + 1)_ADDR"] ?? ""
        lines.append("      \(server.name): {ssh: \(server.host), address: \(address)}")
      }
      lines += [
        "    groups:", "      backend: [\(Self.backends.joined(separator: ", "))]",
        "      frontend: [\(Self.frontends.joined(separator: ", "))]", "    services:",
      ]
      for (service, dir) in [("backend", "backend_dir"), ("frontend", "frontend_dir")] {
        lines += [
          "      \(service):", "        restart: \(supervisor), restart, frontend]",
          "        rebuild: {shell: \"git rev-parse HEAD > .built\", cwd: \"${\(dir)}\"}",
          "        timeout: 30s",
          "        health:",
          "          http: {url: \"http://${host.address}:\(port)/api/health\", expect_status: 200}",
          "          within: 20s", "          interval: 500ms",
          "        pickup: {pid: {command: \(supervisor), pid, frontend]}}",
        ]
      }
      guard let range = seed.range(of: "\nenvironments:\n") else {
        Issue.record("runbooks/marketsage.yaml has no environments: block")
        throw CLIFleetMissing()
      }
      return seed.replacingCharacters(
        in: range, with: "\nenvironments:\n" + lines.joined(separator: "\n") + "\n")
    }

    /// Runs a program (no shell); its status and stdout+stderr.
    func run(_ argv: [String]) throws -> (status: Int32, output: String) {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: argv[0])
      process.arguments = Array(argv.dropFirst())
      let result = try CLI.capture(process)
      return (result.status, result.stdout + result.stderr)
    }

    /// A repository with a good commit and a bad one after it (checked out); the good one's id.
    func makeRepository(_ name: String) throws -> (path: URL, good: String) {
      let repo = directory.appendingPathComponent("repos/\(name)")
      try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
      func git(_ arguments: String...) throws -> String {
        let result = try run(
          ["/usr/bin/git", "-C", repo.path, "-c", "user.name=test", "-c", "user.email=test@example.test"]
            + arguments)
        #expect(result.status == 0, "git \(arguments): \(result.output)")
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
      }
      _ = try git("init", "-q", "-b", "main")
      for release in ["good", "bad"] {
        try "\(name) \(release)\n".write(
          to: repo.appendingPathComponent("RELEASE"), atomically: true, encoding: .utf8)
        _ = try git("add", "RELEASE")
        _ = try git("commit", "-q", "-m", release)
      }
      return (repo, try git("rev-parse", "HEAD~1"))
    }

    /// The journal's events, in the order they were written.
    func journal(_ state: URL) throws -> [[String: Any]] {
      let runs = state.appendingPathComponent("runs")
      let name = try #require(
        try FileManager.default.contentsOfDirectory(atPath: runs.path).first { $0.hasSuffix(".jsonl") })
      let text = try String(contentsOf: runs.appendingPathComponent(name), encoding: .utf8)
      return text.split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
      }
    }

    /// A copy of the backend or frontend repository on each server (host-K's
    /// /srv/rollback-fleet/REPOSITORY), by server name.
    func placeCheckouts(backend: URL, frontend: URL) throws -> [String: String] {
      var checkouts: [String: String] = [:]
      for server in servers {
        let source = Self.backends.contains(server.name) ? backend : frontend
        let target = "\(fleet.directory)/hosts/\(server.host)/srv/\(source.lastPathComponent)"
        checkouts[server.name] = target
        #expect(try run(["/bin/cp", "-a", source.path, target]).status == 0)
      }
      return checkouts
    }

    /// Each backend host's restart finished (and succeeded) before the first event of any
    /// frontend host, in the journal's order.
    func expectBackendFirst(_ events: [[String: Any]]) throws {
      let firstFrontend = try #require(
        events.firstIndex { Self.frontends.contains($0["host"] as? String ?? "") },
        "no frontend host in the journal")
      for name in Self.backends {
        let restart = try #require(
          events.firstIndex {
            $0["event"] as? String == "step-finished" && $0["host"] as? String == name
              && ($0["id"] as? String ?? "").hasSuffix("build-restart-backend")
          }, "\(name): no finished restart in the journal")
        #expect(events[restart]["status"] as? String == "succeeded", "\(events[restart])")
        #expect(restart < firstFrontend, "\(name)'s restart finished after a frontend host started")
      }
    }

    @Test(
      "scenario backend-then-frontend (level 3): every backend host restarted before any frontend host's first change"
    )
    func backendFirstAcrossHosts() throws {
      defer { try? FileManager.default.removeItem(at: directory) }
      guard let prometheus = fleet.env["ROLLBACK_TEST_PROM_URL"] else {
        Issue.record("ROLLBACK_TEST_PROM_URL is not set: run under scripts/harness/with-harness too")
        return
      }
      let backend = try makeRepository("marketsage-backend")
      let frontend = try makeRepository("marketsage-frontend")
      let checkouts = try placeCheckouts(backend: backend.path, frontend: frontend.path)
      defer { for path in checkouts.values { try? FileManager.default.removeItem(atPath: path) } }
      let runbook = directory.appendingPathComponent("marketsage.yaml")
      try runbookText(prometheus: prometheus).write(to: runbook, atomically: true, encoding: .utf8)
      let state = directory.appendingPathComponent("state")
      let common = ["--runbook", runbook.path, "--env", "fleet-test", "--state-dir", state.path]

      let validate = try CLI.run(["validate", "--strict"] + common)
      #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
      var spawns: [String: Int] = [:]
      for server in servers { spawns[server.name] = try fleet.spawns(server.host) }
      let result = try CLI.run(
        [
          "execute", "--scenario", "backend-then-frontend", "--yes",
          "--var", "backend_rollback_commit=\(backend.good)", "--var",
          "frontend_rollback_commit=\(frontend.good)",
        ] + common)
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      #expect(result.stdout.contains("batch 1/2: backend-1 ✓"), "\(result.stdout)")
      #expect(result.stdout.contains("batch 2/2: backend-2 ✓"), "\(result.stdout)")
      #expect(result.stdout.contains("batch 1/2: frontend-1 ✓"), "\(result.stdout)")
      #expect(result.stdout.contains("batch 2/2: frontend-2 frontend-3 ✓✓"), "\(result.stdout)")

      // Every server is on its good commit, built from it, and restarted exactly once.
      for server in servers {
        let good = Self.backends.contains(server.name) ? backend.good : frontend.good
        let path = try #require(checkouts[server.name])
        let head = try run(["/usr/bin/git", "-C", path, "rev-parse", "HEAD"]).output
        #expect(head.trimmingCharacters(in: .whitespacesAndNewlines) == good, "\(server.name)")
        let built = try? String(contentsOfFile: "\(path)/.built", encoding: .utf8)
        #expect(built == good + "\n", "\(server.name)")
        let restarts = try fleet.spawns(server.host) - (spawns[server.name] ?? 0)
        #expect(restarts == 1, "\(server.name) restarted \(restarts) times")
      }
      try expectBackendFirst(try journal(state))
    }
  }
}
