import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

// MARK: Support

/// The harness pieces `assess` tests need; a missing variable fails the test (never skips).
enum AssessHarness {
  static let runbook = "runbooks/examples/assess-harness.yaml"
  static let atom = "runbooks/frontend-backend-migration.yaml"

  struct Missing: Error, CustomStringConvertible {
    let name: String
    var description: String {
      "\(name) is not set: run these tests under the harness (make test, or scripts/harness/with-harness swift test)"
    }
  }

  static func value(_ name: String) throws -> String {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
      throw Missing(name: name)
    }
    return value
  }

  /// DATABASE_URL for the runbook's postgres signals.
  static func environment() throws -> [String: String] {
    _ = try value("ROLLBACK_TEST_PROM_URL")
    return ["DATABASE_URL": try value("ROLLBACK_TEST_DATABASE_URL")]
  }

  /// A case label no other test (or earlier run) uses.
  static func newCase(_ name: String) -> String { "\(name)-\(UUID().uuidString.prefix(8).lowercased())" }

  /// `rollback assess --runbook assess-harness.yaml --var case=NAME --state-dir DIR ARGS`.
  static func assess(
    case name: String, _ arguments: [String] = [], stateDirectory: URL,
    environment: [String: String]? = nil
  ) async throws -> CLIResult {
    try await cli(
      ["assess", "--runbook", runbook, "--var", "case=\(name)", "--state-dir", stateDirectory.path]
        + arguments,
      environment: try environment ?? Self.environment())
  }

  /// `CLI.run` on a thread of its own: the test waits for the child process without
  /// holding one of the few cooperative threads that the async tests beside it need.
  static func cli(
    _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]
  ) async throws -> CLIResult {
    try await offPool { try CLI.run(arguments, in: directory, environment: environment) }
  }

  /// `assess` as above, with its wall time measured on the waiting thread (so a busy
  /// cooperative pool in the test process does not add to it).
  static func timedAssess(
    case name: String, _ arguments: [String] = [], stateDirectory: URL, environment: [String: String]? = nil
  ) async throws -> (CLIResult, TimeInterval) {
    let env = try environment ?? Self.environment()
    let full =
      ["assess", "--runbook", runbook, "--var", "case=\(name)", "--state-dir", stateDirectory.path]
      + arguments
    return try await offPool {
      let started = Date()
      let result = try CLI.run(full, environment: env)
      return (result, Date().timeIntervalSince(started))
    }
  }

  /// Runs blocking work on a new thread and waits for it without blocking the caller's.
  static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      Thread { continuation.resume(with: Result { try work() }) }.start()
    }
  }

  /// The `--json` document as a dictionary.
  static func document(_ result: CLIResult) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    return try #require(object as? [String: Any], "stdout is not one JSON object: \(result.stdout)")
  }

  static func signal(_ name: String, in document: [String: Any]) -> [String: Any]? {
    (document["signals"] as? [[String: Any]])?.first { $0["name"] as? String == name }
  }

  /// Runs `assess --json` until every named signal's value (or error text) is as expected:
  /// the values the test wrote have been scraped. Fails the test after 20 s.
  static func waitForScrape(
    case name: String, values: [String: Double] = [:], errors: [String: String] = [:], stateDirectory: URL
  ) async throws {
    // Attempts count, not only the clock: a test process whose cooperative threads were
    // busy elsewhere still gets its checks after the pause.
    let deadline = Date().addingTimeInterval(20)
    var last = ""
    var attempts = 0
    while attempts < 5 || Date() < deadline {
      attempts += 1
      let result = try await assess(case: name, ["--json"], stateDirectory: stateDirectory)
      last = result.stdout
      if let document = try? document(result) {
        let valuesMatch = values.allSatisfy { key, expected in
          guard let actual = signal(key, in: document)?["value"] as? Double else { return false }
          return abs(actual - expected) < 1e-9
        }
        let errorsMatch = errors.allSatisfy { key, expected in
          (signal(key, in: document)?["error"] as? String)?.contains(expected) == true
        }
        if valuesMatch, errorsMatch { return }
      }
      try await Task.sleep(for: .milliseconds(300))
    }
    Issue.record("the values of case \(name) did not appear within 20 s; last: \(last.prefix(2000))")
  }
}

/// Writes `test_assess_*{case="NAME"}` gauges into the harness metrics file.
enum AssessGauges {
  private static let lock = NSLock()

