import RollbackCore
import Testing

/// The base runbook (see BrokenRunbookTests) with `pickup` lines after the web service's restart.
private func withPickup(_ lines: String) -> String {
  replacing(line: 14, with: "    restart: [systemctl, restart, web]\n" + lines)
}

@Suite("services' pickup: pid from a command, a pidfile or systemd, and an optional HTTP value")
struct PickupSettingsTests {
  @Test("each pid source and the http value are read")
  func readsPickup() throws {
    let result = RunbookLoader.load(
      source: withPickup(
        """
            pickup:
              pid: {command: [supervisorctl, pid, web]}
              http: {url: "http://127.0.0.1:3000/api/config", json_path: flags.USE_API}
        """), file: "demo.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
    let pickup = try #require(result.runbook?.services["web"]?.pickup)
    guard case .command = pickup.pid else {
      Issue.record("expected a command pid source")
      return
    }
    #expect(pickup.http?.jsonPath == ["flags", "USE_API"])
    for (line, expected) in [("{pidfile: /run/web.pid}", "pidfile"), ("{systemd: web.service}", "systemd")] {
      let other = RunbookLoader.load(source: withPickup("    pickup: {pid: \(line)}"), file: "demo.yaml")
      #expect(other.errors.isEmpty, "\(other.errors)")
      switch other.runbook?.services["web"]?.pickup?.pid {
      case .pidfile: #expect(expected == "pidfile")
      case .systemd: #expect(expected == "systemd")
      default: Issue.record("no pid source read for \(line)")
      }
    }
    // Without pickup, none.
    #expect(
      RunbookLoader.load(source: validRunbook, file: "demo.yaml").runbook?.services["web"]?.pickup == nil)
  }

  static let broken: [(String, String)] = [
    (
      "    pickup: {http: {url: x, json_path: a}}",
      "15:13: error: missing required key 'pid' in pickup of service 'web'"
    ),
    (
      "    pickup: {pid: {pidfile: /run/web.pid, systemd: web}}",
      "15:19: error: pid of pickup of service 'web' needs exactly one of command, pidfile or systemd; found pidfile and systemd"
    ),
    (
      "    pickup: {pid: {}}",
      "15:19: error: pid of pickup of service 'web' needs exactly one of command, pidfile or systemd"
    ),
    (
      "    pickup: {pid: {pidfle: /run/web.pid}}",
      "15:20: error: unknown key 'pidfle' in pid of pickup of service 'web'; did you mean 'pidfile'?"
    ),
    (
      "    pickup: {pid: {systemd: web}, http: {url: \"http://x/c\", json_path: flags..USE_API}}",
      "15:72: error: json_path of http of pickup of service 'web' must be dot-separated keys, none empty (e.g. flags.USE_API), found 'flags..USE_API'"
    ),
    (
      "    pickup: {pid: {systemd: web}, http: {url: \"http://x/c\"}}",
      "15:41: error: missing required key 'json_path' in http of pickup of service 'web'"
    ),
  ]

  @Test("a wrong pickup gives a located error and no runbook", arguments: broken)
  func brokenPickup(_ lines: String, _ expected: String) {
    let result = RunbookLoader.load(source: withPickup(lines), file: "demo.yaml")
    let printed = result.errors.map(\.description)
    #expect(printed.contains("demo.yaml:" + expected), "got: \(printed)")
    #expect(result.runbook == nil)
  }
}

@Suite("pickup's templates are checked like the service's own")
struct PickupTemplateTests {
  @Test("an unknown variable in pickup is an error; a known one is fine")
  func unknownVariable() {
    let bad = RunbookLoader.load(
      source: replacing(
        line: 14,
        with: "    restart: [systemctl, restart, web]\n    pickup: {pid: {pidfile: \"${run_dir}/web.pid\"}}"),
      file: "demo.yaml")
    #expect(bad.runbook == nil)
    #expect(bad.errors.contains { $0.message.contains("run_dir") }, "\(bad.errors)")
    let good = RunbookLoader.load(
      source: replacing(
        line: 14,
        with: "    restart: [systemctl, restart, web]\n    pickup: {pid: {pidfile: \"${app_dir}/web.pid\"}}"),
      file: "demo.yaml")
    #expect(good.errors.isEmpty, "\(good.errors)")
  }
}
