import Foundation
import RollbackCore
import RollbackSystem
import Testing

extension FleetHostTests {
  @Suite("FleetPreflight: every problem on every host at once, and drift, before any change")
  struct FleetPreflightTests {
    static let key = "NEXT_PUBLIC_USE_BACKEND_API"
    static let names = [".env.local", ".env.production", ".env"]

    /// The fleet's flag as a run that changes it needs it on each host.
    static func flag(_ fleet: TestFleet, changes: Bool = true) -> FlagFilesOnHost {
      FlagFilesOnHost(
        flag: "backend-api", key: key, percentKey: "BACKEND_API_ROLLOUT_PERCENT",
        files: names.map { "\(fleet.root)/app/\($0)" }, changes: changes)
    }

    /// Runs `chattr` on a file (immutable files fail `test -w` even for root).
    static func chattr(_ flag: String, _ path: String) throws {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
      process.arguments = [flag, path]
      try process.run()
      process.waitUntilExit()
      guard process.terminationStatus == 0 else {
        throw FleetCommandFailed(command: "chattr \(flag) \(path)", output: "")
      }
    }

    @Test(
      "one call reports an unreachable host, a missing file, a FIFO, an unwritable file and a missing program on all hosts, plus drift"
    )
    func everyProblemAtOnce() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let hosts = Array(fleet.hosts.prefix(3))
      let (one, two, three) = (hosts[0].name, hosts[1].name, hosts[2].name)
      var saved: [FleetFlagFileTests.Saved] = []
      for host in hosts {
        saved.append(
          try FleetFlagFileTests.Saved(Self.names.map { "\(fleet.localRoot(of: host.name))/app/\($0)" }))
      }
      let root1 = "\(fleet.localRoot(of: one))/app"
      let root3 = "\(fleet.localRoot(of: three))/app"
      let helper = "\(fleet.root)/app/rollback-preflight-helper"
      defer {
        try? Self.chattr("-i", "\(root3)/.env.local")
        unlink("\(root1)/.env")
        for name in [one, three] { unlink("\(fleet.localRoot(of: name))/app/rollback-preflight-helper") }
        for save in saved { save.restore() }
        try? fleet.ctl("start-sshd", two)
      }
      // host-1: its .env.local says false (drift), its .env is a FIFO, and the helper program is missing.
      let local1 = "\(root1)/.env.local"
      let text1 = try String(contentsOfFile: local1, encoding: .utf8)
      try text1.replacingOccurrences(of: "\(Self.key)=true", with: "\(Self.key)=false").write(
        toFile: local1, atomically: false, encoding: .utf8)
      unlink("\(root1)/.env")
      #expect(mkfifo("\(root1)/.env", 0o644) == 0)
      // host-2: its sshd is stopped.
      try fleet.ctl("stop-sshd", two)
      // host-3: .env.production removed, .env.local immutable (unwritable), helper present.
      unlink("\(root3)/.env.production")
      try Self.chattr("+i", "\(root3)/.env.local")
      let helper3 = "\(root3)/rollback-preflight-helper"
      try "#!/bin/sh\nexit 0\n".write(toFile: helper3, atomically: false, encoding: .utf8)
      chmod(helper3, 0o755)

      let preflight = FleetPreflight(transport: transport, timeout: .seconds(20))
      let targets = hosts.map {
        FleetPreflight.Target(host: $0, flags: [Self.flag(fleet)], executables: ["supervisorctl", helper])
      }
      let report = await preflight.check(targets)
      await transport.shutdown(hosts)