  /// The lines of one case: error ratio, p95 latency, pool usage (one series per value) and up.
  static func lines(
    case name: String, errorRatio: String = "0.0005", p95: String = "0.2", pools: [String] = ["0.3"],
    up: String = "1"
  ) -> [String] {
    var lines = [
      "test_assess_error_ratio{case=\"\(name)\"} \(errorRatio)",
      "test_assess_latency_p95_seconds{case=\"\(name)\"} \(p95)",
      "test_assess_up{case=\"\(name)\"} \(up)",
    ]
    for (index, pool) in pools.enumerated() {
      lines.append("test_assess_db_pool_usage{case=\"\(name)\",pool=\"p\(index)\"} \(pool)")
    }
    return lines
  }

  /// Replaces the case's lines, atomically (temporary file and rename).
  static func set(case name: String, lines: [String]) throws {
    let path = try AssessHarness.value("ROLLBACK_TEST_METRICS_FILE")
    lock.lock()
    defer { lock.unlock() }
    let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    var kept = existing.split(separator: "\n").map(String.init).filter { !$0.contains("case=\"\(name)\"") }
    kept += lines
    let temporary = path + ".assess-\(getpid())-\(UUID().uuidString)"
    try (kept.joined(separator: "\n") + "\n").write(toFile: temporary, atomically: false, encoding: .utf8)
    guard rename(temporary, path) == 0 else {
      throw AssessHarness.Missing(name: "rename to \(path) failed (errno \(errno))")
    }
  }
}

/// The lines of a report, trimmed of trailing spaces, for exact comparisons.
func reportLines(_ text: String) -> [String] {
  text.split(separator: "\n", omittingEmptySubsequences: false).map {
    String($0).replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression)
  }
}

