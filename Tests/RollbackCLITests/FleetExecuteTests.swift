import Foundation
import Testing

/// The test fleet (scripts/harness/fleet/with-fleet), as the CLI tests use it.
struct CLIFleet {
  let env: [String: String]
  let directory: String
  let sshConfig: String
  let ctl: String
  let hosts: [String]

  /// The fleet's first `count` hosts (most suites use three; the fleet of `make test` has five).
  static func current(count: Int = 3) throws -> CLIFleet {
    let env = ProcessInfo.processInfo.environment
    guard let directory = env["ROLLBACK_FLEET_DIR"], let config = env["ROLLBACK_FLEET_SSH_CONFIG"],
      let ctl = env["ROLLBACK_FLEET_CTL"], let hosts = env["ROLLBACK_FLEET_HOSTS"]
    else {
      Issue.record("ROLLBACK_FLEET_* is not set: run with `make test` or scripts/harness/fleet/with-fleet")
      throw CLIFleetMissing()
    }
    return CLIFleet(
      env: env, directory: directory, sshConfig: config, ctl: ctl,
      hosts: Array(hosts.split(separator: " ").map(String.init).prefix(count)))
  }

  /// Host `name`'s app directory as seen from this machine (the host sees /srv/rollback-fleet/app).
  func localApp(_ name: String) -> String { "\(directory)/hosts/\(name)/srv/app" }

