import Foundation
import RollbackCore
import Testing

@testable import RollbackSystem

/// Runs async work on one thread of its own. Timing tests prefer it, so that other tests
/// that hold the few cooperative threads (sync tests waiting for processes, fuzzers) do
/// not delay the reader's continuations and distort what is measured.
final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
  private let condition = NSCondition()
  private var jobs: [UnownedJob] = []

  init(name: String) {
    let thread = Thread { [self] in runLoop() }
    thread.name = name
    thread.start()
  }

  func enqueue(_ job: UnownedJob) {
    condition.lock()
    jobs.append(job)
    condition.signal()
    condition.unlock()
  }

  private func runLoop() {
    while true {
      condition.lock()
      while jobs.isEmpty { condition.wait() }
      let job = jobs.removeFirst()
      condition.unlock()
      job.runSynchronously(on: asUnownedTaskExecutor())
    }
  }
}

/// Builds small runbooks whose signals point at a chosen Prometheus and PostgreSQL, reads
/// them with ``LiveSignalReader`` and decides with a matrix that reads every signal.
enum ReaderFixture {
  /// Where timing tests run their async work.
  static let executor = DedicatedThreadExecutor(name: "reader-tests")

  /// The variable the fixture's postgres settings name for the DSN.
  static let dsnVariable = "ROLLBACK_READER_TEST_DSN"

  /// A YAML double-quoted scalar (JSON string syntax is valid YAML).
  static func quoted(_ text: String) -> String {
    "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
      + "\""
  }

  /// A runbook with one `critical` rule per signal (`NAME > 1e9`), so a known ordinary
  /// value is healthy and an unknown one is inconclusive.
  static func runbook(
    prometheusURL: String = "http://127.0.0.1:9", timeout: String = "1s",
    signals: [(name: String, source: String, query: String)], extra: String = ""
  ) throws -> Runbook {
    var yaml = """
      version: 1
      name: reader-test
      environments:
        test:
          prometheus:
            url: \(quoted(prometheusURL))
            timeout: \(timeout)
          postgres:
            dsn_env: \(dsnVariable)
            timeout: \(timeout)
      signals:

      """
    for signal in signals {
      yaml += "  \(signal.name):\n    \(signal.source): \(quoted(signal.query))\n\(extra)"
    }
    yaml += "decision:\n"
    for signal in signals {
      yaml += "  - severity: critical\n    any: [\"\(signal.name) > 1000000000\"]\n    action: {level: 1}\n"
    }
    yaml += "levels:\n  1:\n    steps:\n      - check: [\(signals.map(\.name).joined(separator: ", "))]\n"
    let result = RunbookLoader.load(source: yaml, file: "reader-test.yaml")
    return try #require(result.runbook, "\(result.errors.map(\.description).joined(separator: "\n"))")
  }

  static func reader(
    _ runbook: Runbook, dsn: String? = nil, concurrency: Int = 16
  ) throws -> LiveSignalReader {
    var environment: [String: String] = [:]
    environment[dsnVariable] = dsn
    let resolver = try Resolver.resolving(
      runbook: runbook, environmentName: nil, processEnvironment: environment, overrides: [:],
      resolveSecrets: true
    )
    return LiveSignalReader(resolver: resolver, processEnvironment: environment, concurrency: concurrency)
  }

  /// Reads every signal and decides; returns the readings, the verdict and the wall time.
  static func assess(
    _ runbook: Runbook, dsn: String? = nil
  ) async throws -> (readings: [SignalReading], verdict: Verdict, elapsed: Duration) {
    let reader = try reader(runbook, dsn: dsn)
    let (readings, elapsed) = await withTaskExecutorPreference(ReaderFixture.executor) {
      await timed { await reader.read(runbook.signals) }
    }
    return (readings, DecisionEngine.decide(runbook: runbook, readings: readings), elapsed)
  }

