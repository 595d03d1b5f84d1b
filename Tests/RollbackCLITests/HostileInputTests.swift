import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Values from `--var` and the environment, and text from servers and processes, stay data.
@Suite("hostile inputs: interpolation and terminal output")
struct HostileInputTests {
  /// Writes `runbook` as rollback.yaml in a fresh directory and returns the directory.
  func folder(with runbook: String) throws -> URL {
    let directory = try CLI.temporaryDirectory()
    try runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    return directory
  }

  func shellRunbook(_ line: String) -> String {
    """
    version: 1
    name: hostile
    environments:
      local:
        vars: {v: plain}
    levels:
      1:
        steps:
          - {id: echo, run: {shell: \(line)}}
    """
  }

  @Test(
    "a --var inside a shell command is one quoted word, wherever it sits",
    arguments: [
      ("'echo got ${v}'", "got "),
      ("'echo \"got ${v} end\"'", "got "),
      ("\"echo 'got ${v} end'\"", "got "),
      ("'echo \"$(echo got ${v})\"'", "got "),
    ])
  func shellVariableIsData(line: String, prefix: String) throws {
    let value = "x; touch PWNED; $(touch PWNED2) `touch PWNED3` ' \" \\"
    let directory = try folder(with: shellRunbook(line))
    defer { try? FileManager.default.removeItem(at: directory) }

    let result = try CLI.run(
      [
        "execute", "--level", "1", "--yes", "--var", "v=\(value)", "--state-dir",
        directory.appendingPathComponent("state").path,
      ], in: directory)

    #expect(result.status == 0, "\(result.stderr)")
    for name in ["PWNED", "PWNED2", "PWNED3"] {
      #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path), "\(name)")
    }
    #expect(result.stdout.contains(prefix + value), "\(result.stdout)")
  }

  @Test("an empty --state-dir keeps the run in .rollback beside the runbook, not the current directory")
  func emptyStateDirectoryIsTheDefault() throws {
    let directory = try folder(with: shellRunbook("'echo hi'"))
    defer { try? FileManager.default.removeItem(at: directory) }
    let elsewhere = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(elsewhere) }
    let runbook = directory.appendingPathComponent("rollback.yaml").path

    let result = try CLI.run(
      ["execute", "--runbook", runbook, "--level", "1", "--yes", "--state-dir", ""], in: elsewhere,
      environment: ["ROLLBACK_STATE_DIR": ""])

    #expect(result.status == 0, "\(result.stderr)")
    let runs = directory.appendingPathComponent(".rollback/runs").path
    let journals = (try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []
    #expect(journals.count == 1 && journals.allSatisfy { $0.hasSuffix(".jsonl") }, "\(journals)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
    let history = try CLI.run(["history", "--runbook", runbook], in: elsewhere)
    #expect(history.status == 0, "\(history.stderr)")
    #expect(journals.allSatisfy { history.stdout.contains($0.replacingOccurrences(of: ".jsonl", with: "")) })
  }

  @Test("a placeholder inside backquotes is refused at validate, with the env: advice")
  func backquotesRefused() throws {
    let directory = try folder(with: shellRunbook("'echo `echo ${v}`'"))
    defer { try? FileManager.default.removeItem(at: directory) }

    let result = try CLI.run(["validate"], in: directory)

    #expect(result.status != 0)
    #expect((result.stdout + result.stderr).contains("inside backquotes"), "\(result.stdout)\(result.stderr)")
  }

  @Test("a secret in a command line is warned about at validate, pointing at env:")
  func secretInArgvWarned() throws {
    let directory = try folder(
      with: """
        version: 1
        name: hostile
        environments:
          local: {}
        levels:
          1:
            steps:
              - {id: call, run: [curl, -H, "Authorization: ${secret.API_TOKEN}", "http://127.0.0.1:1"]}
        """)
    defer { try? FileManager.default.removeItem(at: directory) }

    let result = try CLI.run(["validate"], in: directory)

    let text = result.stdout + result.stderr
    #expect(text.contains("${secret.API_TOKEN}"), "\(text)")
    #expect(text.contains("env:"), "\(text)")
  }

  @Test("a process printing escape sequences cannot drive the terminal")
  func processOutputEscaped() throws {
    let directory = try folder(
      with: shellRunbook(#"'printf "\033]0;pwned\007\033[2Jline\rover\n"'"#))
    defer { try? FileManager.default.removeItem(at: directory) }

    let result = try CLI.run(
      ["execute", "--level", "1", "--yes", "--state-dir", directory.appendingPathComponent("state").path],
      in: directory)

    #expect(result.status == 0, "\(result.stderr)")
    #expect(
      !result.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x0D })
    #expect(result.stdout.contains(#"\u{1b}]0;pwned\u{7}\u{1b}[2Jline\u{d}over"#), "\(result.stdout)")
  }

