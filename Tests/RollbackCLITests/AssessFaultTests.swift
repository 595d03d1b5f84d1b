import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A TCP socket on 127.0.0.1 that listens and never calls accept: the kernel completes the
/// handshake, so a client connects, sends its request and waits forever for an answer.
final class SilentListener {
  let port: Int
  private let descriptor: Int32

  init(listening: Bool = true) throws {
    #if canImport(Glibc)
      let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
      let descriptor = socket(AF_INET, SOCK_STREAM, 0)
    #endif
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
    guard descriptor >= 0, bound == 0, !listening || listen(descriptor, 16) == 0, named == 0 else {
      Self.closeDescriptor(descriptor)
      throw AssessHarness.Missing(name: "a loopback listener (errno \(errno))")
    }
    self.descriptor = descriptor
    port = Int(UInt16(bigEndian: address.sin_port))
  }

  /// A port that refuses connections: bound without listening and kept for the life of the
  /// test process, so no other test's server can take it meanwhile.
  static func closedPort() throws -> Int {
    try SilentListener(listening: false).port
  }

  func close() { Self.closeDescriptor(descriptor) }

  private static func closeDescriptor(_ descriptor: Int32) {
    #if canImport(Glibc)
      _ = Glibc.close(descriptor)
    #else
      _ = Darwin.close(descriptor)
    #endif
  }
}

@Suite(
  "rollback assess: every fault is unknown with its reason, never healthy, within the timeout + 1 s",
  .serialized)
struct AssessFaultTests {
  /// The runbook's Prometheus and PostgreSQL timeout is 2 s.
  static let limit: TimeInterval = 3

  struct Outcome {
    let result: CLIResult
    let document: [String: Any]
    let elapsed: TimeInterval
  }

  /// Writes healthy gauges for a new case, then runs assess (human and --json) with `arguments`.
  func assess(
    _ arguments: [String], environment: [String: String] = [:], gauges: Bool = true, _ name: String = "fault"
  ) async throws -> (human: CLIResult, json: Outcome) {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let label = AssessHarness.newCase(name)
    if gauges {
      try AssessGauges.set(case: label, lines: AssessGauges.lines(case: label))
      try await AssessHarness.waitForScrape(
        case: label, values: ["error_rate": 0.0005], stateDirectory: state)
    }
    let env = try AssessHarness.environment().merging(environment) { $1 }
    let human = try await AssessHarness.assess(
      case: label, arguments, stateDirectory: state, environment: env)
    let (json, elapsed) = try await AssessHarness.timedAssess(
      case: label, arguments + ["--json"], stateDirectory: state, environment: env)
    return (human, Outcome(result: json, document: try AssessHarness.document(json), elapsed: elapsed))
  }

