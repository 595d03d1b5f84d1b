import Foundation
import Testing

@testable import RollbackSystem

extension FleetHostTests {
  @Suite("SSHTransport on real sshd hosts")
  struct FleetTransportTests {
    @Test("a command on 3 hosts in parallel: each answers with its own hostname")
    func hostnames() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let hosts = Array(fleet.hosts.prefix(3))
      let answers = await transport.forEachHost(hosts) { host -> String in
        (try? await transport.run(on: host, script: "hostname", timeout: .seconds(20)))?.stdout
          .joined(separator: "\n") ?? "(failed)"
      }
      await transport.shutdown(hosts)
      #expect(answers == ["host-1": "host-1", "host-2": "host-2", "host-3": "host-3"])
    }

    @Test("values with quotes, newlines, $(…) and backquotes arrive byte-exact, as arguments and on stdin")
    func valuesAsData() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-1")
      let marker = "/tmp/rollback-fleet-test-injected-\(getpid())"
      let values = [
        "it's", "say \"hi\"", "two\nlines\n", "$(touch \(marker))", "`touch \(marker)`", "; touch \(marker)",
        "back\\slash", " spaced  out ", "*", "", "-n", "%s%d", "tab\there", "caf\u{e9} \u{1F680}",
      ]
      let script = "for a in \"$@\"; do printf %s \"$a\" | base64 -w0; echo; done"
      let output = try await transport.run(on: host, script: script, arguments: values, timeout: .seconds(20))
      let decoded = output.stdout.map { String(decoding: Data(base64Encoded: $0) ?? Data(), as: UTF8.self) }
      #expect(decoded == values)
      let input: [UInt8] = Array("a\r\nb'\"$(x)\0\u{7f}".utf8) + [0xff, 0xfe, 0x00, 0x0a]
      let echoed = try await transport.run(
        on: host, script: "base64 -w0; echo", input: input, timeout: .seconds(20))
      #expect(Data(base64Encoded: echoed.stdout.first ?? "").map { [UInt8]($0) } == input)
      await transport.shutdown([host])
      #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("one SSH connection per host across many actions; masters closed and the control directory removed")
    func oneConnectionPerHost() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let hosts = Array(fleet.hosts.prefix(3))
      var before: [String: Int] = [:]
      for host in hosts { before[host.name] = try fleet.connections(host.name) }
      let unreachable = await transport.openMasters(hosts, timeout: .seconds(20))
      #expect(unreachable.isEmpty)
      for round in 0..<10 {
        let answers = await transport.forEachHost(hosts) { host -> String? in
          try? await transport.run(
            on: host, script: "echo \"$1\"", arguments: ["\(round)"], timeout: .seconds(20)
          )
          .stdout.first
        }
        #expect(Set(answers.values.compactMap { $0 }) == ["\(round)"])
      }
      for host in hosts {
        #expect(await transport.hasMaster(host))
        #expect(try fleet.connections(host.name) == (before[host.name] ?? 0) + 1, "\(host.name)")
      }
      // Each master was found (so a timed-out action's cleanup never takes it for a stray).
      #expect(transport.knownMasterCount == hosts.count)
      let directory = transport.controlDirectory
      var info = stat()
      #expect(stat(directory, &info) == 0 && info.st_mode & 0o777 == 0o700)
      #expect(directory.utf8.count + 1 + 40 < 100)
      await transport.shutdown(hosts)
      for host in hosts { #expect(!(await transport.hasMaster(host))) }
      #expect(!FileManager.default.fileExists(atPath: directory))
      // No master process is left running for the closed directory.
      let left = try fleet.run(["/usr/bin/pgrep", "-f", directory])
      #expect(left.output.isEmpty, "\(left.output)")
    }

