import Foundation
import Testing

/// A loopback stand-in for PagerDuty's Events API and Grafana's annotations API (Python's
/// http.server): it logs each request's method, path, headers and JSON body, and answers as
/// the documented services do (202 with the dedup key; 200 with an annotation id). Paths under
/// `/broken` answer 400.
final class OnCallLoopbackServer {
  let process = Process()
  let port: Int
  let log: URL

  static let script = """
    import http.server, json, sys
    class H(http.server.BaseHTTPRequestHandler):
        def handle_one(self):
            raw = self.rfile.read(int(self.headers.get('Content-Length') or 0))
            try:
                body = json.loads(raw) if raw else None
            except Exception:
                body = raw.decode('utf-8', 'replace')
            with open(sys.argv[1], 'a') as f:
                f.write(json.dumps({'method': self.command, 'path': self.path,
                                    'auth': self.headers.get('Authorization'),
                                    'type': self.headers.get('Content-Type'), 'body': body}) + '\\n')
            if self.path.startswith('/broken'):
                status, answer = 400, {'message': 'broken on purpose'}
            elif self.path.endswith('/enqueue'):
                key = body.get('dedup_key') if isinstance(body, dict) else None
                status, answer = 202, {'status': 'success', 'message': 'Event processed', 'dedup_key': key or 'srv-key'}
            elif self.command == 'POST' and self.path.endswith('/api/annotations'):
                status, answer = 200, {'id': 42, 'message': 'Annotation added'}
            else:
                status, answer = 200, {'message': 'Annotation patched'}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def do_POST(self): self.handle_one()
        def do_PATCH(self): self.handle_one()
        def do_DELETE(self): self.handle_one()
        def log_message(self, *args):
            pass
    s = http.server.HTTPServer(('127.0.0.1', 0), H)
    with open(sys.argv[2], 'w') as f:
        f.write(str(s.server_address[1]))
    s.serve_forever()
    """

  init(in directory: URL) throws {
    log = directory.appendingPathComponent("oncall-requests.log")
    let portFile = directory.appendingPathComponent("oncall-port")
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", Self.script, log.path, portFile.path]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(10)
    var found: Int?
    while Date() < deadline, found == nil {
      found = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { Int($0) }
      if found == nil { Thread.sleep(forTimeInterval: 0.02) }
    }
    port = try #require(found)
  }

  var url: String { "http://127.0.0.1:\(port)" }

  /// The requests received so far, in order.
  func requests() -> [[String: Any]] {
    let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
  }

  /// `METHOD PATH` of each request, in order.
  func lines() -> [String] {
    requests().map { "\($0["method"] as? String ?? "") \($0["path"] as? String ?? "")" }
  }

  /// Kills the server.
  func stop() {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }
}

/// One on-call test's directory, loopback server and runbook (level 1 with the given steps);
/// `remove()` stops the server and deletes the directory.
struct OnCallRun {
  let directory: URL
  let server: OnCallLoopbackServer

  /// `edit` may change the runbook's text, knowing the server, before it is written.
  init(
    grafanaPath: String = "", steps: String,
    edit: (_ text: String, _ server: OnCallLoopbackServer) -> String = { text, _ in text }
  ) throws {
    directory = try CLI.temporaryDirectory()
    server = try OnCallLoopbackServer(in: directory)
    let text = edit(OnCallRunTests.runbook(server: server, grafanaPath: grafanaPath, steps: steps), server)
    try text.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
  }

  /// `rollback ARGUMENTS` in the directory, with the integrations' secrets in its environment.
  func rollback(_ arguments: [String]) throws -> CLIResult {
    try CLI.run(arguments, in: directory, environment: OnCallRunTests.environment)
  }

  /// Every run journal of the directory, concatenated.
  func journal() throws -> String {
    let runs = directory.appendingPathComponent(".rollback/runs")
    return try FileManager.default.contentsOfDirectory(atPath: runs.path).filter { $0.hasSuffix(".jsonl") }
      .map { try String(contentsOfFile: runs.appendingPathComponent($0).path, encoding: .utf8) }.joined()
  }

  func remove() {
    server.stop()
    CLI.removeTemporaryDirectory(directory)
  }
}

/// Runs of the real binary whose runbook sends PagerDuty events and Grafana annotations to a
/// loopback server, checked request by request.
@Suite("on-call run events")
struct OnCallRunTests {
  static let routingKey = "R0uting-Key-5ecret-77"
  static let grafanaToken = "glsa_T0ken-5ecret-99"

