import Foundation
import Testing

/// The test fleet (scripts/harness/fleet/with-fleet) as the CLI tests see it.
struct CLITestFleet {
  let directory: String
  let sshConfig: String
  let ctl: String
  let hosts: [String]
  let root: String
  let crlfHost: String

  static func current() throws -> CLITestFleet {
    let env = ProcessInfo.processInfo.environment
    func need(_ name: String) throws -> String {
      guard let value = env[name], !value.isEmpty else {
        let hint =
          "`scripts/harness/fleet/with-fleet -n 3 --crlf-host 3 -- swift test --filter FleetFlagStatus`"
        Issue.record("\(name) is not set: run with `make test` or \(hint)")
        throw FleetTestError(message: "\(name) is not set")
      }
      return value
    }
    let fleet = CLITestFleet(
      directory: try need("ROLLBACK_FLEET_DIR"), sshConfig: try need("ROLLBACK_FLEET_SSH_CONFIG"),
      ctl: try need("ROLLBACK_FLEET_CTL"),
      hosts: try need("ROLLBACK_FLEET_HOSTS").split(separator: " ").map(String.init),
      root: try need("ROLLBACK_FLEET_ROOT"), crlfHost: env["ROLLBACK_FLEET_CRLF_HOST"] ?? "")
    guard fleet.hosts.count >= 3 else { throw FleetTestError(message: "the fleet needs 3 hosts") }
    return fleet
  }

  /// Where host `name`'s app directory is on this machine.
  func localApp(_ name: String) -> String { "\(directory)/hosts/\(name)/srv/app" }

  /// A runbook whose production environment is the fleet's first three hosts, the flag on all.
  var runbook: String {
    let hostLines = hosts.prefix(3).map { "        \($0): {ssh: \($0)}" }.joined(separator: "\n")
    return """
      version: 1
      name: fleet-status
      environments:
        production:
          ssh: {config: "\(sshConfig)", forks: 3}
          hosts:
      \(hostLines)
          groups:
            web: [\(hosts.prefix(3).joined(separator: ", "))]
      flags:
        backend-api:
          key: NEXT_PUBLIC_USE_BACKEND_API
          files: ["\(root)/app/.env.local", "\(root)/app/.env"]
          percent_key: BACKEND_API_ROLLOUT_PERCENT
          hosts: web
      levels:
        1:
          name: Off
          steps:
            - flag: {name: backend-api, set: disabled}
      """
  }

  func ctl(_ command: String, _ host: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ctl)
    process.arguments = [command, host]
    var env = ProcessInfo.processInfo.environment
    env["ROLLBACK_FLEET_DIR"] = directory
    process.environment = env
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw FleetTestError(message: "ctl \(command) \(host) failed")
    }
  }
}

private struct FleetTestError: Error, CustomStringConvertible {
  let message: String
  var description: String { message }
}

extension OnTheTestFleet {
  @Suite("rollback flag status for a flag on hosts: a row per host and file, drift marked", .serialized)
  struct FleetFlagStatusTests {
    static let key = "NEXT_PUBLIC_USE_BACKEND_API"

    /// Writes the runbook in a temporary directory; returns it and the common arguments.
    func setUp(_ fleet: CLITestFleet) throws -> (directory: URL, arguments: [String]) {
      let directory = try CLI.temporaryDirectory()
      let runbook = directory.appendingPathComponent("rollback.yaml")
      try fleet.runbook.write(to: runbook, atomically: true, encoding: .utf8)
      return (
        directory, ["--runbook", runbook.path, "--state-dir", directory.appendingPathComponent("state").path]
      )
    }

    /// The files' bytes, to put back after a test.
    func save(_ paths: [String]) throws -> [(String, Data)] {
      try paths.map { ($0, try Data(contentsOf: URL(fileURLWithPath: $0))) }
    }

    func restore(_ saved: [(String, Data)]) {
      for (path, data) in saved { try? data.write(to: URL(fileURLWithPath: path)) }
    }

    @Test(
      "every host read: a row per host and file, the host that differs marked; --json carries host and drift")
    func rowsAndDrift() throws {
      let fleet = try CLITestFleet.current()
      let (directory, common) = try setUp(fleet)
      defer { try? FileManager.default.removeItem(at: directory) }
      let (one, two, three) = (fleet.hosts[0], fleet.hosts[1], fleet.hosts[2])
      let local2 = "\(fleet.localApp(two))/.env.local"
      let saved = try save(
        fleet.hosts.prefix(3).flatMap { ["\(fleet.localApp($0))/.env.local", "\(fleet.localApp($0))/.env"] })
      defer { restore(saved) }
      let text = try String(contentsOfFile: local2, encoding: .utf8)
      try text.replacingOccurrences(of: "\(Self.key)=true", with: "\(Self.key)=false").write(
        toFile: local2, atomically: false, encoding: .utf8)

      let result = try CLI.run(["flag", "status"] + common)
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      let lines = result.stdout.split(separator: "\n").map(String.init)
      let app = "\(fleet.root)/app"
      #expect(
        lines == [
          "backend-api (\(Self.key); on = true, off = false) on hosts: \(one) \(two) \(three)",
          "  \(one)  \(app)/.env.local: true [on] BACKEND_API_ROLLOUT_PERCENT=100",
          "  \(one)  \(app)/.env: true [on] BACKEND_API_ROLLOUT_PERCENT=100",
          "  \(two)  \(app)/.env.local: false [off] BACKEND_API_ROLLOUT_PERCENT=100  ← drift (most hosts: true)",
          "  \(two)  \(app)/.env: true [on] BACKEND_API_ROLLOUT_PERCENT=100",
          "  \(three)  \(app)/.env.local: true [on] BACKEND_API_ROLLOUT_PERCENT=100",
          "  \(three)  \(app)/.env: true [on] BACKEND_API_ROLLOUT_PERCENT=100",
          "  drift: \(two) holds another value than the other hosts",
        ], "\(result.stdout)")