    @Test("a host whose sshd is stopped is unreachable, well within the timeout")
    func stoppedIsUnreachable() async throws {
      let fleet = try TestFleet.current()
      try fleet.ctl("stop-sshd", "host-2")
      defer { _ = try? fleet.ctl("start-sshd", "host-2") }
      let transport = try fleet.transport()
      let started = ContinuousClock.now
      await #expect {
        try await transport.run(on: fleet.host("host-2"), script: "true", timeout: .seconds(15))
      } throws: { error in
        guard case .unreachable(let host, let detail) = error as? SSHError else { return false }
        return host == "host-2" && detail.contains("Connection refused")
      }
      #expect(ContinuousClock.now - started < .seconds(10))
      let failures = await transport.openMasters(Array(fleet.hosts.prefix(3)), timeout: .seconds(15))
      #expect(Array(failures.keys) == ["host-2"])
      #expect(failures["host-2"]?.description.hasPrefix("host-2: unreachable over ssh") == true)
      await transport.shutdown(Array(fleet.hosts.prefix(3)))
    }

    @Test("a frozen sshd: the action times out, ssh's process group is killed, no ssh is left")
    func frozenTimesOut() async throws {
      let fleet = try TestFleet.current()
      try fleet.ctl("freeze-sshd", "host-1")
      defer { _ = try? fleet.ctl("thaw-sshd", "host-1") }
      let transport = try fleet.transport()
      let started = ContinuousClock.now
      await #expect(throws: SSHError.timedOut(host: "host-1", after: .seconds(2))) {
        try await transport.run(on: fleet.host("host-1"), script: "true", timeout: .seconds(2))
      }
      let elapsed = ContinuousClock.now - started
      #expect(elapsed >= .seconds(2) && elapsed < .seconds(5), "\(elapsed)")
      let left = try fleet.run(["/usr/bin/pgrep", "-f", transport.controlDirectory])
      #expect(left.status == 1 && left.output.isEmpty, "ssh left running: \(left.output)")
      await transport.shutdown([fleet.host("host-1")])
    }

    @Test("a changed host key is refused with a clear message naming the host, never a prompt")
    func wrongHostKey() async throws {
      let fleet = try TestFleet.current()
      try fleet.ctl("wrong-host-key", "host-3")
      defer { _ = try? fleet.ctl("right-host-key", "host-3") }
      let transport = try fleet.transport()
      let before = try fleet.connections("host-3")
      var caught: SSHError?
      do {
        try await transport.run(
          on: fleet.host("host-3"), script: "touch /srv/rollback-fleet/ran", timeout: .seconds(15))
      } catch {
        caught = error
      }
      guard case .hostKeyMismatch(let host, _)? = caught else {
        Issue.record("expected a host key mismatch, got \(String(describing: caught))")
        return
      }
      #expect(host == "host-3")
      #expect(caught?.description.hasPrefix("host-3: host key verification failed") == true)
      #expect(try fleet.connections("host-3") == before)
      #expect(!FileManager.default.fileExists(atPath: fleet.localRoot(of: "host-3") + "/ran"))
      await transport.shutdown([fleet.host("host-3")])
    }

    @Test("a remote command that hangs is stopped at its timeout; the host's master connection survives")
    func hangingCommandTimesOut() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-2")
      #expect(await transport.openMasters([host], timeout: .seconds(20)).isEmpty)
      let before = try fleet.connections(host.name)
      let started = ContinuousClock.now
      await #expect(throws: SSHError.timedOut(host: "host-2", after: .seconds(1))) {
        try await transport.run(on: host, script: "sleep 30", timeout: .seconds(1))
      }
      #expect(ContinuousClock.now - started < .seconds(4))
      #expect(await transport.hasMaster(host))
      let again = try await transport.run(on: host, script: "hostname", timeout: .seconds(20))
      #expect(again.stdout == ["host-2"])
      #expect(try fleet.connections(host.name) == before)
      await transport.shutdown([host])
    }

    @Test("a remote command's failure carries its exit status and the redacted tail of its stderr")
    func remoteFailure() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport(secrets: ["hunter2-secret"])
      let host = fleet.host("host-1")
      await #expect(
        throws: SSHError.remoteFailed(
          host: "host-1", exitCode: 3, stderr: "cannot log in with ****\npostgres://u:****@db/x")
      ) {
        try await transport.run(
          on: host, script: "echo \"cannot log in with $1\" >&2; echo \"$2\" >&2; exit 3",
          arguments: ["hunter2-secret", "postgres://u:pw@db/x"], timeout: .seconds(20))
      }
      await transport.shutdown([host])
    }
  }
}