  /// A command over ssh on a host; its stdout bytes.
  func ssh(_ name: String, _ command: String) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh")
    process.arguments = ["-F", sshConfig, "-o", "ControlPath=none", name, command]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return data
  }

  /// `scripts/harness/fleet/ctl COMMAND HOST`'s output.
  @discardableResult
  func ctl(_ command: String, _ name: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ctl)
    process.arguments = [command, name]
    process.environment = env
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func connections(_ name: String) throws -> Int { Int(try ctl("connections", name)) ?? -1 }

  /// The frontend's pid on a host, from its supervisord.
  func frontendPID(_ name: String) throws -> String {
    String(
      decoding: try ssh(name, "supervisorctl -c /srv/rollback-fleet/supervisord.conf pid frontend"),
      as: UTF8.self
    ).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// How many times a host's supervisord has started the frontend.
  func spawns(_ name: String) throws -> Int {
    let log = try String(
      contentsOfFile: "\(directory)/hosts/\(name)/srv/logs/supervisord.log", encoding: .utf8)
    return log.components(separatedBy: "spawned: 'frontend'").count - 1
  }

  /// Every flag file of every host, as bytes (read here), to put back after a test.
  func snapshot() throws -> [String: Data] {
    var files: [String: Data] = [:]
    for name in hosts {
      for file in [".env.local", ".env"] {
        let path = "\(localApp(name))/\(file)"
        files[path] = try Data(contentsOf: URL(fileURLWithPath: path))
      }
    }
    return files
  }

  /// Turns the flag on in every host's files (as the fleet starts), whatever an earlier run did.
  func flagOn() throws {
    for (path, data) in try snapshot() {
      let text = String(decoding: data, as: UTF8.self).replacingOccurrences(
        of: "NEXT_PUBLIC_USE_BACKEND_API=false", with: "NEXT_PUBLIC_USE_BACKEND_API=true")
      try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
  }

  func restore(_ files: [String: Data]) {
    for (path, data) in files { try? data.write(to: URL(fileURLWithPath: path)) }
    for name in hosts { try? FileManager.default.removeItem(atPath: lockPath(name)) }
  }

  func lockPath(_ name: String) -> String { "\(directory)/hosts/\(name)/srv/run/rollback-fleet.lock" }

  /// A rolling runbook over the fleet: flag off then restart with health, per host.
  func runbook(batches: String, maxFail: Int = 0, extraStep: String = "", pickup: Bool = false) -> String {
    let pickupLines =
      pickup
      ? """

          pickup:
            pid: {command: [supervisorctl, -c, /srv/rollback-fleet/supervisord.conf, pid, frontend]}
            http: {url: "http://${host.address}:\(env["ROLLBACK_FLEET_APP_PORT"] ?? "0")/api/config", json_path: flags.NEXT_PUBLIC_USE_BACKEND_API}
      """ : ""
    let port = env["ROLLBACK_FLEET_APP_PORT"] ?? "0"
    let hostLines = hosts.enumerated().map { index, name in
      "        \(name): {ssh: \(name), address: \(env["ROLLBACK_FLEET_HOST_\(index + 1)_ADDR"] ?? "")}"
    }.joined(separator: "\n")
    return """
      version: 1
      name: fleet-exec
      environments:
        production:
          ssh:
            config: \(sshConfig)
            lock_dir: /srv/rollback-fleet/run
            forks: 5
          hosts:
      \(hostLines)
          groups:
            web: [\(hosts.joined(separator: ", "))]
      services:
        frontend:
          hosts: web
          restart: [supervisorctl, -c, /srv/rollback-fleet/supervisord.conf, restart, frontend]
          health: {http: {url: "http://${host.address}:\(port)/api/health"}, within: 20s}\(pickupLines)
      signals:
        errors: {manual: true, unit: count}
      flags:
        backend-api:
          key: NEXT_PUBLIC_USE_BACKEND_API
          files: ["/srv/rollback-fleet/app/.env.local", "/srv/rollback-fleet/app/.env"]
          service: frontend
      levels:
        3:
          name: Frontend off the backend API
          steps:
            - id: roll
              rolling:
                on: web
                batches: \(batches)
                max_fail: \(maxFail)
                steps:
                  - flag: {name: backend-api, set: disabled}
                  - restart: {service: frontend}\(extraStep)
        4:
          name: Hold a lock on host-1 for a while
          steps:
            - {id: hold, run: [sleep, "4"], on: \(hosts[0])}
        6:
          name: Rolling with a gate
          steps:
            - id: gated
              rolling:
                on: web
                batches: [1, "100%"]
                gate: "errors < 1"
                steps:
                  - flag: {name: backend-api, set: disabled}
        5:
          name: A mark on every host
          steps:
            - {id: mark, run: [sh, -c, "echo ${host.name} ${host.address} > /srv/rollback-fleet/run/mark"], on: web}
      """
  }

  /// ssh master processes (`ssh: PATH [mux]`) now running, by pid.
  /// The parent pid of `pid` (from `/proc/PID/stat`), or nil.
  static func parent(of pid: Int32) -> Int32? {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
    let text = String(decoding: data, as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    return fields.count > 1 ? Int32(fields[1]) : nil
  }

  static func masters() -> [Int32: String] {
    var found: [Int32: String] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
      guard let pid = Int32(entry),
        let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
      else { continue }
      let text = String(decoding: data, as: UTF8.self)
      if text.hasPrefix("ssh: ") && text.contains("[mux]") { found[pid] = text }
    }
    return found
  }
}

struct CLIFleetMissing: Error {}

/// What every suite on the test fleet starts from: the fleet's first hosts with the flag on
/// (as the fleet starts), and a fresh directory for the suite's runbook and state.
struct FleetWorkspace {
  let fleet: CLIFleet
  let directory: URL
  let runbook: URL

  /// The fleet's first `count` hosts (fewer is a recorded failure), the flag on in every file.
  init(count: Int = 3) throws {
    fleet = try CLIFleet.current(count: count)
    guard fleet.hosts.count == count else {
      Issue.record(
        "these tests need \(count) fleet hosts: with-fleet -n 5 --crlf-host 3 (make test starts one)")
      throw CLIFleetMissing()
    }
    try fleet.flagOn()
    directory = try CLI.temporaryDirectory()
    runbook = directory.appendingPathComponent("rollback.yaml")
  }
}

/// A suite on the test fleet, with its workspace's fleet, directory, runbook and arguments.
protocol FleetSuite {
  var workspace: FleetWorkspace { get }
}

extension FleetSuite {
  var fleet: CLIFleet { workspace.fleet }
  var directory: URL { workspace.directory }
  var runbook: URL { workspace.runbook }

  /// Writes the suite's runbook.
  func write(_ text: String) throws { try text.write(to: runbook, atomically: true, encoding: .utf8) }

  /// Starts rollback with `arguments` in the background, its output discarded.
  func launch(_ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CLI.binary)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
  }

  /// `--runbook` and `--state-dir` (a directory `state` of the workspace).
  func common(_ state: String = "state") -> [String] {
    ["--runbook", runbook.path, "--state-dir", directory.appendingPathComponent(state).path]
  }

  /// Host `name`'s `.env.local`, read here.
  func envLocal(_ name: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: "\(fleet.localApp(name))/.env.local"))
  }
}

