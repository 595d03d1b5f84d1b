import Foundation
import Testing

/// Executions against the real harness: PostgreSQL, Prometheus, and the sample frontend under supervisord.
extension SharedAppTests {
  @Suite("execute, dry run, resume and the lock on real services")
  struct ExecuteTests {
    static let atom = "runbooks/frontend-backend-migration.yaml"
    static let level3Steps = [
      "identify-issue", "disable-flag", "restart-frontend", "verify-flag-served", "verify-register",
      "wait-error-rate", "notify-rollback-complete", "page-oncall",
    ]

    func expectedAfterDisable(_ before: String) -> String {
      before.replacingOccurrences(
        of: "NEXT_PUBLIC_USE_BACKEND_API=true", with: "NEXT_PUBLIC_USE_BACKEND_API=false")
    }

    @Test("level 3 of the Atom runbook rolls the harness frontend back end to end")
    func level3EndToEnd() throws {
      let harness = try Harness.current()
      try harness.resetApp()
      harness.waitForIncident()
      let before = try Dictionary(
        uniqueKeysWithValues: Harness.flagFiles.map {
          ($0, try String(contentsOfFile: harness.file($0), encoding: .utf8))
        })
      let pidBefore = try #require(harness.health()["pid"] as? Int)
      let state = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(state) }

      let result = try CLI.run(
        [
          "execute", "--runbook", Self.atom, "--env", "local", "--level", "3", "--yes", "--json",
          "--state-dir", state.path,
        ],
        environment: harness.runbookEnvironment)
      #expect(result.status == 0, "\(result.stderr)")
      let json = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
      #expect(json["status"] as? String == "succeeded")
      #expect(json["target_s"] as? Int == 300)
      #expect(json["within_target"] as? Bool == true)
      let steps = try #require(json["steps"] as? [[String: Any]])
      #expect(steps.compactMap { $0["id"] as? String } == Self.level3Steps)
      #expect(
        steps.allSatisfy { $0["status"] as? String == "succeeded" },
        "\(steps.map { ($0["id"] ?? "", $0["status"] ?? "", $0["error"] ?? "") })")