  /// A Prometheus error envelope.
  static func prometheusError(_ type: String, _ message: String) -> Data {
    Data(#"{"status":"error","errorType":"\#(type)","error":"\#(message)"}"#.utf8)
  }
}

extension Result where Failure == DiagnosticList {
  fileprivate func get() throws -> Success {
    switch self {
    case .success(let value): return value
    case .failure(let list): throw ReaderFixtureError(text: list.diagnostics.map(\.description).joined())
    }
  }
}

private struct ReaderFixtureError: Error, CustomStringConvertible {
  let text: String
  var description: String { text }
}

@Suite(
  "LiveSignalReader: every fault is unknown with a precise reason, never healthy, within timeout + 1 s",
  .serialized)
struct LiveSignalReaderFaultTests {
  /// The configured timeout in these tests and the bound on a fault's wall time.
  static let limit: Duration = .seconds(2)

  func expectUnknown(
    _ outcome: (readings: [SignalReading], verdict: Verdict, elapsed: Duration), reason: String,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) {
    let reading = outcome.readings.first
    #expect(reading?.value == nil, sourceLocation: sourceLocation)
    #expect(
      reading?.error?.contains(reason) == true, "\(reading?.error ?? "no error")",
      sourceLocation: sourceLocation)
    #expect(
      reading?.formatted == "unknown — \(reading?.error ?? "")", sourceLocation: sourceLocation)
    #expect(outcome.verdict.label == "inconclusive", sourceLocation: sourceLocation)
    #expect(outcome.verdict.exitCode == 3, sourceLocation: sourceLocation)
    #expect(outcome.elapsed < Self.limit, "took \(outcome.elapsed)", sourceLocation: sourceLocation)
  }

  @Test("Prometheus stopped: connection refused at host:port")
  func prometheusStopped() async throws {
    let port = try closedLoopbackPort()
    let runbook = try ReaderFixture.runbook(
      prometheusURL: "http://127.0.0.1:\(port)", signals: [("error_rate", "prometheus", "up")])

    let outcome = try await ReaderFixture.assess(runbook)

    expectUnknown(outcome, reason: "connection refused at 127.0.0.1:\(port)")
  }

  @Test("a server that accepts and never answers: timeout after the configured 1 s")
  func hangingServer() async throws {
    let server = try HTTPLoopbackServer(reply: .hang)
    defer { server.stop() }
    let runbook = try ReaderFixture.runbook(
      prometheusURL: server.baseURL, signals: [("error_rate", "prometheus", "up")])

    let outcome = try await ReaderFixture.assess(runbook)

    expectUnknown(outcome, reason: "timeout after 1s")
    #expect(outcome.elapsed >= .milliseconds(900))
  }

  @Test(
    "HTTP errors with Prometheus' JSON error show status, errorType and message",
    arguments: [
      (
        400, "bad_data", "invalid parameter \\\"query\\\": 1:5: parse error",
        "HTTP 400 bad_data: invalid parameter"
      ),
      (
        422, "execution", "expanding series: too many samples",
        "HTTP 422 execution: expanding series: too many samples"
      ),
      (500, "internal", "storage failure", "HTTP 500 internal: storage failure"),
      (503, "unavailable", "query queue full", "HTTP 503 unavailable: query queue full"),
    ])
  func httpErrors(status: Int, type: String, message: String, reason: String) async throws {
    let server = try HTTPLoopbackServer(
      reply: .respond(
        status: status, headers: ["Content-Type": "application/json"],
        body: ReaderFixture.prometheusError(type, message)))
    defer { server.stop() }
    let runbook = try ReaderFixture.runbook(
      prometheusURL: server.baseURL, signals: [("error_rate", "prometheus", "rate(x[5m])")])

    let outcome = try await ReaderFixture.assess(runbook)

    expectUnknown(outcome, reason: reason)
  }

  @Test("a body that is not the API's JSON (a proxy's error page) names the status and shows an excerpt")
  func notJSON() async throws {
    let server = try HTTPLoopbackServer(
      reply: .respond(
        status: 502, headers: ["Content-Type": "text/html"],
        body: Data("<html><body><h1>502 Bad Gateway</h1></body></html>".utf8)))
    defer { server.stop() }
    let runbook = try ReaderFixture.runbook(
      prometheusURL: server.baseURL, signals: [("error_rate", "prometheus", "up")])

    let outcome = try await ReaderFixture.assess(runbook)

    expectUnknown(
      outcome, reason: "not a Prometheus API response (HTTP 502): \"<html><body><h1>502 Bad Gateway</h1>")
  }

  @Test("warnings Prometheus sends along are kept with the value")
  func warningsKept() async throws {
    let body = #"""
      {"status":"success","warnings":["PromQL info: metric might not be a counter"],
       "data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"0.25"]}]}}
      """#
    let server = try HTTPLoopbackServer(reply: .respond(status: 200, body: Data(body.utf8)))
    defer { server.stop() }
    let runbook = try ReaderFixture.runbook(
      prometheusURL: server.baseURL, signals: [("error_rate", "prometheus", "rate(x[5m])")])

    let outcome = try await ReaderFixture.assess(runbook)

    #expect(outcome.readings.first?.value == 0.25)
    #expect(outcome.readings.first?.warnings == ["PromQL info: metric might not be a counter"])
    #expect(outcome.verdict.label == "healthy")
  }

  @Test("an empty vector from the real Prometheus is no data")
  func emptyVector() async throws {
    let runbook = try ReaderFixture.runbook(
      prometheusURL: try SystemTestHarness.prometheusURL(),
      signals: [("error_rate", "prometheus", "test_reader_metric_that_does_not_exist")])

    let outcome = try await ReaderFixture.assess(runbook)

    expectUnknown(outcome, reason: "no data (empty result)")
  }

  @Test(
    "NaN and +Inf from the real Prometheus are unknown, as Prometheus wrote them",
    arguments: [("NaN", "value is NaN"), ("+Inf", "value is +Inf")])
  func nonFinite(sample: String, reason: String) async throws {
    let metric = "test_reader_nonfinite_\(sample == "NaN" ? "nan" : "inf")"
    try PrometheusTestMetrics.set(metric, lines: ["\(metric) \(sample)"])
    let runbook = try ReaderFixture.runbook(
      prometheusURL: try SystemTestHarness.prometheusURL(), signals: [("error_rate", "prometheus", metric)])
    // Wait for the scrape: until the value is no longer "no data".
    let reader = try ReaderFixture.reader(runbook)
    _ = await repeatUntil(for: .seconds(10)) {
      await reader.read(runbook.signals)
    } until: {
      $0.first?.error?.contains("no data") == false
    }

    let outcome = try await ReaderFixture.assess(runbook)

    expectUnknown(outcome, reason: reason)
  }

  @Test("several series are reduced per the signal (sum, max by default) and counted")
  func severalSeries() async throws {
    let metric = "test_reader_series"
    try PrometheusTestMetrics.set(
      metric, lines: ["\(metric){pool=\"a\"} 0.2", "\(metric){pool=\"b\"} 0.7", "\(metric){pool=\"c\"} 0.4"])
    let url = try SystemTestHarness.prometheusURL()
    let summed = try ReaderFixture.runbook(
      prometheusURL: url, signals: [("pool_sum", "prometheus", metric)], extra: "    reduce: sum\n")
    let byDefault = try ReaderFixture.runbook(
      prometheusURL: url, signals: [("pool_max", "prometheus", metric)])
    let reader = try ReaderFixture.reader(summed)
    _ = await repeatUntil(for: .seconds(10)) {
      await reader.read(summed.signals)
    } until: {
      $0.first?.seriesCount == 3
    }

    let sum = try await ReaderFixture.assess(summed)
    let max = try await ReaderFixture.assess(byDefault)

    #expect(try #require(sum.readings.first?.value).distance(to: 1.3).magnitude < 1e-9)
    #expect(sum.readings.first?.seriesCount == 3)
    #expect(max.readings.first?.value == 0.7)
    #expect(max.readings.first?.seriesCount == 3)
    #expect(max.verdict.label == "healthy")
  }

  @Test("PostgreSQL stopped: could not connect, connection refused")
  func postgresStopped() async throws {
    let port = try closedLoopbackPort()
    let runbook = try ReaderFixture.runbook(signals: [("db_up", "postgres", "SELECT 1")])

    let outcome = try await ReaderFixture.assess(
      runbook, dsn: "postgresql://postgres:secret-pw@127.0.0.1:\(port)/postgres")

    expectUnknown(outcome, reason: "could not connect to postgres")
    #expect(outcome.readings.first?.error?.contains("Connection refused") == true)
    #expect(outcome.readings.first?.error?.contains("secret-pw") == false)
  }

  @Test("a wrong password is an authentication failure that never shows the password")
  func wrongPassword() async throws {
    let password = "wrong-\(UUID().uuidString.prefix(8))"
    let dsn = try SystemTestHarness.postgres().conninfo(password: password)
    let runbook = try ReaderFixture.runbook(signals: [("db_up", "postgres", "SELECT 1")])

    let outcome = try await ReaderFixture.assess(runbook, dsn: dsn)

    expectUnknown(outcome, reason: "password authentication failed")
    #expect(outcome.readings.first?.error?.contains(password) == false)
  }

  @Test("a statement that outlives the timeout is a statement timeout (SQLSTATE 57014)")
  func statementTimeout() async throws {
    let runbook = try ReaderFixture.runbook(signals: [("db_up", "postgres", "SELECT 1 FROM pg_sleep(5)")])

    let outcome = try await ReaderFixture.assess(runbook, dsn: try SystemTestHarness.databaseURL())

    expectUnknown(outcome, reason: "statement timeout after 1s (SQLSTATE 57014)")
  }

  @Test(
    "results that are not one number are unknown",
    arguments: [
      ("SELECT 'abc'", "query returned \"abc\", not a number"),
      ("SELECT 1 WHERE false", "query returned no rows"),
      ("SELECT NULL::int", "query returned NULL"),
      ("SELECT 'NaN'::float8", "value is NaN"),
      ("SELECT * FROM no_such_table", "query failed (SQLSTATE 42P01)"),
    ])
  func notANumber(query: String, reason: String) async throws {
    let runbook = try ReaderFixture.runbook(signals: [("db_active", "postgres", query)])

    let outcome = try await ReaderFixture.assess(runbook, dsn: try SystemTestHarness.databaseURL())

    expectUnknown(outcome, reason: reason)
  }

  @Test("the DSN variable unset is unknown and says which variable")
  func dsnUnset() async throws {
    let runbook = try ReaderFixture.runbook(signals: [("db_up", "postgres", "SELECT 1")])

    let outcome = try await ReaderFixture.assess(runbook, dsn: nil)

    expectUnknown(outcome, reason: "\(ReaderFixture.dsnVariable) is not set")
  }
}

@Suite("LiveSignalReader: parallel, bounded, off the cooperative pool", .serialized)
struct LiveSignalReaderParallelTests {
  @Test("six 0.5 s queries take about one query's time, not the sum")
  func parallel() async throws {
    // Each value is when the server started that statement.
    let query = "SELECT extract(epoch FROM statement_timestamp()) FROM pg_sleep(0.5)"
    let signals = (1...6).map { ("slow\($0)", "postgres", query) }
    let runbook = try ReaderFixture.runbook(timeout: "5s", signals: signals)

    let outcome = try await ReaderFixture.assess(runbook, dsn: try SystemTestHarness.databaseURL())

    let starts = outcome.readings.compactMap(\.value)
    #expect(starts.count == 6, "\(outcome.readings.map(\.formatted))")
    // One after another, the starts would spread over 2.5 s at least; at the same time,
    // they all start within the first connection's handshake plus the pool's patience.
    #expect((starts.max() ?? 0) - (starts.min() ?? 0) < 1.5, "start times \(starts)")
    #expect(outcome.elapsed < .milliseconds(2500), "took \(outcome.elapsed); one after another would be 3 s")
    #expect(!outcome.verdict.inconclusive)
  }

  @Test("quick probes of one database share one connection instead of one handshake each")
  func quickProbesShareAConnection() async throws {
    let dsn = try SystemTestHarness.databaseURL()
    // A patience longer than five quick queries, so that the outcome does not depend on load.
    let pool = PostgresSessionPool(patience: .seconds(3))

    let pids = try await withThrowingTaskGroup(of: Double.self) { group in
      for _ in 1...5 {
        group.addTask {
          try await pool.queryNumber(dsn: dsn, query: "SELECT pg_backend_pid()", timeout: .seconds(5))
        }
      }
      return try await group.reduce(into: Set<Double>()) { $0.insert($1) }
    }

    #expect(pids.count == 1)
  }

  @Test("a slow query does not hold the quick ones back: they open their own connection")
  func slowQueryDoesNotBlock() async throws {
    let signals = [
      ("slow", "postgres", "SELECT 1 FROM pg_sleep(2)"), ("quick1", "postgres", "SELECT 2"),
      ("quick2", "postgres", "SELECT 3"),
    ]
    let runbook = try ReaderFixture.runbook(timeout: "5s", signals: signals)

    let outcome = try await ReaderFixture.assess(runbook, dsn: try SystemTestHarness.databaseURL())

    #expect(outcome.readings.map(\.value) == [1, 2, 3])
    for quick in outcome.readings.dropFirst() {
      #expect(quick.duration < 1, "\(quick.name) took \(quick.duration) s: it waited for the slow query")
    }
    #expect(outcome.elapsed < .milliseconds(2800))
  }

  @Test("when the database refuses the login, every signal says so, in about one attempt's time")
  func sharedFailure() async throws {
    let dsn = try SystemTestHarness.postgres().conninfo(password: "not-it")
    let signals = (1...4).map { ("db\($0)", "postgres", "SELECT 1") }
    let runbook = try ReaderFixture.runbook(signals: signals)

    let outcome = try await ReaderFixture.assess(runbook, dsn: dsn)

    for reading in outcome.readings {
      #expect(reading.error?.contains("password authentication failed") == true, "\(reading.formatted)")
    }
    #expect(outcome.verdict.label == "inconclusive")
    #expect(outcome.elapsed < .seconds(2))
  }

  @Test("results keep the runbook's order whatever finishes first")
  func order() async throws {
    let signals = [
      ("late", "postgres", "SELECT 3 FROM pg_sleep(0.3)"), ("early", "postgres", "SELECT 1"),
      ("middle", "postgres", "SELECT 2 FROM pg_sleep(0.1)"),
    ]
    let runbook = try ReaderFixture.runbook(timeout: "5s", signals: signals)

    let outcome = try await ReaderFixture.assess(runbook, dsn: try SystemTestHarness.databaseURL())

    #expect(outcome.readings.map(\.name) == ["late", "early", "middle"])
    #expect(outcome.readings.map(\.value) == [3, 1, 2])
  }

  @Test("at most `concurrency` reads at once; the cooperative pool keeps running meanwhile")
  func boundedAndNotStarving() async throws {
    let server = try HTTPLoopbackServer(reply: .hang)
    defer { server.stop() }
    let signals = (1...20).map { ("s\($0)", "prometheus", "up") }
    let runbook = try ReaderFixture.runbook(prometheusURL: server.baseURL, timeout: "1s", signals: signals)
    let reader = try ReaderFixture.reader(runbook, concurrency: 16)

    let (inFlight, ticks, results, elapsed) = await withTaskExecutorPreference(ReaderFixture.executor) {
      async let readings = timed { await reader.read(runbook.signals) }
      // While 16 blocking transfers hang, async work still gets scheduled promptly.
      let (_, ticks) = await timed {
        for _ in 0..<10 { try? await Task.sleep(for: .milliseconds(20)) }
      }
      try? await Task.sleep(for: .milliseconds(500))
      let inFlight = server.requests.count
      let (results, elapsed) = await readings
      return (inFlight, ticks, results, elapsed)
    }

    #expect(ticks < .milliseconds(600), "10 × 20 ms of sleeps took \(ticks) while reads were blocked")
    #expect(inFlight == 16, "requests in the first wave: \(inFlight)")
    #expect(server.requests.count == 20)
    #expect(results.allSatisfy { $0.error == "timeout after 1s" })
    // Two waves of 1 s timeouts.
    #expect(elapsed >= .milliseconds(1900))
    #expect(elapsed < .seconds(3))
  }
}