@Suite("SSHTransport without hosts: the ssh command line, error classification, the forks bound")
struct SSHTransportShapeTests {
  @Test(
    "argv: -F, BatchMode and the Control* options before the runbook's options, the script as quoted words")
  func argvShape() throws {
    let transport = try SSHTransport(config: "/etc/fleet ssh.conf", options: ["-o", "ConnectTimeout=7"])
    defer { rmdir(transport.controlDirectory) }
    let argv = transport.argv(
      on: SSHHost(name: "web-1", destination: "deploy@web-1"), script: "printf %s \"$1\"",
      arguments: ["it's $(x)"])
    let dir = transport.controlDirectory
    #expect(
      argv == [
        "ssh", "-F", "/etc/fleet ssh.conf", "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o",
        "ControlPersist=60s", "-o", "ControlPath=\(dir)/%C", "-o", "ConnectTimeout=7", "-o",
        "ServerAliveInterval=15", "deploy@web-1", "--", "sh", "-c", "'printf %s \"$1\"'", "sh",
        "'it'\\''s $(x)'",
      ])
    #expect(dir.hasPrefix("/tmp/rb-") && dir.utf8.count == 14)
    var info = stat()
    #expect(stat(dir, &info) == 0 && info.st_mode & 0o777 == 0o700)
  }

  @Test("ssh's messages are classified: changed host key, authentication, unreachable; anything else is not")
  func classify() {
    let changed = """
      @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
      @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
      @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
      Host key for [127.0.0.13]:2222 has changed and you have requested strict checking.
      Host key verification failed.
      """
    #expect(
      SSHError.classify(host: "web-3", stderr: changed)
        == .hostKeyMismatch(host: "web-3", detail: "Host key verification failed."))
    #expect(
      SSHError.classify(host: "web-1", stderr: "root@127.0.0.11: Permission denied (publickey).")
        == .authenticationFailed(host: "web-1", detail: "root@127.0.0.11: Permission denied (publickey)."))
    #expect(
      SSHError.classify(host: "web-2", stderr: "ssh: connect to host 127.0.0.12 port 22: Connection refused")
        == .unreachable(host: "web-2", detail: "ssh: connect to host 127.0.0.12 port 22: Connection refused"))
    #expect(SSHError.classify(host: "web-2", stderr: "my script exits 255 on purpose") == nil)
  }

  @Test("a transport dropped without shutdown removes its private control directory")
  func dropRemovesDirectory() throws {
    var directory = ""
    do {
      let transport = try SSHTransport()
      directory = transport.controlDirectory
      #expect(FileManager.default.fileExists(atPath: directory))
    }
    #expect(!directory.isEmpty && !FileManager.default.fileExists(atPath: directory))
  }

  @Test("forEachHost runs at most forks bodies at once and returns every host's result")
  func forksBound() async throws {
    let transport = try SSHTransport(forks: 2)
    defer { rmdir(transport.controlDirectory) }
    let hosts = (1...7).map { SSHHost(name: "h\($0)", destination: "h\($0)") }
    let gauge = Gauge()
    let results = await transport.forEachHost(hosts) { host -> String in
      await gauge.enter()
      try? await Task.sleep(for: .milliseconds(30))
      await gauge.leave()
      return host.destination
    }
    #expect(results.count == 7 && results["h5"] == "h5")
    #expect(await gauge.peak == 2)
  }

  actor Gauge {
    var current = 0
    var peak = 0
    func enter() {
      current += 1
      peak = max(peak, current)
    }
    func leave() { current -= 1 }
  }
}
