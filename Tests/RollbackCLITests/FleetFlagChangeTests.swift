import Foundation
import Testing

extension OnTheTestFleet {
  @Suite("rollback flag enable|disable on flags that live on the test fleet's hosts", .serialized)
  struct FleetFlagChangeTests: FleetSuite {
    let workspace: FleetWorkspace

    init() throws {
      workspace = try FleetWorkspace()
      try write(fleet.runbook(batches: "[1, \"100%\"]"))
    }

    var state: URL { directory.appendingPathComponent("state") }

    func flipped(_ data: Data?) -> Data {
      Data(
        String(decoding: data ?? Data(), as: UTF8.self).replacingOccurrences(
          of: "NEXT_PUBLIC_USE_BACKEND_API=true", with: "NEXT_PUBLIC_USE_BACKEND_API=false"
        ).utf8)
    }

    @Test("flag disable edits every host's files byte for byte (CRLF kept), backups per host, locks released")
    func disableOnEveryHost() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let result = try CLI.run(["flag", "disable", "backend-api", "--json"] + common())
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      for (path, data) in saved {
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == flipped(data), "\(path)")
      }
      let crlf = try Data(contentsOf: URL(fileURLWithPath: "\(fleet.localApp(fleet.hosts[2]))/.env.local"))
      #expect(String(decoding: crlf, as: UTF8.self).contains("NEXT_PUBLIC_USE_BACKEND_API=false\r\n"))
      let array = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
      let hosts = try #require(array.first?["hosts"] as? [[String: Any]])
      #expect(hosts.compactMap { $0["host"] as? String } == fleet.hosts)
      #expect(hosts.allSatisfy { $0["error"] is NSNull })
      // The previous bytes of each host's files are kept here, under the host's name.
      let runs = try FileManager.default.contentsOfDirectory(
        atPath: state.appendingPathComponent("backups").path)
      let run = try #require(runs.first { $0.hasPrefix("flag-") })
      for name in fleet.hosts {
        let dir = state.appendingPathComponent("backups/\(run)/\(name)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
          !$0.hasPrefix(".")
        }
        #expect(files.count == 2, "\(name): \(files)")
        let kept = try files.map { try Data(contentsOf: dir.appendingPathComponent($0)) }
        #expect(
          Set(kept) == Set([".env.local", ".env"].compactMap { saved["\(fleet.localApp(name))/\($0)"] }))
        #expect(!FileManager.default.fileExists(atPath: fleet.lockPath(name)), "\(name): lock left behind")
      }
      // The human output has a row per host.
      let again = try CLI.run(["flag", "enable", "backend-api"] + common())
      #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
      for name in fleet.hosts {
        #expect(
          again.stdout.contains("\(name)  NEXT_PUBLIC_USE_BACKEND_API false -> true"), "\(again.stdout)")
      }
      #expect(again.stdout.contains("backend-api: done on 3 of 3 hosts"), "\(again.stdout)")
      #expect(try fleet.snapshot() == saved)
    }

    @Test("flag disable --hosts host-3 changes only host-3; --dry-run shows the diff and changes nothing")
    func limitedAndDryRun() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let third = fleet.hosts[2]
      let dry = try CLI.run(["flag", "disable", "backend-api", "--dry-run"] + common())
      #expect(dry.status == 0, "\(dry.stdout)\(dry.stderr)")
      #expect(dry.stdout.contains("+NEXT_PUBLIC_USE_BACKEND_API=false"), "\(dry.stdout)")
      #expect(try fleet.snapshot() == saved)

      let result = try CLI.run(["flag", "disable", "backend-api", "--hosts", third] + common())
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      for (path, data) in saved {
        let expected = path.contains("/hosts/\(third)/") ? flipped(data) : data
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == expected, "\(path)")
      }
    }

    @Test("flag percent 25 writes the rollout key on every host, every other byte kept")
    func percentOnEveryHost() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let statusFleet = try CLITestFleet.current()
      try write(statusFleet.runbook)
      let result = try CLI.run(["flag", "percent", "25", "backend-api"] + common())
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      #expect(result.stdout.contains("backend-api: done on 3 of 3 hosts"), "\(result.stdout)")
      for (path, data) in saved {
        let text = String(decoding: data, as: UTF8.self)
        let expected = text.replacingOccurrences(
          of: "BACKEND_API_ROLLOUT_PERCENT=100", with: "BACKEND_API_ROLLOUT_PERCENT=25")
        #expect(text != expected, "\(path) has no BACKEND_API_ROLLOUT_PERCENT=100 to change")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(expected.utf8), "\(path)")
      }
    }

    @Test("a host locked by another run: exit 4 naming the holder, no host changed")
    func lockedHostRefuses() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let second = fleet.hosts[1]
      let lock =
        "run=other-run\nuser=someone\ncontrol=laptop-2\nstarted=\(Int(Date().timeIntervalSince1970))\n"
      try lock.write(toFile: fleet.lockPath(second), atomically: true, encoding: .utf8)
      let result = try CLI.run(["flag", "disable", "backend-api"] + common())
      #expect(result.status == 4, "\(result.stdout)\(result.stderr)")
      #expect(
        result.stderr.contains(
          "\(second) is locked by another rollback: run other-run by someone on laptop-2"),
        "\(result.stderr)")
      #expect(try fleet.snapshot() == saved)
      #expect(try String(contentsOfFile: fleet.lockPath(second), encoding: .utf8) == lock)
      for name in fleet.hosts where name != second {
        #expect(!FileManager.default.fileExists(atPath: fleet.lockPath(name)), "\(name): lock left behind")
      }
    }

    @Test("an unreachable host is reported and fails the command; the other hosts are changed")
    func unreachableHostFails() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let second = fleet.hosts[1]
      try fleet.ctl("stop-sshd", second)
      defer { _ = try? fleet.ctl("start-sshd", second) }
      let result = try CLI.run(["flag", "disable", "backend-api"] + common())
      #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
      #expect(result.stdout.contains("\(second)  error: unreachable"), "\(result.stdout)")
      #expect(
        result.stderr.contains("flag backend-api could not be changed on \(second)"), "\(result.stderr)")
      for (path, data) in saved {
        let expected = path.contains("/hosts/\(second)/") ? data : flipped(data)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == expected, "\(path)")
      }
    }
  }
}