  static func runbook(server: OnCallLoopbackServer, grafanaPath: String = "", steps: String) -> String {
    """
    version: 1
    name: oncall-demo
    environments: {local: {}}
    notify:
      pagerduty: {routing_key_env: PD_KEY, url: "\(server.url)", component: checkout}
      grafana: {url: "\(server.url)\(grafanaPath)", token_env: GRAFANA_TOKEN, dashboard_uid: checkout-overview}
    levels:
      1:
        name: Flip
        target: 5m
        steps:
    \(steps)
    """
  }

  static var environment: [String: String] { ["PD_KEY": routingKey, "GRAFANA_TOKEN": grafanaToken] }

  static func runID(_ output: String) throws -> String {
    let range = try #require(output.range(of: #"run \d{8}T\d{6}Z-[0-9a-f]+"#, options: .regularExpression))
    return String(output[range].dropFirst(4))
  }

  static func body(_ request: [String: Any]) -> [String: Any] { request["body"] as? [String: Any] ?? [:] }

  @Test(
    "execute: change events at start and finish, a Grafana region opened and closed with the same id; keys never shown"
  )
  func executeSendsRunEvents() throws {
    let fixture = try OnCallRun(
      steps: """
              - id: work
                run: {shell: "true"}
        """)
    defer { fixture.remove() }
    let run = try fixture.rollback(["execute", "--level", "1", "--yes"])
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    let id = try Self.runID(run.stdout + run.stderr)
    #expect(
      fixture.server.lines() == [
        "POST /v2/change/enqueue", "POST /api/annotations", "POST /v2/change/enqueue",
        "PATCH /api/annotations/42",
      ])
    let requests = fixture.server.requests()
    guard requests.count == 4 else { return }
    // The start: a change event with the run's facts, from this host.
    let start = Self.body(requests[0])
    #expect(start["routing_key"] as? String == Self.routingKey)
    #expect(requests[0]["type"] as? String == "application/json")
    let payload = start["payload"] as? [String: Any] ?? [:]
    #expect(payload["summary"] as? String == "rollback oncall-demo level 1 started in local (run \(id))")
    #expect(payload["source"] as? String == ProcessInfo.processInfo.hostName)
    #expect(payload["timestamp"] as? String != nil)
    let details = payload["custom_details"] as? [String: Any] ?? [:]
    #expect(details["run_id"] as? String == id)
    #expect(details["level"] as? Int == 1)
    #expect(details["environment"] as? String == "local")
    // The annotation: bearer token, tags, text with the run id; closed with timeEnd.
    #expect(requests[1]["auth"] as? String == "Bearer \(Self.grafanaToken)")
    let annotation = Self.body(requests[1])
    #expect(annotation["tags"] as? [String] == ["rollback", "oncall-demo", "local", "level:1"])
    #expect((annotation["text"] as? String)?.contains(id) == true)
    #expect(annotation["dashboardUID"] as? String == "checkout-overview")
    #expect(annotation["time"] as? Int != nil)
    let finish = Self.body(requests[2])["payload"] as? [String: Any] ?? [:]
    #expect(finish["summary"] as? String == "rollback oncall-demo level 1 succeeded in local (run \(id))")
    #expect(requests[3]["auth"] as? String == "Bearer \(Self.grafanaToken)")
    let close = Self.body(requests[3])
    #expect((close["timeEnd"] as? Int ?? 0) >= (annotation["time"] as? Int ?? Int.max))

