import Foundation
import Testing

/// Writes `text` as `rollback.yaml` in `directory`.
private func writeRunbook(_ text: String, in directory: URL) throws {
  try text.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
}

/// The bytes of every journal under `state`, as one string.
private func journalText(_ state: URL) throws -> String {
  try journals(in: state).map { try String(contentsOfFile: $0, encoding: .utf8) }.joined()
}

@Suite("secrets: one rule for names, masking and children's environment")
struct SecretRuleTests {
  static let runbook = """
    version: 1
    name: secrets
    environments:
      local:
        vars: {DB_PASSWD: default-pw, AUTH_HEADER: "Basic default"}
        postgres: {dsn_env: APP_DSN}
    flags:
      monkey: {key: MONKEY_MODE, files: [app.env], enabled: "true", disabled: "false"}
    levels:
      1:
        steps:
          - {flag: {name: monkey, set: enabled}}
          - id: show
            run:
              shell: >-
                echo pw=${DB_PASSWD} auth=${AUTH_HEADER};
                echo dsn=$(printenv APP_DSN || echo none);
                echo deploy=$(printenv DEPLOY_TOKEN || echo none);
                echo given=$(printenv GIVEN || echo none)
              env: {GIVEN: "${secret.DEPLOY_TOKEN}"}
    """

  @Test(
    "--var DB_PASSWD/AUTH_HEADER never reach output or journal; MONKEY_MODE is shown; children lose dsn_env and ${secret.X}"
  )
  func oneRuleEverywhere() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try writeRunbook(Self.runbook, in: directory)
    try "MONKEY_MODE=false\n".write(
      to: directory.appendingPathComponent("app.env"), atomically: true, encoding: .utf8)
    let result = try CLI.run(
      [
        "execute", "--level", "1", "--yes", "--var", "DB_PASSWD=Sup3rPw1", "--var",
        "AUTH_HEADER=Basic svc:Sekr3t",
      ],
      in: directory,
      environment: [
        "APP_DSN": "postgresql://app:Dsn-Pw-77@127.0.0.1/x", "DEPLOY_TOKEN": "Deploy-Tok-99",
        "MONKEY_MODE": "false",
      ])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    // MONKEY_MODE (exported too) is not a secret: its flip is shown as it is.
    #expect(result.stdout.contains("MONKEY_MODE false -> true (changed 1 of 1 file)"), "\(result.stdout)")
    #expect(result.stdout.contains("show │ pw=**** auth=****"), "\(result.stdout)")
    // The child did not inherit the DSN or the ${secret.X} variable, but got what env: passed.
    #expect(result.stdout.contains("show │ dsn=none"))
    #expect(result.stdout.contains("show │ deploy=none"))
    #expect(result.stdout.contains("show │ given=****"))
    let journal = try journalText(directory.appendingPathComponent(".rollback"))
    #expect(!journal.isEmpty)
    for secret in ["Sup3rPw1", "Sekr3t", "Dsn-Pw-77", "Deploy-Tok-99"] {
      #expect(!journal.contains(secret), "\(secret) in the journal")
      #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "\(secret) in the output")
    }
  }
}

@Suite("secrets whose values are common words")
struct CommonWordSecretTests {
  /// Every journal line under `state` parsed as a JSON object (a line that does not parse is an issue).
  static func journalObjects(_ state: URL) throws -> [[String: Any]] {
    try journalText(state).split(separator: "\n").compactMap { line in
      let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      if object == nil { Issue.record("not JSON: \(line)") }
      return object
    }
  }