  @Test("a timed-out run step leaves nothing behind, not even what left its process group")
  func timedOutStepLeavesNoStrays() throws {
    let direct = "300.\(UInt32.random(in: 100_000...999_999))"
    let orphan = "301.\(UInt32.random(in: 100_000...999_999))"
    // The first sleep leaves the group (setsid); the second also loses its parent at once
    // (the subshell exits), so only a subreaper still has it as a descendant.
    let directory = try folder(
      with: """
        version: 1
        name: hostile
        environments:
          local: {}
        levels:
          1:
            steps:
              - {id: spawn, timeout: 1s, run: {shell: "setsid sleep \(direct) & (setsid sleep \(orphan) &); sleep 30"}}
        """)
    defer { try? FileManager.default.removeItem(at: directory) }
    defer {
      for pid in Self.processes(withArgument: direct) + Self.processes(withArgument: orphan) {
        kill(pid, SIGKILL)
      }
    }

    let result = try CLI.run(
      ["execute", "--level", "1", "--yes", "--state-dir", directory.appendingPathComponent("state").path],
      in: directory)

    #expect(result.status != 0)
    #expect(result.stdout.contains("timed out after 1s"), "\(result.stdout)")
    #expect(Self.processes(withArgument: direct).isEmpty)
    #expect(Self.processes(withArgument: orphan).isEmpty)
  }

  /// Live processes whose command line holds `argument` (a zombie's command line is empty).
  static func processes(withArgument argument: String) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { name -> pid_t? in
      guard let pid = pid_t(name), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline")
      else { return nil }
      let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      return words.contains(argument) ? pid : nil
    }
  }

  @Test("Prometheus error text with escape sequences is shown escaped by assess")
  func prometheusErrorEscaped() throws {
    let body = #"{"status":"error","errorType":"bad_data","error":"\u001b]0;pwned\u0007\u001b[2Jgone"}"#
    let server = try FixedReplyServer(status: 400, body: body)
    defer { server.stop() }
    let directory = try folder(
      with: """
        version: 1
        name: hostile
        environments:
          local:
            prometheus: {url: "http://127.0.0.1:\(server.port)", timeout: 2s}
        signals:
          error_rate: {prometheus: "up"}
        decision:
          - {severity: critical, any: ["error_rate > 1"], action: {level: 1}}
        levels:
          1:
            steps:
              - {id: look, check: [error_rate]}
        """)
    defer { try? FileManager.default.removeItem(at: directory) }

    let result = try CLI.run(["assess"], in: directory)

    let text = result.stdout + result.stderr
    #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, "\(text)")
    #expect(text.contains(#"\u{1b}]0;pwned\u{7}\u{1b}[2Jgone"#), "\(text)")
  }
}

/// Postgres: bound parameters and read-only transactions, on the harness database.
@Suite("hostile inputs: SQL against the harness Postgres", .serialized)
struct HostileSQLTests {
  func prepareTable(_ harness: Harness, _ table: String) throws {
    try Shell.run([
      "psql", harness.databaseURL, "-qc",
      "DROP TABLE IF EXISTS \(table); CREATE TABLE \(table) (id text); INSERT INTO \(table) VALUES ('1'), ('2'), ('3')",
    ])
  }

  func count(_ harness: Harness, _ table: String) throws -> String {
    try Shell.run(["psql", harness.databaseURL, "-tAc", "SELECT count(*) FROM \(table)"]).stdout
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func run(_ steps: String, _ arguments: [String], harness: Harness) throws -> CLIResult {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let runbook = """
      version: 1
      name: hostile-sql
      environments:
        local:
          vars: {v: "1"}
          postgres: {dsn_env: DATABASE_URL, timeout: 5s}
      levels:
        1:
          steps:
      \(steps)
      """
    try runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    return try CLI.run(
      ["execute", "--level", "1", "--yes", "--state-dir", directory.appendingPathComponent("state").path]
        + arguments, in: directory, environment: ["DATABASE_URL": harness.databaseURL])
  }

  @Test("a quoted --var in a DELETE is a parameter: an injection deletes nothing, a real id deletes one row")
  func sqlVariableIsParameter() throws {
    let harness = try Harness.current()
    try prepareTable(harness, "hostile_sql_rows")
    let step = #"        - {id: del, sql: "DELETE FROM hostile_sql_rows WHERE id = '${v}'", mutates: true}"#

    let attack = try run(step, ["--var", "v=zzz' OR '1'='1"], harness: harness)
    #expect(attack.status == 0, "\(attack.stderr)")
    #expect(try count(harness, "hostile_sql_rows") == "3")

    let unquoted = try run(
      #"        - {id: del, sql: "DELETE FROM hostile_sql_rows WHERE id = ${v}", mutates: true}"#,
      ["--var", "v=1 OR true"], harness: harness)
    #expect(unquoted.status == 0, "\(unquoted.stderr)")
    #expect(try count(harness, "hostile_sql_rows") == "3")

    let read = try run(
      #"        - {id: look, sql: "SELECT id FROM hostile_sql_rows WHERE id LIKE '%${v}%' AND now() - interval '${n} minutes' < now()", mutates: false}"#,
      ["--var", "v=2", "--var", "n=5"], harness: harness)
    #expect(read.status == 0, "\(read.stdout)")
    #expect(read.stdout.contains("→ SELECT 1"), "\(read.stdout)")

    let real = try run(step, ["--var", "v=2"], harness: harness)
    #expect(real.status == 0, "\(real.stderr)")
    #expect(try count(harness, "hostile_sql_rows") == "2")
  }

  @Test("a --var in a postgres signal is a parameter: an injected OR does not widen the count")
  func signalVariableIsParameter() throws {
    let harness = try Harness.current()
    try prepareTable(harness, "hostile_sql_signal")
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try """
    version: 1
    name: hostile-signal
    environments:
      local:
        vars: {v: "1"}
        postgres: {dsn_env: DATABASE_URL, timeout: 5s}
    signals:
      matching: {postgres: "SELECT count(*) FROM hostile_sql_signal WHERE id = '${v}'"}
    decision:
      - {severity: critical, any: ["matching > 1"], action: {level: 1}}
    levels:
      1:
        steps:
          - {id: look, check: [matching]}
    """.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)

    func reading(_ value: String) throws -> Double? {
      let result = try CLI.run(
        ["assess", "--json", "--var", "v=\(value)"], in: directory,
        environment: ["DATABASE_URL": harness.databaseURL])
      let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
      let signals = json?["signals"] as? [[String: Any]]
      return signals?.first?["value"] as? Double
    }

    #expect(try reading("x' OR '1'='1") == 0)
    #expect(try reading("2") == 1)
    #expect(try count(harness, "hostile_sql_signal") == "3")
  }