/// The line that starts with `prefix` after the leading spaces, collapsing runs of spaces.
func line(startingWith prefix: String, in text: String) -> String? {
  reportLines(text).map { $0.replacingOccurrences(of: #" {2,}"#, with: "  ", options: .regularExpression) }
    .first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(prefix) }?.trimmingCharacters(in: .whitespaces)
}

// MARK: Severities

@Suite("rollback assess against the harness: severities, output, JSON, saved assessments", .serialized)
struct AssessTests {
  struct SeverityCase: Sendable, CustomTestStringConvertible {
    let name: String
    let errorRatio: String
    let p95: String
    let pools: [String]
    let up: String
    let status: Int32
    let verdict: String
    let because: String?
    let action: String
    let run: String?
    let severity: String
    let matched: [String]
    let actionKind: String
    let respondWithin: Int?

    var testDescription: String { name }
  }

  static let cases: [SeverityCase] = [
    SeverityCase(
      name: "critical", errorRatio: "0.082", p95: "0.2", pools: ["0.3"], up: "1", status: 13,
      verdict: "Verdict: CRITICAL — respond within 5m", because: "because: error_rate > 5%",
      action: "Action: execute level 3 (Full rollback)", run: "rollback execute --level 3 --env harness",
      severity: "critical", matched: ["error_rate > 5%"], actionKind: "level", respondWithin: 300),
    SeverityCase(
      name: "critical-down", errorRatio: "0.0005", p95: "0.2", pools: ["0.3"], up: "0", status: 13,
      verdict: "Verdict: CRITICAL — respond within 5m", because: "because: api_up < 1",
      action: "Action: execute level 3 (Full rollback)", run: "rollback execute --level 3 --env harness",
      severity: "critical", matched: ["api_up < 1"], actionKind: "level", respondWithin: 300),
    SeverityCase(
      name: "high", errorRatio: "0.0005", p95: "0.3", pools: ["0.4", "0.95"], up: "1", status: 12,
      verdict: "Verdict: HIGH — respond within 15m", because: "because: db_pool > 90%",
      action: "Action: step flag backend-api down one stage of its rollout",
      run: "rollback flag step-down backend-api --env harness", severity: "high", matched: ["db_pool > 90%"],
      actionKind: "step_down", respondWithin: 900),
    SeverityCase(
      name: "medium", errorRatio: "0.007", p95: "0.2", pools: ["0.3"], up: "1", status: 11,
      verdict: "Verdict: MEDIUM — respond within 1h", because: "because: error_rate > 0.5%",
      action: "Action: pause the rollout and investigate", run: nil, severity: "medium",
      matched: ["error_rate > 0.5%"], actionKind: "pause", respondWithin: 3600),
    SeverityCase(
      name: "low", errorRatio: "0.0005", p95: "0.7", pools: ["0.3"], up: "1", status: 10,
      verdict: "Verdict: LOW", because: "because: p95_latency > 500ms",
      action: "Action: keep monitoring; no rollback needed yet", run: nil, severity: "low",
      matched: ["p95_latency > 500ms"], actionKind: "monitor", respondWithin: nil),
    SeverityCase(
      name: "healthy", errorRatio: "0.0005", p95: "0.2", pools: ["0.3"], up: "1", status: 0,
      verdict: "Verdict: HEALTHY — no rule holds", because: nil, action: "Action: nothing to do", run: nil,
      severity: "healthy", matched: [], actionKind: "none", respondWithin: nil),
  ]

  @Test("each severity, driven by the metric values the test writes", arguments: cases)
  func severity(_ expected: SeverityCase) async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let name = AssessHarness.newCase(expected.name)
    try AssessGauges.set(
      case: name,
      lines: AssessGauges.lines(
        case: name, errorRatio: expected.errorRatio, p95: expected.p95, pools: expected.pools, up: expected.up
      ))
    let maxPool = expected.pools.compactMap(Double.init).max() ?? 0
    try await AssessHarness.waitForScrape(
      case: name,
      values: [
        "error_rate": Double(expected.errorRatio) ?? 0, "p95_latency": Double(expected.p95) ?? 0,
        "db_pool": maxPool, "api_up": Double(expected.up) ?? 0,
      ], stateDirectory: state)

    let human = try await AssessHarness.assess(case: name, stateDirectory: state)
    let json = try await AssessHarness.assess(case: name, ["--json"], stateDirectory: state)

    #expect(human.status == expected.status, "\(human.stdout)\n\(human.stderr)")
    #expect(line(startingWith: "Verdict:", in: human.stdout) == expected.verdict, "\(human.stdout)")
    if let because = expected.because {
      #expect(line(startingWith: "because:", in: human.stdout) == because)
    }
    #expect(line(startingWith: "Action:", in: human.stdout) == expected.action)
    let runbook = CLI.packageRoot.appendingPathComponent(AssessHarness.runbook).path
    let suffix = " --runbook \(runbook) --state-dir \(state.path) --var case=\(name)"
    #expect(line(startingWith: "Run:", in: human.stdout) == expected.run.map { "Run:  " + $0 + suffix })
    #expect(line(startingWith: "db_up", in: human.stdout) == "db_up  1")
    #expect(human.stderr.isEmpty, "\(human.stderr)")

    #expect(json.status == expected.status)
    let document = try AssessHarness.document(json)
    #expect(document["severity"] as? String == expected.severity)
    #expect(document["inconclusive"] as? Bool == false)
    #expect(document["matched"] as? [String] == expected.matched)
    #expect((document["action"] as? [String: Any])?["kind"] as? String == expected.actionKind)
    #expect(document["respond_within_s"] as? Int == expected.respondWithin)
    #expect(document["exit_code"] as? Int == Int(expected.status))
  }

  @Test("values are shown by unit, several series say how they were reduced, defaults are marked")
  func signalLines() async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let name = AssessHarness.newCase("units")
    try AssessGauges.set(
      case: name,
      lines: AssessGauges.lines(case: name, errorRatio: "0.082", p95: "2.31", pools: ["0.5", "0.7", "0.2"]))
    try await AssessHarness.waitForScrape(
      case: name, values: ["error_rate": 0.082, "p95_latency": 2.31, "db_pool": 0.7], stateDirectory: state)

    let result = try await AssessHarness.assess(case: name, stateDirectory: state)

    #expect(result.status == 13)
    #expect(line(startingWith: "error_rate", in: result.stdout) == "error_rate  8.2 %")
    #expect(line(startingWith: "p95_latency", in: result.stdout) == "p95_latency  2.31 s")
    #expect(line(startingWith: "db_pool", in: result.stdout) == "db_pool  70 %  max of 3 series")
    #expect(
      line(startingWith: "complaints_per_hour", in: result.stdout)
        == "complaints_per_hour  0  default (not given)")
    #expect(
      line(startingWith: "critical (P0)", in: result.stdout)
        == "critical (P0)  HOLDS: error_rate > 5% (8.2 %)")
    #expect(
      line(startingWith: "high", in: result.stdout)
        == "high  not reached (would hold: error_rate > 1% (8.2 %); p95_latency > 2s (2.31 s))")
    #expect(
      line(startingWith: "symptoms:", in: result.stdout)
        == "symptoms: 5xx errors > 5%; API completely down; Database down")
  }

  @Test("--signal sets a manual signal by hand and overrides a measured one; both are marked")
  func handValues() async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let name = AssessHarness.newCase("hand")
    try AssessGauges.set(case: name, lines: AssessGauges.lines(case: name))
    try await AssessHarness.waitForScrape(case: name, values: ["error_rate": 0.0005], stateDirectory: state)

    let manual = try await AssessHarness.assess(
      case: name, ["--signal", "complaints_per_hour=7"], stateDirectory: state)
    let override = try await AssessHarness.assess(
      case: name, ["--signal", "error_rate=2%", "--signal", "complaints_per_hour=1", "--json"],
      stateDirectory: state)

    #expect(manual.status == 11)
    #expect(
      line(startingWith: "complaints_per_hour", in: manual.stdout) == "complaints_per_hour  7  set by hand")
    #expect(line(startingWith: "because:", in: manual.stdout) == "because: complaints_per_hour > 5")
    #expect(override.status == 12)
    let document = try AssessHarness.document(override)
    let errorRate = try #require(AssessHarness.signal("error_rate", in: document))
    #expect(errorRate["value"] as? Double == 0.02)
    #expect(errorRate["set_by_hand"] as? Bool == true)
    #expect(document["matched"] as? [String] == ["error_rate > 1%"])
  }

  @Test(
    "a malformed --signal is bad input (exit 2) and reads nothing",
    arguments: [
      (
        "complaints_per_hr=7",
        "error: unknown signal 'complaints_per_hr'; did you mean 'complaints_per_hour'?"
      ),
      ("complaints_per_hour", "error: --signal expects NAME=VALUE, found 'complaints_per_hour'"),
      (
        "complaints_per_hour=lots",
        "error: --signal complaints_per_hour expects a number (5%, 2s, 37), found 'lots'"
      ),
    ])
  func badSignal(item: String, message: String) async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }

    let result = try await AssessHarness.assess(case: "unused", ["--signal", item], stateDirectory: state)

    #expect(result.status == 2)
    #expect(result.stdout.isEmpty)
    #expect(result.stderr.contains(message), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("assessments").path))
  }

  @Test("--json prints one JSON document on stdout, shaped as cli.md says; the report goes to stderr")
  func jsonShape() async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let name = AssessHarness.newCase("json")
    try AssessGauges.set(case: name, lines: AssessGauges.lines(case: name, errorRatio: "0.082"))
    try await AssessHarness.waitForScrape(case: name, values: ["error_rate": 0.082], stateDirectory: state)

    let result = try await AssessHarness.assess(case: name, ["--json"], stateDirectory: state)

    #expect(result.status == 13)
    let document = try AssessHarness.document(result)
    for key in ["severity", "inconclusive", "action", "respond_within_s", "matched", "signals", "duration_s"]
    {
      #expect(document[key] != nil, "missing \(key)")
    }
    let action = try #require(document["action"] as? [String: Any])
    #expect(action["kind"] as? String == "level")
    #expect(action["level"] as? Int == 3)
    let signals = try #require(document["signals"] as? [[String: Any]])
    #expect(
      signals.compactMap { $0["name"] as? String }
        == [
          "error_rate", "p95_latency", "db_pool", "api_up", "db_up", "db_active", "slow_probe",
          "complaints_per_hour",
        ])
    for signal in signals {
      for key in ["name", "source", "value", "unit", "error"] {
        #expect(signal[key] != nil, "signal lacks \(key)")
      }
    }
    let errorRate = try #require(AssessHarness.signal("error_rate", in: document))
    #expect(errorRate["source"] as? String == "prometheus")
    #expect(errorRate["value"] as? Double == 0.082)
    #expect(errorRate["unit"] as? String == "ratio")
    #expect(errorRate["error"] is NSNull)
    #expect(AssessHarness.signal("db_up", in: document)?["source"] as? String == "postgres")
    let duration = try #require(document["duration_s"] as? Double)
    #expect(duration > 0 && duration < 2)
    #expect(result.stderr.contains("Verdict: CRITICAL — respond within 5m"))
  }

  @Test("the assessment is saved as STATE/assessments/TIMESTAMP.json, the same document as --json")
  func savedAssessment() async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let name = AssessHarness.newCase("saved")
    try AssessGauges.set(case: name, lines: AssessGauges.lines(case: name, p95: "0.7"))
    try await AssessHarness.waitForScrape(case: name, values: ["p95_latency": 0.7], stateDirectory: state)
    let folder = state.appendingPathComponent("assessments")
    try? FileManager.default.removeItem(at: folder)

    let json = try await AssessHarness.assess(case: name, ["--json"], stateDirectory: state)
    let human = try await AssessHarness.assess(case: name, stateDirectory: state)

    let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    #expect(files.count == 2)
    let pattern = #"^\d{8}T\d{6}\.\d{3}Z(-\d+)?\.json$"#
    #expect(files.allSatisfy { $0.range(of: pattern, options: .regularExpression) != nil }, "\(files)")
    let first = try String(contentsOf: folder.appendingPathComponent(files[0]), encoding: .utf8)
    #expect(first == json.stdout)
    #expect(human.stdout.contains("Saved to \(folder.path)/\(files[1])"))
    #expect(json.stderr.contains("Saved to \(folder.path)/\(files[0])"))
  }

  @Test("without --state-dir: ROLLBACK_STATE_DIR, else .rollback/ beside the runbook")
  func defaultStateDirectory() async throws {
    let folder = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(folder) }
    let runbook = folder.appendingPathComponent("assess.yaml")
    try FileManager.default.copyItem(
      at: CLI.packageRoot.appendingPathComponent(AssessHarness.runbook), to: runbook)
    let override = folder.appendingPathComponent("elsewhere")
    var environment = try AssessHarness.environment()

    let beside = try await AssessHarness.cli(
      ["assess", "--runbook", runbook.path, "--signal", "error_rate=0", "--signal", "p95_latency=0"],
      environment: environment)
    environment["ROLLBACK_STATE_DIR"] = override.path
    let variable = try await AssessHarness.cli(
      ["assess", "--runbook", runbook.path, "--signal", "error_rate=0", "--signal", "p95_latency=0"],
      environment: environment)

    #expect(beside.status != 2, "\(beside.stderr)")
    #expect(variable.status != 2, "\(variable.stderr)")
    let besideFiles = try FileManager.default.contentsOfDirectory(
      atPath: folder.appendingPathComponent(".rollback/assessments").path)
    let overrideFiles = try FileManager.default.contentsOfDirectory(
      atPath: override.appendingPathComponent("assessments").path)
    #expect(besideFiles.count == 1)
    #expect(overrideFiles.count == 1)
  }

  @Test("DATABASE_URL unset: every signal is shown, the postgres ones unknown, and the matrix decides")
  func dsnUnset() async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let environment = [
      "ROLLBACK_PROM_URL": try AssessHarness.value("ROLLBACK_TEST_PROM_URL"), "DATABASE_URL": "",
    ]

    let result = try await AssessHarness.cli(
      ["assess", "--runbook", AssessHarness.atom, "--env", "local", "--state-dir", state.path, "--json"],
      environment: environment)

    #expect(result.status != 2, "\(result.stderr)")
    let document = try AssessHarness.document(result)
    #expect(document["exit_code"] as? Int == Int(result.status))
    let signals = try #require(document["signals"] as? [[String: Any]])
    #expect(signals.count == 11)
    for name in ["db_up", "db_active"] {
      let signal = AssessHarness.signal(name, in: document)
      #expect(signal?["value"] is NSNull, "\(name): \(signal ?? [:])")
      #expect(signal?["error"] as? String == "DATABASE_URL is not set", "\(name): \(signal ?? [:])")
    }
    let measured = signals.filter { !($0["value"] is NSNull) }
    #expect(measured.count >= 2, "the Prometheus signals are read: \(signals)")
    #expect(result.stderr.contains("DATABASE_URL is not set"), "\(result.stderr)")
    #expect(result.stderr.contains("Verdict:"), "\(result.stderr)")
  }

  @Test("the Atom runbook's local environment: every measured signal is read and the matrix decides")
  func atomLocal() async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let environment = [
      "ROLLBACK_PROM_URL": try AssessHarness.value("ROLLBACK_TEST_PROM_URL"),
      "DATABASE_URL": try AssessHarness.value("ROLLBACK_TEST_DATABASE_URL"),
    ]

    let result = try await AssessHarness.cli(
      ["assess", "--runbook", AssessHarness.atom, "--env", "local", "--state-dir", state.path, "--json"],
      environment: environment)

    let document = try AssessHarness.document(result)
    #expect(document["exit_code"] as? Int == Int(result.status))
    #expect([0, 3, 10, 11, 12, 13].contains(result.status), "\(result.stderr)")
    let signals = try #require(document["signals"] as? [[String: Any]])
    #expect(signals.count == 11)
    for name in ["db_up", "db_active"] {
      #expect(AssessHarness.signal(name, in: document)?["value"] as? Double != nil, "\(name) unknown")
    }
    #expect(AssessHarness.signal("db_up", in: document)?["value"] as? Double == 1)
    let password = try AssessHarness.value("ROLLBACK_TEST_PG_PASSWORD")
    #expect(!result.stdout.contains(password) && !result.stderr.contains(password))
  }
}