  @Test("a secret-named variable holding True is not a secret: output and journal keep every true")
  func booleanInSecretNamedVariable() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try writeRunbook(SecretRuleTests.runbook, in: directory)
    try "MONKEY_MODE=false\n".write(
      to: directory.appendingPathComponent("app.env"), atomically: true, encoding: .utf8)
    let result = try CLI.run(
      ["execute", "--level", "1", "--yes"], in: directory,
      environment: ["SOME_KEY_CHECKING": "True", "DEPLOY_TOKEN": "Deploy-Tok-99"])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(result.stdout.contains("MONKEY_MODE false -> true (changed 1 of 1 file)"), "\(result.stdout)")
    let events = try Self.journalObjects(directory.appendingPathComponent(".rollback"))
    #expect(
      events.contains { $0["event"] as? String == "run-finished" && $0["status"] as? String == "succeeded" })
  }

  @Test("a secret whose value is a JSON word (false) is masked in strings only: the journal stays JSON")
  func secretValueThatIsAJSONWord() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try writeRunbook(SecretRuleTests.runbook, in: directory)
    try "MONKEY_MODE=false\n".write(
      to: directory.appendingPathComponent("app.env"), atomically: true, encoding: .utf8)
    let result = try CLI.run(
      ["execute", "--level", "1", "--yes", "--var", "DB_PASSWD=false"], in: directory,
      environment: ["DEPLOY_TOKEN": "Deploy-Tok-99"])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    let state = directory.appendingPathComponent(".rollback")
    let events = try Self.journalObjects(state)
    let started = try #require(events.first { $0["event"] as? String == "run-started" })
    #expect(started["dry_run"] as? Bool == false)
    // The step's output, kept in the journal, has the secret masked.
    let text = try journalText(state)
    #expect(text.contains("pw=****") && !text.contains("pw=false"), "\(text)")
    let report = try CLI.run(["report", "--json"], in: directory)
    #expect(report.status == 0, "\(report.stdout)\(report.stderr)")
  }
}

/// A loopback HTTP server (Python's http.server) that logs each request's path and secret
/// headers as one JSON line, for checking what a run really sent.
final class LoggingHTTPServer {
  let process = Process()
  let port: Int
  let log: URL

  static let script = """
    import http.server, json, sys
    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get('Content-Length') or 0))
            with open(sys.argv[1], 'a') as f:
                f.write(json.dumps({'path': self.path, 'auth': self.headers.get('Authorization'),
                                    'key': self.headers.get('X-Api-Key'),
                                    'cookie': self.headers.get('Cookie')}) + '\\n')
            self.send_response(200)
            self.send_header('Content-Length', '2')
            self.end_headers()
            self.wfile.write(b'ok')
        def log_message(self, *args):
            pass
    s = http.server.HTTPServer(('127.0.0.1', 0), H)
    with open(sys.argv[2], 'w') as f:
        f.write(str(s.server_address[1]))
    s.serve_forever()
    """

  init(in directory: URL) throws {
    log = directory.appendingPathComponent("requests.log")
    let portFile = directory.appendingPathComponent("port")
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

  /// The requests received so far.
  func requests() -> [[String: Any]] {
    let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
  }

  /// Kills the server (SIGKILL: a test process may pass SIGTERM on ignored).
  func stop() {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }
}

@Suite("secret headers")
struct SecretHeaderTests {
  @Test("Cookie and X-Api-Key values written in the runbook are sent but never shown or journalled")
  func literalSecretHeaders() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let server = try LoggingHTTPServer(in: directory)
    defer { server.stop() }
    let runbook = """
      version: 1
      name: headers
      environments: {local: {}}
      levels:
        1:
          steps:
            - id: call
              http:
                method: POST
                url: "http://127.0.0.1:\(server.port)/hook"
                headers: {Cookie: "session=Ck-123-abc", X-Api-Key: "Lit-Key-77", Accept: text/plain}
      """
    try writeRunbook(runbook, in: directory)
    let dry = try CLI.run(["execute", "--level", "1", "--dry-run", "--verbose"], in: directory)
    let real = try CLI.run(["execute", "--level", "1", "--yes", "--verbose", "--json"], in: directory)
    #expect(real.status == 0, "\(real.stdout)\(real.stderr)")
    #expect(dry.stdout.contains("Cookie: ****"), "\(dry.stdout)")
    #expect(dry.stdout.contains("X-Api-Key: ****"))
    #expect(dry.stdout.contains("Accept: text/plain"))
    let journal = try journalText(directory.appendingPathComponent(".rollback"))
    for secret in ["Ck-123-abc", "Lit-Key-77"] {
      for text in [dry.stdout, dry.stderr, real.stdout, real.stderr, journal] {
        #expect(!text.contains(secret), "\(secret) shown")
      }
    }
    let request = try #require(server.requests().first)
    #expect(request["cookie"] as? String == "session=Ck-123-abc")
    #expect(request["key"] as? String == "Lit-Key-77")
  }
}