      // The flag flipped in every file, and nothing else in them changed.
      for name in Harness.flagFiles {
        let after = try String(contentsOfFile: harness.file(name), encoding: .utf8)
        #expect(after == expectedAfterDisable(before[name] ?? ""), "\(name)")
      }
      // The supervisord-managed service restarted and serves the new value.
      let health = try harness.health()
      #expect(health["backend_api"] as? String == "false")
      #expect(health["pid"] as? Int != pidBefore)
      // The first step saw the incident; the wait saw the metric recover.
      let identify = try #require(steps.first { $0["id"] as? String == "identify-issue" })
      let errorRate = (identify["signals"] as? [[String: Any]])?.first {
        $0["name"] as? String == "error_rate"
      }
      #expect((errorRate?["value"] as? Double ?? 0) > 0.05, "\(identify)")
      let wait = try #require(steps.first { $0["id"] as? String == "wait-error-rate" })
      #expect((wait["detail"] as? String)?.contains("error_rate_recent < 0.1% held") == true)
      let recovered = (wait["signals"] as? [[String: Any]])?.first?["value"] as? Double
      #expect(recovered != nil && (recovered ?? 1) < 0.001)
      // The human summary reports the time against the target.
      #expect(result.stderr.contains("Rolled back (level 3) in "))
      #expect(result.stderr.contains("target 5m ✓"))
      // The journal holds every step.
      let journal = try #require(journals(in: state).first)
      let events = try journalEvents(journal)
      #expect(events.first?["event"] as? String == "run-started")
      #expect(events.last?["event"] as? String == "run-finished")
      let finished = events.filter { $0["event"] as? String == "step-finished" }.compactMap {
        $0["id"] as? String
      }
      #expect(finished == Self.level3Steps)
      // Backups hold the previous content of each changed file.
      let backups = state.appendingPathComponent("backups").appendingPathComponent(
        json["run_id"] as? String ?? "")
      let saved = try FileManager.default.contentsOfDirectory(atPath: backups.path)
      #expect(saved.count == 3)
    }

    @Test("a dry run leaves every file, the service and the database as they were")
    func dryRunChangesNothing() throws {
      let harness = try Harness.current()
      try harness.resetApp()
      try Shell.run([
        "psql", harness.databaseURL, "-qc",
        "CREATE TABLE IF NOT EXISTS dry_run_marker (n int); TRUNCATE dry_run_marker",
      ])
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      let runbook = """
        version: 1
        name: dry
        environments:
          local:
            vars: {app_dir: "\(harness.appDirectory)", conf: "\(harness.supervisorConf)", url: "\(harness.appURL)"}
            prometheus: {url: "\(harness.promURL)"}
            postgres: {dsn_env: DATABASE_URL}
        flags:
          api:
            key: NEXT_PUBLIC_USE_BACKEND_API
            files: ["${app_dir}/.env.local", "${app_dir}/.env.production", "${app_dir}/.env"]
            service: frontend
        services:
          frontend:
            restart: [supervisorctl, -c, "${conf}", restart, frontend]
            health: {http: {url: "${url}/api/health"}, within: 10s, interval: 500ms}
        signals:
          db_up: {postgres: SELECT 1}
        levels:
          3:
            target: 5m
            steps:
              - {id: db-ok, assert: "db_up == 1"}
              - {id: off, flag: {name: api, set: disabled}}
              - {id: restart, restart: frontend}
              - {id: mark, sql: "INSERT INTO dry_run_marker VALUES (1)"}
              - {id: register, http: {method: POST, url: "${url}/api/auth/register", json: {email: a@b.c}}}
              - {id: recovered, wait: "db_up == 1", within: 1m}
        """
      try runbook.write(
        to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
      let filesBefore = try Harness.flagFiles.map {
        try Data(contentsOf: URL(fileURLWithPath: harness.file($0)))
      }
      let pidBefore = try harness.health()["pid"] as? Int
      let startsBefore = try harness.frontendStarts()

      var environment = harness.runbookEnvironment
      environment["ROLLBACK_STATE_DIR"] = directory.appendingPathComponent("state").path
      let result = try CLI.run(
        ["execute", "--level", "3", "--dry-run", "--json"], in: directory, environment: environment)
      #expect(result.status == 0, "\(result.stderr)")
      let json = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
      #expect(json["status"] as? String == "dry-run")
      let statuses = (json["steps"] as? [[String: Any]] ?? []).map {
        "\($0["id"] ?? "")=\($0["status"] ?? "")"
      }
      #expect(
        statuses == [
          "db-ok=succeeded", "off=would-run", "restart=would-run", "mark=would-run", "register=would-run",
          "recovered=sampled",
        ])
      // It shows what it would do: the diff, the argv, the SQL and the request.
      #expect(result.stderr.contains("-NEXT_PUBLIC_USE_BACKEND_API=true"))
      #expect(result.stderr.contains("+NEXT_PUBLIC_USE_BACKEND_API=false"))
      #expect(result.stderr.contains("would restart frontend: restart: supervisorctl -c"))
      #expect(result.stderr.contains("would run SQL: INSERT INTO dry_run_marker VALUES (1)"))
      #expect(result.stderr.contains("would send POST \(harness.appURL)/api/auth/register"))
      #expect(result.stderr.contains("would wait up to 1m for db_up == 1; now db_up 1"))
      // And nothing changed.
      let filesAfter = try Harness.flagFiles.map {
        try Data(contentsOf: URL(fileURLWithPath: harness.file($0)))
      }
      #expect(filesAfter == filesBefore)
      #expect(try harness.health()["pid"] as? Int == pidBefore)
      #expect(try harness.frontendStarts() == startsBefore)
      let count = try Shell.run(["psql", harness.databaseURL, "-tAc", "SELECT count(*) FROM dry_run_marker"])
      #expect(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test("kill -9 in the middle of level 3, then resume: it completes and each change happened once")
    func killAndResume() async throws {
      let harness = try Harness.current()
      try harness.resetApp()
      let state = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(state) }
      let startsBefore = try harness.frontendStarts()

      let process = Process()
      process.executableURL = URL(fileURLWithPath: CLI.binary)
      process.arguments = [
        "execute", "--runbook", Self.atom, "--env", "local", "--level", "3", "--yes", "--state-dir",
        state.path,
      ]
      process.currentDirectoryURL = CLI.packageRoot
      var env = ProcessInfo.processInfo.environment
      for (key, value) in harness.runbookEnvironment { env[key] = value }
      process.environment = env
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      // Kill it as soon as the restart is journalled as finished (the flag was written before it).
      let deadline = Date().addingTimeInterval(60)
      var killed = false
      while Date() < deadline, process.isRunning {
        if let journal = journals(in: state).first, let events = try? journalEvents(journal),
          events.contains(where: {
            $0["event"] as? String == "step-finished" && $0["id"] as? String == "restart-frontend"
          })
        {
          kill(process.processIdentifier, SIGKILL)
          killed = true
          break
        }
        try await Task.sleep(for: .milliseconds(20))
      }
      process.waitUntilExit()
      #expect(killed)
      #expect(process.terminationReason == .uncaughtSignal)

      let resumed = try CLI.run(
        ["resume", "--runbook", Self.atom, "--yes", "--state-dir", state.path],
        environment: harness.runbookEnvironment)
      #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
      #expect(resumed.stdout.contains("already done in run"))
      #expect(resumed.stdout.contains("Rolled back (level 3)"))
      // One run, one restart, one write per file.
      #expect(journals(in: state).count == 1)
      #expect(try harness.frontendStarts() == startsBefore + 1)
      let runID = try #require(
        journals(in: state).first.map {
          ($0 as NSString).lastPathComponent.replacingOccurrences(of: ".jsonl", with: "")
        })
      let backups = try FileManager.default.contentsOfDirectory(
        atPath: state.appendingPathComponent("backups/\(runID)").path)
      #expect(backups.count == 3)
      #expect(try harness.health()["backend_api"] as? String == "false")
      let events = try journalEvents(try #require(journals(in: state).first))
      let finished = events.filter {
        $0["event"] as? String == "step-finished" && $0["status"] as? String == "succeeded"
      }
      #expect(Set(finished.compactMap { $0["id"] as? String }) == Set(Self.level3Steps))
    }

    @Test("two executions at once: one runs, the other exits 4 within a second naming the holder")
    func lockRefusesSecondExecution() async throws {
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      let runbook = """
        version: 1
        name: slow
        environments: {local: {}}
        levels:
          1:
            steps:
              - {id: hold, run: [sleep, "3"]}
        """
      try runbook.write(
        to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
      let first = Process()
      first.executableURL = URL(fileURLWithPath: CLI.binary)
      first.arguments = ["execute", "--level", "1", "--yes"]
      first.currentDirectoryURL = directory
      first.standardOutput = FileHandle.nullDevice
      first.standardError = FileHandle.nullDevice
      try first.run()
      let lockFile = directory.appendingPathComponent(".rollback/lock").path
      let deadline = Date().addingTimeInterval(10)
      while Date() < deadline, ((try? String(contentsOfFile: lockFile, encoding: .utf8)) ?? "").isEmpty {
        try await Task.sleep(for: .milliseconds(20))
      }
      let started = Date()
      let second = try CLI.run(["execute", "--level", "1", "--yes"], in: directory)
      let elapsed = Date().timeIntervalSince(started)
      first.waitUntilExit()
      #expect(second.status == 4)
      #expect(elapsed < 1.0)
      #expect(second.stdout.contains("pid \(first.processIdentifier)"), "\(second.stdout)\(second.stderr)")
      #expect(first.terminationStatus == 0)
      // The advice names a complete command that works from anywhere.
      let line = (second.stdout + second.stderr).split(separator: "\n").first {
        $0.contains("its progress: ")
      }
      let command = line.map { String($0.split(separator: "its progress: ", maxSplits: 1).last ?? "") }
      #expect(command?.contains("--runbook /") == true, "\(second.stdout)\(second.stderr)")
      if let command {
        let pasted = try CLI.pasted(command, in: FileManager.default.temporaryDirectory)
        #expect(pasted.status == 0, "\(command): \(pasted.output)")
      }
    }

    @Test("a run step whose grandchild hangs: both are gone when the timeout fires")
    func runTimeoutKillsGrandchildren() throws {
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      let pidFile = directory.appendingPathComponent("grandchild.pid").path
      let runbook = """
        version: 1
        name: hang
        environments: {local: {}}
        levels:
          1:
            steps:
              - id: hang
                timeout: 1s
                run: {shell: "sleep 300 & echo $! > \(pidFile); echo $$ >> \(pidFile); wait"}
        """
      try runbook.write(
        to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
      let started = Date()
      let result = try CLI.run(["execute", "--level", "1", "--yes"], in: directory)
      #expect(Date().timeIntervalSince(started) < 6)
      #expect(result.status == 1)
      #expect(result.stdout.contains("timed out after 1s"))
      let pids = try String(contentsOfFile: pidFile, encoding: .utf8).split(separator: "\n").compactMap {
        Int32($0)
      }
      #expect(pids.count == 2)
      for pid in pids {
        let alive = kill(pid, 0) == 0
        let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        #expect(!alive || state.contains(") Z "), "pid \(pid) still runs: \(state)")
      }
    }

    @Test("a flag file the user cannot write: preflight fails and nothing changes")
    func unwritableFileFailsPreflight() throws {
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      chmod(directory.path, 0o777)
      let writable = directory.appendingPathComponent("a.env")
      let locked = directory.appendingPathComponent("b.env")
      try "FLAG=true\n".write(to: writable, atomically: true, encoding: .utf8)
      try "FLAG=true\n".write(to: locked, atomically: true, encoding: .utf8)
      chmod(writable.path, 0o666)
      chmod(locked.path, 0o644)
      let runbook = """
        version: 1
        name: locked
        environments: {local: {}}
        flags:
          f: {key: FLAG, files: ["\(writable.path)", "\(locked.path)"]}
        levels:
          1:
            steps:
              - {id: off, flag: {name: f, set: disabled}}
        """
      let runbookPath = directory.appendingPathComponent("rollback.yaml")
      try runbook.write(to: runbookPath, atomically: true, encoding: .utf8)
      chmod(runbookPath.path, 0o644)
      var arguments = [
        "execute", "--level", "1", "--yes", "--runbook", runbookPath.path,
        "--state-dir", directory.appendingPathComponent("state").path,
      ]
      let result: CLIResult
      if getuid() == 0 {
        // As root every file is writable: run as an ordinary user, as an on-call engineer would.
        arguments = ["runuser", "-u", "nobody", "--", CLI.binary] + arguments
        result = try Shell.run(arguments)
      } else {
        chmod(locked.path, 0o444)
        result = try CLI.run(arguments)
      }
      #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
      #expect(result.stdout.contains("preflight failed; nothing was changed"))
      #expect(result.stdout.contains("flag file \(locked.path) is not writable"))
      #expect(try String(contentsOf: writable, encoding: .utf8) == "FLAG=true\n")
      #expect(try String(contentsOf: locked, encoding: .utf8) == "FLAG=true\n")
    }

    @Test("a confirm gate without a terminal and without --yes exits 5 before changing anything")
    func confirmWithoutTerminal() throws {
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      try "FLAG=true\n".write(to: directory.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
      let runbook = """
        version: 1
        name: gate
        environments: {local: {}}
        flags:
          f: {key: FLAG, files: [".env"]}
        levels:
          1:
            steps:
              - {id: ask, confirm: "Really?"}
              - {id: off, flag: {name: f, set: disabled}}
        """
      try runbook.write(
        to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
      // Files are relative to the working directory; run there.
      let result = try CLI.run(["execute", "--level", "1"], in: directory)
      #expect(result.status == 5, "\(result.stdout)\(result.stderr)")
      #expect(result.stdout.contains("rerun with --yes"))
      #expect(
        try String(contentsOf: directory.appendingPathComponent(".env"), encoding: .utf8) == "FLAG=true\n")
    }
  }
}