      let json = try CLI.run(["flag", "status", "backend-api", "--json"] + common)
      #expect(json.status == 0, "\(json.stderr)")
      let flags = try #require(
        try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
      let flag = try #require(flags.first)
      #expect(flag["hosts"] as? [String] == [one, two, three])
      #expect(flag["drift"] as? [String] == [two])
      let rows = try #require(flag["files"] as? [[String: Any]])
      #expect(rows.count == 6)
      #expect(rows.compactMap { $0["host"] as? String } == [one, one, two, two, three, three])
      let drifting = rows.filter { $0["drift"] as? Bool == true }
      #expect(drifting.count == 1)
      #expect(drifting.first?["host"] as? String == two)
      #expect(drifting.first?["file"] as? String == "\(app)/.env.local")
      #expect(drifting.first?["value"] as? String == "false")
      // The CRLF host's values carry no "\r".
      #expect(
        rows.filter { $0["host"] as? String == fleet.crlfHost }.compactMap { $0["value"] as? String } == [
          "true", "true",
        ])
      // Reading changed nothing on the hosts.
      #expect(try String(contentsOfFile: local2, encoding: .utf8).contains("\(Self.key)=false"))
      #expect(try Data(contentsOf: URL(fileURLWithPath: "\(fleet.localApp(one))/.env")) == saved[1].1)
    }

    @Test(
      "an unreachable host and a missing file are rows with their reason, exit 1; --hosts limits the hosts")
    func problemsAndSelection() throws {
      let fleet = try CLITestFleet.current()
      let (directory, common) = try setUp(fleet)
      defer { try? FileManager.default.removeItem(at: directory) }
      let (one, two, three) = (fleet.hosts[0], fleet.hosts[1], fleet.hosts[2])
      let env1 = "\(fleet.localApp(one))/.env"
      let saved = try save([env1])
      defer {
        restore(saved)
        try? fleet.ctl("start-sshd", three)
      }
      unlink(env1)
      try fleet.ctl("stop-sshd", three)
      let app = "\(fleet.root)/app"

      let result = try CLI.run(["flag", "status"] + common)
      #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
      let lines = result.stdout.split(separator: "\n").map(String.init)
      #expect(lines.contains("  \(one)  \(app)/.env: error: does not exist"), "\(result.stdout)")
      #expect(lines.contains("  \(one)  \(app)/.env.local: true [on] BACKEND_API_ROLLOUT_PERCENT=100"))
      #expect(lines.contains("  \(two)  \(app)/.env: true [on] BACKEND_API_ROLLOUT_PERCENT=100"))
      let hostLine = try #require(lines.first { $0.hasPrefix("  \(three)  ") }, "\(result.stdout)")
      #expect(hostLine.hasPrefix("  \(three)  error: unreachable over ssh ("), "\(hostLine)")
      #expect(hostLine.contains("Connection refused"), "\(hostLine)")
      #expect(result.stderr.contains("error: 2 problems on hosts"), "\(result.stderr)")

      let json = try CLI.run(["flag", "status", "--json"] + common)
      #expect(json.status == 1)
      let flags = try #require(
        try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
      let rows = try #require(flags.first?["files"] as? [[String: Any]])
      let unreachable = rows.filter { $0["host"] as? String == three }
      #expect(unreachable.count == 2)
      #expect(unreachable.allSatisfy { $0["state"] as? String == "error" })
      #expect(unreachable.allSatisfy { ($0["error"] as? String)?.hasPrefix("unreachable over ssh") == true })

      // Only host-2: nothing wrong there, exit 0, no other host shown.
      let limited = try CLI.run(["flag", "status", "--hosts", two] + common)
      #expect(limited.status == 0, "\(limited.stdout)\(limited.stderr)")
      #expect(
        limited.stdout.split(separator: "\n").map(String.init) == [
          "backend-api (\(Self.key); on = true, off = false) on hosts: \(two)",
          "  \(two)  \(app)/.env.local: true [on] BACKEND_API_ROLLOUT_PERCENT=100",
          "  \(two)  \(app)/.env: true [on] BACKEND_API_ROLLOUT_PERCENT=100",
        ])
      // A group minus a host: the unreachable host is still in, so exit 1.
      let excluded = try CLI.run(["flag", "status", "--hosts", "web,!\(one)"] + common)
      #expect(excluded.status == 1)
      #expect(!excluded.stdout.contains("  \(one)  "))
      #expect(excluded.stdout.contains("  \(three)  error: unreachable over ssh"))
      // A pattern that matches nothing: exit 2 with a hint.
      let unknown = try CLI.run(["flag", "status", "--hosts", "wbe"] + common)
      #expect(unknown.status == 2)
      #expect(
        unknown.stderr.contains("--hosts pattern 'wbe' matches no host or group; did you mean 'web'?"),
        "\(unknown.stderr)")
    }
  }
}