@Suite("resume uses the original run's values")
struct ResumeValuesTests {
  /// Starts level 1 and kills it with SIGKILL while its first step runs.
  func startAndKill(in directory: URL, arguments: [String]) async throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CLI.binary)
    process.arguments = ["execute", "--level", "1", "--yes"] + arguments
    process.currentDirectoryURL = directory
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let pidFile = directory.appendingPathComponent("child.pid").path
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline, (try? String(contentsOfFile: pidFile, encoding: .utf8)) == nil {
      try await Task.sleep(for: .milliseconds(20))
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
      let child = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    {
      kill(child, SIGKILL)
    }
  }

  @Test(
    "a killed run resumes with its secret overrides given again, and the HTTP step sends the real values")
  func resumeSendsRealValues() async throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let server = try LoggingHTTPServer(in: directory)
    defer { server.stop() }
    let runbook = """
      version: 1
      name: resume-values
      environments:
        local:
          vars: {API_KEY: default-key, target: "http://127.0.0.1:1", label: default}
      levels:
        1:
          steps:
            - id: slow
              run: {shell: "if [ -e done.marker ]; then exit 0; fi; touch done.marker; echo $$ > child.pid; exec sleep 60"}
            - id: deploy
              http:
                method: POST
                url: "${target}/deploy/${label}"
                headers: {X-Api-Key: "${API_KEY}"}
                expect_status: 200
      """
    try writeRunbook(runbook, in: directory)
    let target = "http://svc:Pw-9x@127.0.0.1:\(server.port)"
    try await startAndKill(
      in: directory,
      arguments: ["--var", "API_KEY=Real-Key-42", "--var", "target=\(target)", "--var", "label=one"])
    let journal = try journalText(directory.appendingPathComponent(".rollback"))
    #expect(!journal.contains("Real-Key-42") && !journal.contains("Pw-9x"))
    #expect(journal.contains(#""secret_vars":["API_KEY","target"]"#), "\(journal)")
    #expect(journal.contains(#""vars":{"label":"one"}"#))

    // Without the secrets: exit 2 naming each, and nothing is sent.
    let refused = try CLI.run(["resume", "--yes"], in: directory)
    #expect(refused.status == 2)
    #expect(refused.stderr.contains("secret variables API_KEY, target"), "\(refused.stderr)")
    #expect(refused.stderr.contains("--var API_KEY=… --var target=…"))
    #expect(server.requests().isEmpty)

    // With them, and a different label: a warning naming both labels, and the real values sent.
    let resumed = try CLI.run(
      ["resume", "--yes", "--var", "API_KEY=Real-Key-42", "--var", "target=\(target)", "--var", "label=two"],
      in: directory)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(resumed.stderr.contains("--var label=two differs from run "), "\(resumed.stderr)")
    #expect(resumed.stderr.contains("label=one"))
    #expect(!resumed.stdout.contains("Real-Key-42") && !resumed.stdout.contains("Pw-9x"))
    let requests = server.requests()
    #expect(requests.count == 1)
    #expect(requests.first?["path"] as? String == "/deploy/two")
    #expect(requests.first?["key"] as? String == "Real-Key-42")
    let basic = "Basic " + Data("svc:Pw-9x".utf8).base64EncodedString()
    #expect(requests.first?["auth"] as? String == basic)
  }
}

@Suite("the journal fails closed")
struct JournalFailClosedTests {
  @Test(
    "a full disk under the state directory: no step starts after the failed write, exit 1, history says incomplete",
    .enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
  func fullDiskStopsTheRun() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let state = directory.appendingPathComponent("state")
    try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
    let mount = try Shell.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", state.path])
    try #require(mount.status == 0, "mount: \(mount.stderr)")
    defer { _ = try? Shell.run(["umount", state.path]) }
    let marker = directory.appendingPathComponent("second-ran")
    // `pad` leaves the journal most of a page long; `fill` fills the state filesystem, so its
    // step-finished line needs a page there is no room for.
    let runbook = """
      version: 1
      name: full-disk
      environments: {local: {}}
      levels:
        1:
          steps:
            - id: pad
              run: {shell: "head -c 1900 /dev/zero | tr '\\\\0' x; echo"}
            - id: fill
              run:
                shell: >-
                  cat /dev/zero > \(state.path)/filler 2>/dev/null;
                  cat /dev/zero > \(state.path)/filler2 2>/dev/null;
                  head -c 1900 /dev/zero | tr '\\0' y; echo
            - id: second
              run: [touch, \(marker.path)]
      """
    try writeRunbook(runbook, in: directory)
    let result = try CLI.run(
      ["execute", "--level", "1", "--yes", "--state-dir", state.path], in: directory)
    #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: marker.path), "a step ran after the journal failed")
    #expect(result.stdout.contains("cannot write journal"), "\(result.stdout)")
    #expect(result.stdout.contains("Already changed: pad, fill."), "\(result.stdout)")
    #expect(result.stdout.contains("is incomplete"))
    #expect(!result.stdout.contains("Rolled back"))
    // Free the space so history can be read as a user would, then look.
    for name in ["filler", "filler2"] {
      try FileManager.default.removeItem(atPath: state.appendingPathComponent(name).path)
    }
    let history = try CLI.run(["history", "--state-dir", state.path], in: directory)
    #expect(history.status == 0, "\(history.stderr)")
    #expect(history.stdout.contains("incomplete"), "\(history.stdout)")
    #expect(!history.stdout.contains("in progress"))
    let report = try CLI.run(["report", "--state-dir", state.path], in: directory)
    #expect(report.status == 0, "\(report.stderr)")
    #expect(report.stdout.contains("| Outcome | incomplete |"), "\(report.stdout)")
  }
}