/// Every suite that changes or reads the test fleet's hosts, one test at a time: they share
/// the hosts' files and services, so two of them at once would see each other's changes.
@Suite("on the test fleet's hosts", .serialized)
enum OnTheTestFleet {}

extension OnTheTestFleet {
  @Suite("fleet execution on the test fleet", .serialized)
  struct FleetExecuteTests: FleetSuite {
    let workspace: FleetWorkspace

    init() throws { workspace = try FleetWorkspace() }

    @Test("a rolling level flips every host byte for byte and restarts each, one ssh connection per host")
    func rollingFlipsEveryHost() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(fleet.runbook(batches: "[1, \"100%\"]", pickup: true))
      var before: [String: Data] = [:]
      var pids: [String: String] = [:]
      var connections: [String: Int] = [:]
      for name in fleet.hosts {
        before[name] = try fleet.ssh(name, "cat /srv/rollback-fleet/app/.env.local")
        pids[name] = try fleet.frontendPID(name)
      }
      for name in fleet.hosts { connections[name] = try fleet.connections(name) }
      let mastersBefore = CLIFleet.masters()
      let result = try CLI.run(["execute", "--level", "3", "--yes"] + common())
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      // Exactly one ssh connection per host for the whole run.
      for name in fleet.hosts {
        #expect(try fleet.connections(name) == (connections[name] ?? 0) + 1, "\(name)")
      }
      // Pickup is proved on each host: its own new pid, its start time read from that host's /proc.
      for name in fleet.hosts {
        #expect(
          result.stdout.contains("[\(name)] ✓") && result.stdout.contains("pickup: pid "), "\(result.stdout)")
      }
      let proofs = result.stdout.split(separator: "\n").filter { $0.contains("pickup: pid ") }
      #expect(proofs.count >= fleet.hosts.count, "\(result.stdout)")
      #expect(result.stdout.contains("batch 1/2: \(fleet.hosts[0]) ✓"))
      #expect(result.stdout.contains("batch 2/2: \(fleet.hosts[1]) \(fleet.hosts[2]) ✓✓"))
      for name in fleet.hosts {
        let after = try fleet.ssh(name, "cat /srv/rollback-fleet/app/.env.local")
        let expected = String(decoding: before[name] ?? Data(), as: UTF8.self).replacingOccurrences(
          of: "NEXT_PUBLIC_USE_BACKEND_API=true", with: "NEXT_PUBLIC_USE_BACKEND_API=false")
        #expect(after == Data(expected.utf8), "\(name)")
        let pid = try fleet.frontendPID(name)
        #expect(!pid.isEmpty && pid != pids[name], "\(name): pid \(pids[name] ?? "") then \(pid)")
        #expect(!FileManager.default.fileExists(atPath: fleet.lockPath(name)), "\(name): lock left behind")
      }
      // Host 3's files have CRLF line ends: still CRLF.
      let crlf = try fleet.ssh(fleet.hosts[2], "cat /srv/rollback-fleet/app/.env.local")
      #expect(String(decoding: crlf, as: UTF8.self).contains("NEXT_PUBLIC_USE_BACKEND_API=false\r\n"))
      // No master connection of this run is left running.
      let leaked = CLIFleet.masters().filter { pid, text in
        mastersBefore[pid] == nil
          && !FileManager.default.fileExists(atPath: String(text.dropFirst(5).prefix { $0 != " " }))
      }
      #expect(leaked.isEmpty, "\(leaked)")
    }

    @Test(
      "a host whose sshd is stopped counts as failed: max_fail 0 stops the run, naming failed and untouched hosts"
    )
    func unreachableHostStopsTheRun() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(fleet.runbook(batches: "[1, 2, \"100%\"]"))
      let second = fleet.hosts[1]
      let third = fleet.hosts[2]
      let untouched = try Data(contentsOf: URL(fileURLWithPath: "\(fleet.localApp(third))/.env.local"))
      try fleet.ctl("stop-sshd", second)
      defer { _ = try? fleet.ctl("start-sshd", second) }
      let result = try CLI.run(["execute", "--level", "3", "--yes", "--json"] + common())
      #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
      let output = result.stdout + result.stderr
      #expect(output.contains("failed: \(second); untouched: \(third)"), "\(output)")
      #expect(output.contains("rollback resume"), "\(output)")
      #expect(try Data(contentsOf: URL(fileURLWithPath: "\(fleet.localApp(third))/.env.local")) == untouched)
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
      let steps = try #require(object["steps"] as? [[String: Any]])
      let hosts = try #require(steps.first?["hosts"] as? [[String: Any]])
      let statuses = Dictionary(
        uniqueKeysWithValues: hosts.compactMap { host in
          (host["name"] as? String).map { ($0, host["status"] as? String ?? "") }
        })
      #expect(statuses == [fleet.hosts[0]: "succeeded", second: "unreachable", third: "untouched"])
    }

    @Test("a second operator (another state directory) gets exit 4 naming the holder's run, user and machine")
    func secondOperatorRefused() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      let first = Process()
      first.executableURL = URL(fileURLWithPath: CLI.binary)
      first.arguments = ["execute", "--level", "4", "--yes"] + common("state-a")
      first.standardOutput = FileHandle.nullDevice
      first.standardError = FileHandle.nullDevice
      try first.run()
      defer { first.waitUntilExit() }
      let deadline = Date().addingTimeInterval(15)
      while !FileManager.default.fileExists(atPath: fleet.lockPath(fleet.hosts[0])), Date() < deadline {
        Thread.sleep(forTimeInterval: 0.05)
      }
      let lock = try String(contentsOfFile: fleet.lockPath(fleet.hosts[0]), encoding: .utf8)
      let holder = try #require(lock.split(separator: "\n").first { $0.hasPrefix("run=") }).dropFirst(4)
      let before = try fleet.snapshot()
      let second = try CLI.run(["execute", "--level", "3", "--yes"] + common("state-b"))
      #expect(second.status == 4, "\(second.stdout)\(second.stderr)")
      let user = ProcessInfo.processInfo.environment["USER"] ?? NSUserName()
      let said = second.stdout + second.stderr
      #expect(said.contains("is locked by another rollback: run \(holder) by \(user) on "), "\(said)")
      #expect(try fleet.snapshot() == before)
    }

    @Test(
      "preflight checks every host before any change: a missing file and drift on two hosts, reported together"
    )
    func preflightReportsEveryHost() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      // host-2 already has the flag off (drift), host-3 lacks one of the flag's files.
      _ = try fleet.ssh(
        fleet.hosts[1],
        "sed -i 's/NEXT_PUBLIC_USE_BACKEND_API=true/NEXT_PUBLIC_USE_BACKEND_API=false/' /srv/rollback-fleet/app/.env.local"
      )
      _ = try fleet.ssh(fleet.hosts[2], "rm /srv/rollback-fleet/app/.env")
      let before = try fleet.hosts.map { try fleet.ssh($0, "cat /srv/rollback-fleet/app/.env.local") }
      let pids = try fleet.hosts.map { try fleet.frontendPID($0) }
      let result = try CLI.run(["execute", "--level", "3", "--yes"] + common())
      let output = result.stdout + result.stderr
      #expect(result.status == 1, "\(output)")
      #expect(output.contains("preflight failed; nothing was changed"), "\(output)")
      #expect(output.contains("\(fleet.hosts[2]): /srv/rollback-fleet/app/.env does not exist"), "\(output)")
      #expect(output.contains("drift: flag backend-api differs on \(fleet.hosts[1])"), "\(output)")
      #expect(try fleet.hosts.map { try fleet.ssh($0, "cat /srv/rollback-fleet/app/.env.local") } == before)
      #expect(try fleet.hosts.map { try fleet.frontendPID($0) } == pids)
    }

    @Test("a host with a wrong host key is refused before any change, with a clear message")
    func wrongHostKeyRefused() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      try fleet.ctl("wrong-host-key", fleet.hosts[2])
      defer { _ = try? fleet.ctl("right-host-key", fleet.hosts[2]) }
      let result = try CLI.run(["execute", "--level", "3", "--yes"] + common(), stdin: "yes\n")
      #expect(result.status != 0)
      let output = result.stdout + result.stderr
      #expect(output.contains("host key"), "\(output)")
      #expect(output.contains("nothing was changed"), "\(output)")
      #expect(try fleet.snapshot() == saved)
    }

    @Test("kill -9 mid-batch, then resume: every host's flag written and service restarted exactly once")
    func killedThenResumed() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let slow = "\n            - {id: settle, run: [sleep, \"3\"]}"
      try write(fleet.runbook(batches: "[1, \"100%\"]", extraStep: slow))
      var spawns: [String: Int] = [:]
      for name in fleet.hosts { spawns[name] = try fleet.spawns(name) }
      let state = directory.appendingPathComponent("state")
      let process = try launch(["execute", "--level", "3", "--yes"] + common())
      // Wait until batch 2 has restarted its hosts (they then sleep), and kill it there.
      let deadline = Date().addingTimeInterval(60)
      while Date() < deadline {
        if fleet.hosts.dropFirst().allSatisfy({ (try? fleet.spawns($0)) == (spawns[$0] ?? 0) + 1 }) { break }
        Thread.sleep(forTimeInterval: 0.05)
      }
      Thread.sleep(forTimeInterval: 1)
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      let runs = try FileManager.default.contentsOfDirectory(
        atPath: state.appendingPathComponent("runs").path)
      let runID = try #require(runs.first { $0.hasSuffix(".jsonl") }).replacingOccurrences(
        of: ".jsonl", with: "")
      let resumed = try CLI.run(["resume", runID, "--yes"] + common())
      #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
      for name in fleet.hosts {
        #expect(try fleet.spawns(name) == (spawns[name] ?? 0) + 1, "\(name) restarted more or less than once")
        let text = String(
          decoding: try fleet.ssh(name, "cat /srv/rollback-fleet/app/.env.local"), as: UTF8.self)
        #expect(text.contains("NEXT_PUBLIC_USE_BACKEND_API=false"), "\(name)")
      }
      // Each host's backups were written once: one file per flag file per host.
      for name in fleet.hosts {
        let backups = state.appendingPathComponent("backups/\(runID)/\(name)").path
        let files = (try? FileManager.default.contentsOfDirectory(atPath: backups)) ?? []
        #expect(files.filter { !$0.hasPrefix(".") }.count == 2, "\(name): \(files)")
      }
    }

    @Test("a run step with on: runs on every host with its own ${host.*}; --json and report list the hosts")
    func onStepOnEveryHost() throws {
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      for name in fleet.hosts {
        try? FileManager.default.removeItem(atPath: "\(fleet.directory)/hosts/\(name)/srv/run/mark")
      }
      let result = try CLI.run(["execute", "--level", "5", "--yes", "--json"] + common())
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      for (index, name) in fleet.hosts.enumerated() {
        let mark = try String(
          contentsOfFile: "\(fleet.directory)/hosts/\(name)/srv/run/mark", encoding: .utf8)
        #expect(mark == "\(name) \(fleet.env["ROLLBACK_FLEET_HOST_\(index + 1)_ADDR"] ?? "")\n")
      }
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
      let runID = try #require(object["run_id"] as? String)
      let steps = try #require(object["steps"] as? [[String: Any]])
      let hosts = try #require(steps.first?["hosts"] as? [[String: Any]])
      #expect(hosts.compactMap { $0["name"] as? String } == fleet.hosts)
      #expect(hosts.allSatisfy { $0["status"] as? String == "succeeded" })
      let report = try CLI.run(["report", runID] + common())
      #expect(report.status == 0, "\(report.stderr)")
      let listed = fleet.hosts.map { "\($0) succeeded" }.joined(separator: ", ")
      #expect(report.stdout.contains("hosts: \(listed)"), "\(report.stdout)")
      // The report lists the step once, not once per host.
      #expect(report.stdout.components(separatedBy: "| mark | run |").count == 2)
    }

    @Test("SIGTERM mid-step: the run ends interrupted, its host lock released and no ssh master left running")
    func interruptedClosesMasters() throws {
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      let mastersBefore = CLIFleet.masters()
      let process = try launch(["execute", "--level", "4", "--yes"] + common())
      let lock = fleet.lockPath(fleet.hosts[0])
      let deadline = Date().addingTimeInterval(15)
      while !FileManager.default.fileExists(atPath: lock), Date() < deadline {
        Thread.sleep(forTimeInterval: 0.05)
      }
      #expect(FileManager.default.fileExists(atPath: lock))
      Thread.sleep(forTimeInterval: 0.5)
      let during = CLIFleet.masters().filter { mastersBefore[$0.key] == nil }
      #expect(!during.isEmpty, "a master connection is open while the run works")
      kill(process.processIdentifier, SIGTERM)
      process.waitUntilExit()
      #expect(
        process.terminationStatus == 130 || process.terminationStatus == 143 || process.terminationStatus == 1
      )
      Thread.sleep(forTimeInterval: 0.3)
      let left = CLIFleet.masters().filter { during[$0.key] != nil }
      #expect(left.isEmpty, "\(left)")
      #expect(!FileManager.default.fileExists(atPath: lock))
    }

    @Test("SIGTERM while the preflight takes the host locks: no host keeps a lock, no master is left")
    func interruptedPreflightReleasesLocks() throws {
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      let mastersBefore = CLIFleet.masters()
      let locks = fleet.hosts.map { fleet.lockPath($0) }
      defer { for lock in locks { unlink(lock) } }
      let process = try launch(["execute", "--level", "4", "--yes"] + common())
      let deadline = Date().addingTimeInterval(15)
      while !locks.contains(where: { FileManager.default.fileExists(atPath: $0) }), Date() < deadline {
        Thread.sleep(forTimeInterval: 0.002)
      }
      kill(process.processIdentifier, SIGTERM)
      process.waitUntilExit()
      #expect(process.terminationStatus == 130 || process.terminationStatus == 1)
      #expect(locks.filter { FileManager.default.fileExists(atPath: $0) } == [])
      Thread.sleep(forTimeInterval: 0.3)
      // This run's masters (children of nobody once it exited): none left behind.
      let orphans = CLIFleet.masters().filter {
        mastersBefore[$0.key] == nil && CLIFleet.parent(of: $0.key) == 1
      }
      #expect(orphans.isEmpty, "\(orphans)")
    }

    @Test("resume --only-failed re-runs just the failed host of the failed rolling step")
    func resumeOnlyFailed() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      let second = fleet.hosts[1]
      try fleet.ctl("stop-sshd", second)
      let failed = try CLI.run(["execute", "--level", "3", "--yes", "--json"] + common())
      _ = try? fleet.ctl("start-sshd", second)
      #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(failed.stdout.utf8)) as? [String: Any])
      let runID = try #require(object["run_id"] as? String)
      var spawns: [String: Int] = [:]
      for name in fleet.hosts { spawns[name] = try fleet.spawns(name) }
      let before = try fleet.ssh(second, "cat /srv/rollback-fleet/app/.env.local")
      #expect(String(decoding: before, as: UTF8.self).contains("NEXT_PUBLIC_USE_BACKEND_API=true"))

      let resumed = try CLI.run(["resume", runID, "--only-failed", "--yes"] + common())
      #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
      let after = try fleet.ssh(second, "cat /srv/rollback-fleet/app/.env.local")
      #expect(String(decoding: after, as: UTF8.self).contains("NEXT_PUBLIC_USE_BACKEND_API=false"))
      #expect(try fleet.spawns(second) == (spawns[second] ?? 0) + 1)
      for name in fleet.hosts where name != second {
        #expect(try fleet.spawns(name) == spawns[name], "\(name) was restarted again")
      }
      // The run is now finished: a second resume runs nothing.
      let again = try CLI.run(["resume", runID, "--only-failed", "--yes"] + common())
      #expect(
        again.status == 0 && (again.stdout + again.stderr).contains("already finished"), "\(again.stdout)")
    }

    @Test("a rolling gate that does not hold, or is unknown, stops the step after the canary batch")
    func gateStopsAfterCanary() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      let rest = fleet.hosts.dropFirst()
      let untouched = try rest.map { try fleet.ssh($0, "cat /srv/rollback-fleet/app/.env.local") }
      let failing = try CLI.run(["execute", "--level", "6", "--yes", "--signal", "errors=5"] + common())
      #expect(failing.status == 1, "\(failing.stdout)\(failing.stderr)")
      let said = failing.stdout + failing.stderr
      #expect(said.contains("gate errors < 1 does not hold after batch 1"), "\(said)")
      #expect(said.contains("untouched: \(rest.joined(separator: " "))"), "\(said)")
      #expect(try rest.map { try fleet.ssh($0, "cat /srv/rollback-fleet/app/.env.local") } == untouched)

      let unknown = try CLI.run(["execute", "--level", "6", "--yes"] + common("state-unknown"))
      #expect(unknown.status == 1, "\(unknown.stdout)\(unknown.stderr)")
      #expect((unknown.stdout + unknown.stderr).contains("cannot tell whether errors < 1 after batch 1"))
      #expect(try rest.map { try fleet.ssh($0, "cat /srv/rollback-fleet/app/.env.local") } == untouched)
    }

    @Test("--dry-run reads every host for real, shows each host's diff line by line, and changes nothing")
    func dryRunShowsEachHostsDiff() throws {
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
      let before = try fleet.snapshot()
      let result = try CLI.run(["execute", "--level", "3", "--dry-run"] + common())
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      let lines = result.stdout.split(separator: "\n").map(String.init)
      for name in fleet.hosts {
        #expect(
          lines.contains(
            "    [\(name)] -NEXT_PUBLIC_USE_BACKEND_API=true" + (name == fleet.hosts[2] ? "\\u{d}" : "")))
        // A context line keeps the diff's own leading space after the host's prefix.
        #expect(lines.contains { $0.hasPrefix("    [\(name)]  # Local overrides") }, "\(result.stdout)")
      }
      #expect(try fleet.snapshot() == before)
      #expect(!fleet.hosts.contains { FileManager.default.fileExists(atPath: fleet.lockPath($0)) })
    }
  }
}