  func expectUnknown(
    _ outcome: (human: CLIResult, json: Outcome), signal: String, reason: String,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) {
    let (human, json) = outcome
    let shown = line(startingWith: signal + " ", in: human.stdout)
    #expect(shown == "\(signal)  unknown — \(reason)", "\(human.stdout)", sourceLocation: sourceLocation)
    #expect(human.status == 3, "\(human.stdout)\n\(human.stderr)", sourceLocation: sourceLocation)
    #expect(
      line(startingWith: "Verdict:", in: human.stdout) == "Verdict: INCONCLUSIVE — unknown is never healthy",
      sourceLocation: sourceLocation)
    #expect(json.result.status == 3, sourceLocation: sourceLocation)
    #expect(json.document["severity"] is NSNull, sourceLocation: sourceLocation)
    #expect(json.document["inconclusive"] as? Bool == true, sourceLocation: sourceLocation)
    #expect((json.document["unknown"] as? [String])?.contains(signal) == true, sourceLocation: sourceLocation)
    let entry = AssessHarness.signal(signal, in: json.document)
    #expect(entry?["value"] is NSNull, sourceLocation: sourceLocation)
    #expect(entry?["error"] as? String == reason, sourceLocation: sourceLocation)
    #expect(json.elapsed < Self.limit, "took \(json.elapsed) s", sourceLocation: sourceLocation)
  }

  @Test("Prometheus stopped: connection refused at host:port; the URL's password is never shown")
  func prometheusStopped() async throws {
    let port = try SilentListener.closedPort()

    let outcome = try await assess(
      ["--var", "prom_url=http://alice:pw-in-url@127.0.0.1:\(port)"], gauges: false)

    expectUnknown(outcome, signal: "error_rate", reason: "connection refused at 127.0.0.1:\(port)")
    expectUnknown(outcome, signal: "api_up", reason: "connection refused at 127.0.0.1:\(port)")
    #expect(!outcome.human.stdout.contains("pw-in-url") && !outcome.json.result.stdout.contains("pw-in-url"))
  }

  @Test("a socket that accepts and never answers: timeout after 2s, not before")
  func silentSocket() async throws {
    let listener = try SilentListener()
    defer { listener.close() }

    let outcome = try await assess(["--var", "prom_url=http://127.0.0.1:\(listener.port)"], gauges: false)

    expectUnknown(outcome, signal: "error_rate", reason: "timeout after 2s")
    #expect(outcome.json.elapsed >= 1.9)
  }

  @Test("an empty vector is no data")
  func emptyVector() async throws {
    let outcome = try await assess([], gauges: false, "empty")

    expectUnknown(outcome, signal: "error_rate", reason: "no data (empty result)")
  }

  @Test("NaN and +Inf are unknown", arguments: ["NaN", "+Inf"])
  func nonFinite(sample: String) async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let label = AssessHarness.newCase("nonfinite")
    try AssessGauges.set(case: label, lines: AssessGauges.lines(case: label, errorRatio: sample))
    try await AssessHarness.waitForScrape(
      case: label, errors: ["error_rate": "value is \(sample)"], stateDirectory: state)

    let human = try await AssessHarness.assess(case: label, stateDirectory: state)
    let (json, elapsed) = try await AssessHarness.timedAssess(case: label, ["--json"], stateDirectory: state)
    let outcome = Outcome(result: json, document: try AssessHarness.document(json), elapsed: elapsed)

    expectUnknown((human, outcome), signal: "error_rate", reason: "value is \(sample)")
  }

  @Test("PostgreSQL stopped: could not connect, connection refused")
  func postgresStopped() async throws {
    let port = try SilentListener.closedPort()
    let url = "postgresql://postgres:pg-secret@127.0.0.1:\(port)/postgres"

    let outcome = try await assess([], environment: ["DATABASE_URL": url])

    let reason =
      "could not connect to postgres: connection to server at \"127.0.0.1\", port \(port) failed: "
      + "Connection refused Is the server running on that host and accepting TCP/IP connections?"
    expectUnknown(outcome, signal: "db_up", reason: reason)
    #expect(!outcome.human.stdout.contains("pg-secret") && !outcome.json.result.stdout.contains("pg-secret"))
  }

  @Test("a wrong password: authentication failed, and the password is never shown")
  func wrongPassword() async throws {
    let port = try AssessHarness.value("ROLLBACK_TEST_PG_PORT")
    let database = try AssessHarness.value("ROLLBACK_TEST_PG_DB")
    let url = "postgresql://postgres:not-the-password@127.0.0.1:\(port)/\(database)"

    let outcome = try await assess([], environment: ["DATABASE_URL": url])

    expectUnknown(
      outcome, signal: "db_up",
      reason:
        "could not connect to postgres: connection to server at \"127.0.0.1\", port \(port) failed: "
        + "FATAL: password authentication failed for user \"postgres\"")
    for text in [
      outcome.human.stdout, outcome.human.stderr, outcome.json.result.stdout, outcome.json.result.stderr,
    ] {
      #expect(!text.contains("not-the-password"))
    }
  }

  @Test("a statement that outlives the timeout: statement timeout after 2s (SQLSTATE 57014)")
  func statementTimeout() async throws {
    let outcome = try await assess(["--var", "db_query=SELECT 1 FROM pg_sleep(10)"])

    expectUnknown(
      outcome, signal: "db_up", reason: "statement timeout after 2s (SQLSTATE 57014): the query ran too long")
    #expect(outcome.json.elapsed >= 1.9)
  }

  @Test(
    "a result that is not a number",
    arguments: [
      ("SELECT 'abc'", "query returned \"abc\", not a number"),
      ("SELECT 1 WHERE false", "query returned no rows: a number needs one row"),
    ])
  func notANumber(query: String, reason: String) async throws {
    let outcome = try await assess(["--var", "db_query=\(query)"])

    expectUnknown(outcome, signal: "db_up", reason: reason)
  }

  @Test("decision_on_unknown turns an unknown into that severity, marked inconclusive")
  func decisionOnUnknown() async throws {
    let folder = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(folder) }
    let source = try String(
      contentsOf: CLI.packageRoot.appendingPathComponent(AssessHarness.runbook), encoding: .utf8)
    let runbook = folder.appendingPathComponent("on-unknown.yaml")
    try source.replacingOccurrences(of: "\nlevels:\n", with: "\ndecision_on_unknown: high\n\nlevels:\n")
      .write(to: runbook, atomically: true, encoding: .utf8)
    let port = try SilentListener.closedPort()

    let result = try await AssessHarness.cli(
      [
        "assess", "--runbook", runbook.path, "--var", "prom_url=http://127.0.0.1:\(port)", "--state-dir",
        folder.path,
      ], environment: try AssessHarness.environment())

    #expect(result.status == 12, "\(result.stdout)\n\(result.stderr)")
    #expect(
      line(startingWith: "Verdict:", in: result.stdout) == "Verdict: HIGH (inconclusive) — respond within 15m"
    )
    #expect(
      line(startingWith: "because:", in: result.stdout)
        == "because: error_rate, api_up are unknown, no rule above holds, and decision_on_unknown is high")
    #expect(
      line(startingWith: "Action:", in: result.stdout)
        == "Action: step flag backend-api down one stage of its rollout")
  }
}