@Suite("huge numbers never crash a run, history or report")
struct NumberCrashTests {
  @Test("a wait of 10^15 hours is refused at load with its place, before the first change")
  func hugeDurationRefusedBeforeChanges() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let marker = directory.appendingPathComponent("changed")
    let runbook = """
      version: 1
      name: huge
      environments: {local: {prometheus: {url: "http://127.0.0.1:1"}}}
      levels:
        1:
          steps:
            - {id: change, run: [touch, \(marker.path)]}
            - id: wait
              wait: "x < 1"
              within: 999999999999999h
      signals:
        x: {prometheus: up, unit: count}
      """
    try writeRunbook(runbook, in: directory)
    for arguments in [["validate"], ["execute", "--level", "1", "--yes"]] {
      let result = try CLI.run(arguments, in: directory)
      #expect(result.status == 2, "\(arguments): \(result.stdout)\(result.stderr)")
      #expect(
        result.stderr.contains(
          "rollback.yaml:10:17: error: duration '999999999999999h' for within of step 'wait' of level 1 is too long"
        ),
        "\(result.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: marker.path))
    // The same bound on a duration given on the command line.
    try writeRunbook(runbook.replacingOccurrences(of: "999999999999999h", with: "1m"), in: directory)
    let watch = try CLI.run(["assess", "--watch", "999999999999999h"], in: directory)
    #expect(watch.status == 2, "\(watch.stdout)\(watch.stderr)")
    #expect(watch.stderr.contains("--watch 999999999999999h is too long; at most 168h (7 days)"))
  }

  @Test("a journal claiming target_s 1e300 and a negative duration: history and report still work")
  func outOfRangeJournal() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let runs = directory.appendingPathComponent("runs")
    try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
    let journal = """
      {"event":"run-started","run_id":"20260101T000000Z-0001","command":"execute","runbook":"x","environment":"local","level":1,"title":"L","dry_run":false,"target_s":1e300,"started_at":"2026-01-01T00:00:00.000Z","steps":[{"id":"a","kind":"run","mutates":true}]}
      {"event":"step-finished","id":"a","kind":"run","status":"succeeded","mutates":true,"started_at":"2026-01-01T00:00:00.000Z","duration_s":1e300,"attempts":1}
      {"event":"run-finished","status":"succeeded","finished_at":"2026-01-01T00:00:01.000Z","duration_s":-1e300,"rollback_duration_s":1e308,"within_target":true}

      """
    try journal.write(
      to: runs.appendingPathComponent("20260101T000000Z-0001.jsonl"), atomically: true, encoding: .utf8)
    let history = try CLI.run(["history", "--state-dir", directory.path], in: directory)
    #expect(history.status == 0, "\(history.stderr)")
    #expect(
      history.stdout.contains("20260101T000000Z-0001  level 1  local  succeeded  —         —"),
      "\(history.stdout)")
    for format in ["markdown", "json"] {
      let report = try CLI.run(
        ["report", "20260101T000000Z-0001", "--state-dir", directory.path, "--format", format], in: directory)
      #expect(report.status == 0, "\(format): \(report.stderr)")
      #expect(!report.stdout.contains("1e+300") && !report.stdout.contains("e+308"), "\(report.stdout)")
    }
  }
}