    // The report names the calls and the annotation id; no secret anywhere.
    let report = try fixture.rollback(["report", id])
    #expect(report.status == 0, "\(report.stderr)")
    #expect(report.stdout.contains("### Integrations"), "\(report.stdout)")
    #expect(report.stdout.contains("grafana annotate 42"))
    #expect(report.stdout.contains("grafana close 42"))
    #expect(report.stdout.contains("pagerduty change — run started"))
    let journal = try fixture.journal()
    #expect(journal.contains(#""event":"integration""#))
    for secret in [Self.routingKey, Self.grafanaToken] {
      for text in [run.stdout, run.stderr, journal, report.stdout, report.stderr] {
        #expect(!text.contains(secret), "\(secret) shown")
      }
    }
  }

  @Test("a failed run triggers an alert keyed by the run; its successful resume resolves the same key")
  func failedRunTriggersAndResumeResolves() throws {
    let fixture = try OnCallRun(
      steps: """
              - id: work
                run: {shell: "test -e fixed.marker"}
        """)
    defer { fixture.remove() }
    let failed = try fixture.rollback(["execute", "--level", "1", "--yes"])
    #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
    let id = try Self.runID(failed.stdout + failed.stderr)
    let key = "rollback/oncall-demo/local/\(id)"
    #expect(
      fixture.server.lines() == [
        "POST /v2/change/enqueue", "POST /api/annotations", "POST /v2/enqueue", "POST /v2/change/enqueue",
        "PATCH /api/annotations/42",
      ])
    let trigger = Self.body(fixture.server.requests()[2])
    #expect(trigger["event_action"] as? String == "trigger")
    #expect(trigger["dedup_key"] as? String == key)
    #expect(trigger["routing_key"] as? String == Self.routingKey)
    let payload = trigger["payload"] as? [String: Any] ?? [:]
    #expect(payload["severity"] as? String == "critical")
    #expect(payload["component"] as? String == "checkout")
    #expect(payload["summary"] as? String == "rollback oncall-demo level 1 failed in local (run \(id))")

    try Data().write(to: fixture.directory.appendingPathComponent("fixed.marker"))
    let resumed = try fixture.rollback(["resume", id, "--yes"])
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    let after = Array(fixture.server.lines().dropFirst(5))
    #expect(
      after == [
        "POST /v2/change/enqueue", "POST /api/annotations", "POST /v2/enqueue", "POST /v2/change/enqueue",
        "PATCH /api/annotations/42",
      ])
    let requests = fixture.server.requests()
    guard requests.count == 10 else { return }
    let resolve = Self.body(requests[7])
    #expect(resolve["event_action"] as? String == "resolve")
    #expect(resolve["dedup_key"] as? String == key)
    let resumedStart = Self.body(requests[5])["payload"] as? [String: Any] ?? [:]
    #expect(resumedStart["summary"] as? String == "rollback oncall-demo level 1 resumed in local (run \(id))")

    let report = try fixture.rollback(["report", id])
    #expect(report.stdout.contains("pagerduty trigger \(key)"), "\(report.stdout)")
    #expect(report.stdout.contains("pagerduty resolve \(key)"))
    let journal = try fixture.journal()
    for text in [failed.stdout, failed.stderr, resumed.stdout, resumed.stderr, journal, report.stdout] {
      #expect(!text.contains(Self.routingKey) && !text.contains(Self.grafanaToken))
    }
  }

  @Test("a notify: {pagerduty: trigger} step sends an alert event; its dedup key is journalled and reported")
  func notifyStepTriggers() throws {
    let fixture = try OnCallRun(
      steps: """
              - id: page
                notify: {pagerduty: trigger, severity: warning, summary: "checkout degraded, run ${run.id}"}
        """)
    defer { fixture.remove() }
    let run = try fixture.rollback(["execute", "--level", "1", "--yes"])
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    let id = try Self.runID(run.stdout + run.stderr)
    let alerts = fixture.server.requests().filter { $0["path"] as? String == "/v2/enqueue" }
    #expect(alerts.count == 1)
    let alert = Self.body(alerts.first ?? [:])
    #expect(alert["event_action"] as? String == "trigger")
    #expect(alert["dedup_key"] as? String == "rollback/oncall-demo/local/\(id)")
    let payload = alert["payload"] as? [String: Any] ?? [:]
    #expect(payload["severity"] as? String == "warning")
    #expect(payload["summary"] as? String == "checkout degraded, run \(id)")
    let journal = try fixture.journal()
    #expect(journal.contains(#""action":"trigger","id":"rollback/oncall-demo/local/\#(id)","step":"page""#))
    let report = try fixture.rollback(["report", id])
    #expect(report.stdout.contains("pagerduty trigger rollback/oncall-demo/local/\(id) (step page)"))
  }

  @Test("a failing integration is a warning, journalled with its error; the rollback goes on and succeeds")
  func failingIntegrationNeverStopsTheRun() throws {
    let fixture = try OnCallRun(
      grafanaPath: "/broken",
      steps: """
              - id: work
                run: {shell: "touch done.marker"}
        """)
    defer { fixture.remove() }
    let run = try fixture.rollback(["execute", "--level", "1", "--yes"])
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    #expect(
      FileManager.default.fileExists(atPath: fixture.directory.appendingPathComponent("done.marker").path))
    #expect(
      (run.stdout + run.stderr).contains(
        "warning: grafana: HTTP 400: broken on purpose (an integration failure never stops a rollback)"),
      "\(run.stdout)\(run.stderr)")
    // No annotation id came back: nothing to close.
    #expect(!fixture.server.lines().contains { $0.hasPrefix("PATCH") })
    let journal = try fixture.journal()
    #expect(journal.contains(#""service":"grafana","action":"annotate","id":null"#), "\(journal)")
    #expect(journal.contains(#""error":"HTTP 400: broken on purpose""#))
  }

  @Test("a drill sends change events marked [DRILL] and no alert unless --page")
  func drillPagesOnlyWithPage() throws {
    let fixture = try OnCallRun(
      steps: """
              - id: page
                notify: {pagerduty: trigger, summary: "checkout degraded"}
              - id: work
                run: {shell: "false"}
        """)
    defer { fixture.remove() }
    let quiet = try fixture.rollback(["drill", "--level", "1", "--yes"])
    #expect(quiet.status == 1, "\(quiet.stdout)\(quiet.stderr)")
    let counts = Dictionary(fixture.server.lines().map { ($0, 1) }, uniquingKeysWith: +)
    #expect(counts["POST /v2/enqueue"] == nil, "\(fixture.server.lines())")
    #expect(counts["POST /v2/change/enqueue"] == 2)
    for change in fixture.server.requests() where change["path"] as? String == "/v2/change/enqueue" {
      let summary = (Self.body(change)["payload"] as? [String: Any])?["summary"] as? String ?? ""
      #expect(summary.hasPrefix("[DRILL] rollback oncall-demo level 1 "), "\(summary)")
    }
    let annotation = fixture.server.requests().first { $0["path"] as? String == "/api/annotations" }
    #expect((Self.body(annotation ?? [:])["text"] as? String)?.hasPrefix("[DRILL] ") == true)

    let seen = fixture.server.requests().count
    let paged = try fixture.rollback(["drill", "--level", "1", "--yes", "--page"])
    #expect(paged.status == 1)
    let alerts = fixture.server.requests().dropFirst(seen).filter { $0["path"] as? String == "/v2/enqueue" }
    // The step's trigger and the failed run's trigger, both marked as a drill.
    #expect(alerts.count == 2, "\(fixture.server.lines())")
    for alert in alerts {
      let summary = (Self.body(alert)["payload"] as? [String: Any])?["summary"] as? String ?? ""
      #expect(summary.hasPrefix("[DRILL] "), "\(summary)")
    }
  }

  @Test("a dry run sends no event and says what it would silence and page")
  func dryRunSendsNothing() throws {
    let fixture = try OnCallRun(
      steps: """
              - id: quiet
                silence: {matchers: ["service=checkout", "severity=~warning|critical"], for: 15m}
              - id: page
                notify: {pagerduty: trigger, summary: "checkout degraded"}
        """
    ) { text, server in
      text.replacingOccurrences(of: "notify:\n", with: "notify:\n  alertmanager: {url: \"\(server.url)\"}\n")
    }
    defer { fixture.remove() }
    let run = try fixture.rollback(["execute", "--level", "1", "--dry-run"])
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    #expect(
      run.stdout.contains(
        "would silence service=checkout, severity=~warning|critical for 15m (nothing posted)"),
      "\(run.stdout)")
    #expect(run.stdout.contains("would send PagerDuty trigger: checkout degraded"))
    #expect(fixture.server.requests().isEmpty, "\(fixture.server.lines())")
  }

  @Test(
    "Ctrl-C mid-run: the interrupted run still triggers its alert, sends its finish and closes its annotation"
  )
  func interruptedRunTriggers() async throws {
    let fixture = try OnCallRun(
      steps: """
              - id: hold
                run: {shell: "touch held; exec sleep 60"}
        """)
    defer { fixture.remove() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CLI.binary)
    process.arguments = ["execute", "--level", "1", "--yes"]
    process.currentDirectoryURL = fixture.directory
    var environment = ProcessInfo.processInfo.environment
    for (name, value) in Self.environment { environment[name] = value }
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let held = fixture.directory.appendingPathComponent("held").path
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline, !FileManager.default.fileExists(atPath: held) {
      try await Task.sleep(for: .milliseconds(50))
    }
    kill(process.processIdentifier, SIGINT)
    process.waitUntilExit()
    #expect(process.terminationStatus == 130)
    #expect(
      fixture.server.lines() == [
        "POST /v2/change/enqueue", "POST /api/annotations", "POST /v2/enqueue", "POST /v2/change/enqueue",
        "PATCH /api/annotations/42",
      ])
    let trigger = Self.body(fixture.server.requests().dropFirst(2).first ?? [:])
    #expect(trigger["event_action"] as? String == "trigger")
    #expect((trigger["dedup_key"] as? String)?.hasPrefix("rollback/oncall-demo/local/") == true)
    let summary = (trigger["payload"] as? [String: Any])?["summary"] as? String ?? ""
    #expect(summary.hasPrefix("rollback oncall-demo level 1 interrupted in local"), "\(summary)")
  }
}