      let lines = report.problems.map(\.description)
      #expect(report.hosts.map(\.host) == [one, two, three])
      #expect(!report.isClean)
      #expect(report.elapsed < .seconds(15), "preflight took \(report.elapsed)")
      // host-1: the FIFO and the missing program, nothing else (its other files are fine).
      #expect(
        report.host(one)?.problems.map(\.description).sorted()
          == [
            "\(one): \(fleet.root)/app/.env is a FIFO (named pipe), not a regular file; refusing to edit it",
            "\(one): \(helper) is not found (command -v \(helper) fails on the host)",
          ].sorted(), "\(lines)")
      // host-2: one problem, unreachable with ssh's reason.
      let two2 = try #require(report.host(two))
      #expect(!two2.reachable)
      #expect(two2.problems.count == 1)
      #expect(
        two2.problems.first?.description.hasPrefix("\(two): unreachable over ssh (") == true, "\(lines)")
      #expect(two2.problems.first?.description.contains("Connection refused") == true, "\(lines)")
      #expect(report.unreachableHosts == [two])
      // host-3: the missing file and the unwritable one.
      #expect(
        report.host(three)?.problems.map(\.description).sorted()
          == [
            "\(three): \(fleet.root)/app/.env.local is not writable by the ssh user",
            "\(three): \(fleet.root)/app/.env.production does not exist",
          ].sorted(), "\(lines)")
      // Values are read where they can be: host-1 and host-3 disagree on .env.local (a tie of two
      // readable hosts: no majority); .env is readable on host-3 only, so it compares with nothing.
      let drift = try #require(report.drift["backend-api"])
      let localDrift = try #require(drift.file("\(fleet.root)/app/.env.local"))
      #expect(localDrift.values.map(\.host) == [one, three])
      #expect(localDrift.values.map(\.value) == ["false", "true"])
      #expect(localDrift.hasMajority == false)
      #expect(drift.file("\(fleet.root)/app/.env")?.hasDrift == false)
      let reading = report.host(three)?.flags.first?.files.first
      #expect(reading?.value == "true")
      #expect(reading?.percent == "100")
      // Nothing was written: host-3's remaining files are byte for byte what they were.
      #expect(
        try Data(contentsOf: URL(fileURLWithPath: "\(root3)/.env"))
          == Data(saved[2].files[2].bytes))
    }

    @Test("drift: the one host whose value differs from the majority is named, per file")
    func driftOnOneHost() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let hosts = Array(fleet.hosts.prefix(3))
      let two = hosts[1].name
      let path = "\(fleet.localRoot(of: two))/app/.env.production"
      let saved = try FleetFlagFileTests.Saved([path])
      defer { saved.restore() }
      let text = try String(contentsOfFile: path, encoding: .utf8)
      try text.replacingOccurrences(of: "\(Self.key)=true", with: "\(Self.key)=false").write(
        toFile: path, atomically: false, encoding: .utf8)

      let report = await FleetPreflight(transport: transport, timeout: .seconds(20)).check(
        hosts.map { FleetPreflight.Target(host: $0, flags: [Self.flag(fleet, changes: false)]) })
      await transport.shutdown(hosts)
      #expect(report.isClean, "\(report.problems.map(\.description))")
      let drift = try #require(report.drift["backend-api"])
      #expect(drift.driftingHosts == [two])
      let production = try #require(drift.file("\(fleet.root)/app/.env.production"))
      #expect(production.majority == "true")
      #expect(production.drifting == [two])
      #expect(production.values.map(\.value) == ["true", "false", "true"])
      #expect(drift.file("\(fleet.root)/app/.env.local")?.hasDrift == false)
      // The CRLF host reads the same values as the others (no "\r" in them).
      #expect(report.host(fleet.crlfHost)?.flags.first?.files.map(\.value) == ["true", "true", "true"])
    }

    @Test(
      "a hung host (sshd frozen) is reported unreachable within the connect timeout; the others are checked meanwhile"
    )
    func hungHostIsBounded() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let hosts = Array(fleet.hosts.prefix(3))
      let three = hosts[2].name
      try fleet.ctl("freeze-sshd", three)
      defer { try? fleet.ctl("thaw-sshd", three) }
      let clock = ContinuousClock()
      let start = clock.now
      let report = await FleetPreflight(transport: transport, timeout: .seconds(8)).check(
        hosts.map {
          FleetPreflight.Target(host: $0, flags: [Self.flag(fleet)], executables: ["supervisorctl", "sh"])
        })
      let elapsed = clock.now - start
      try fleet.ctl("thaw-sshd", three)
      await transport.shutdown(hosts)
      #expect(elapsed < .seconds(12), "preflight took \(elapsed)")
      #expect(report.unreachableHosts == [three])
      #expect(report.problems.count == 1, "\(report.problems.map(\.description))")
      #expect(report.problems.first?.host == three)
      #expect(report.host(hosts[0].name)?.problems.isEmpty == true)
      #expect(report.host(hosts[1].name)?.flags.first?.files.count == 3)
    }

    @Test("a host whose key is not the pinned one is refused (never a prompt), the other hosts still checked")
    func hostKeyRefused() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let hosts = Array(fleet.hosts.prefix(3))
      let two = hosts[1].name
      try fleet.ctl("wrong-host-key", two)
      defer { try? fleet.ctl("right-host-key", two) }
      let report = await FleetPreflight(transport: transport, timeout: .seconds(20)).check(
        hosts.map { FleetPreflight.Target(host: $0, flags: [Self.flag(fleet)], executables: ["sh"]) })
      await transport.shutdown(hosts)
      #expect(report.unreachableHosts == [two])
      let problem = try #require(report.host(two)?.problems.first)
      guard case .unreachable(.hostKeyMismatch) = problem else {
        Issue.record("expected a refused host key, got \(problem)")
        return
      }
      #expect(problem.description.hasPrefix("\(two): host key verification failed"), "\(problem)")
      #expect(report.host(hosts[0].name)?.problems.isEmpty == true)
      #expect(report.host(hosts[2].name)?.flags.first?.files.count == 3)
    }

    @Test("a directory the replacement cannot be written in is reported, for existing and creatable files")
    func unwritableDirectory() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.hosts[0]
      let app = "\(fleet.localRoot(of: host.name))/app"
      try Self.chattr("+i", app)
      defer { try? Self.chattr("-i", app) }
      var flag = Self.flag(fleet)
      flag.files.append("\(fleet.root)/app/.env.new")
      flag.create = true
      let report = await FleetPreflight(transport: transport, timeout: .seconds(20)).check([
        FleetPreflight.Target(host: host, flags: [flag])
      ])
      try Self.chattr("-i", app)
      await transport.shutdown([host])
      let directory = "\(fleet.root)/app"
      #expect(
        report.problems.map(\.description)
          == (Self.names + [".env.new"]).map {
            "\(host.name): \(directory)/\($0): its directory \(directory) is not writable by the ssh user"
          })
      // The missing file the flag may create reads as unset, not as a problem of its own.
      let created = report.host(host.name)?.flags.first?.files.last
      #expect(created?.missing == true)
      #expect(created?.problem == nil)
    }
  }
}