  @Test("an SQL error quoting escape sequences is shown escaped, on the terminal and in the report")
  func sqlErrorEscaped() throws {
    let harness = try Harness.current()
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try """
    version: 1
    name: hostile-error
    environments:
      local:
        postgres: {dsn_env: DATABASE_URL, timeout: 5s}
    levels:
      1:
        steps:
          - {id: bad, sql: "SELECT (E'\\x1b]0;pwned\\x07\\x1b[2J' || 'x')::int", mutates: false}
    """.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let state = directory.appendingPathComponent("state").path
    let environment = ["DATABASE_URL": harness.databaseURL]

    let run = try CLI.run(
      ["execute", "--level", "1", "--yes", "--state-dir", state], in: directory, environment: environment)
    let report = try CLI.run(["report", "--state-dir", state], in: directory, environment: environment)

    #expect(run.status != 0)
    #expect(run.stdout.contains("22P02"), "\(run.stdout)")
    #expect(report.stdout.contains("22P02"), "\(report.stdout)\(report.stderr)")
    for text in [run.stdout, run.stderr, report.stdout] {
      #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, "\(text)")
    }
    #expect(run.stdout.contains(#"\u{1b}]0;pwned\u{7}\u{1b}[2J"#), "\(run.stdout)")
  }

  @Test(
    "a DELETE labelled mutates: false fails read-only (25006) and deletes nothing, in a run and a dry run")
  func mislabelledReadFails() throws {
    let harness = try Harness.current()
    try prepareTable(harness, "hostile_sql_ro")
    let step =
      "        - {id: sneaky, sql: \"WITH d AS (DELETE FROM hostile_sql_ro RETURNING 1) SELECT count(*) FROM d\", mutates: false}"

    let live = try run(step, [], harness: harness)
    #expect(live.status != 0)
    #expect((live.stdout + live.stderr).contains("25006"), "\(live.stdout)")
    #expect(try count(harness, "hostile_sql_ro") == "3")

    let dry = try run(step, ["--dry-run"], harness: harness)
    #expect((dry.stdout + dry.stderr).contains("25006"), "\(dry.stdout)")
    #expect(try count(harness, "hostile_sql_ro") == "3")
  }
}

/// An HTTP server on 127.0.0.1 that answers every request with the same reply.
final class FixedReplyServer: @unchecked Sendable {
  let port: Int
  private let descriptor: Int32

  init(status: Int, body: String) throws {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    guard descriptor >= 0, bound == 0, listen(descriptor, 16) == 0, named == 0 else {
      throw AssessHarness.Missing(name: "a loopback listener (errno \(errno))")
    }
    self.descriptor = descriptor
    port = Int(UInt16(bigEndian: address.sin_port))
    let reply = Array(
      ("HTTP/1.1 \(status) Bad Request\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
        + "Connection: close\r\n\r\n\(body)").utf8)
    let thread = Thread {
      while true {
        let client = accept(descriptor, nil, nil)
        if client < 0 { return }
        var buffer = [UInt8](repeating: 0, count: 8192)
        _ = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
        _ = reply.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        Glibc.close(client)
      }
    }
    thread.start()
  }

  /// Stops accepting.
  func stop() {
    shutdown(descriptor, Int32(SHUT_RDWR))
    Glibc.close(descriptor)
  }
}
