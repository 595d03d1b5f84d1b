import Foundation
import Testing

@testable import RollbackSystem

/// Edits the harness metrics file: replaces the lines of one metric, keeps the rest.
enum PrometheusTestMetrics {
  private static let lock = NSLock()

  /// Writes `lines` (text-format samples) for `metric`, replacing its previous lines,
  /// atomically (temporary file and rename) so the scraper never sees half a file.
  static func set(_ metric: String, lines: [String]) throws {
    let path = try SystemTestHarness.metricsFile()
    lock.lock()
    defer { lock.unlock() }
    let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    var kept = existing.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter {
      !$0.hasPrefix(metric + " ") && !$0.hasPrefix(metric + "{") && $0 != "# TYPE \(metric) gauge"
    }
    while kept.last == "" { kept.removeLast() }
    kept.append("# TYPE \(metric) gauge")
    kept.append(contentsOf: lines)
    let temporary = path + ".tmp-\(getpid())-\(UUID().uuidString)"
    try (kept.joined(separator: "\n") + "\n").write(toFile: temporary, atomically: false, encoding: .utf8)
    guard rename(temporary, path) == 0 else {
      throw HTTPLoopbackError.socket("rename \(temporary)", errno)
    }
  }
}

@Suite("PrometheusClient against the harness Prometheus")
struct PrometheusHarnessTests {
  func client(timeout: Duration = .seconds(5)) throws -> PrometheusClient {
    PrometheusClient(baseURL: try SystemTestHarness.prometheusURL(), timeout: timeout)
  }

  @Test("a rewritten metrics file shows up as the new value")
  func metricsFileValueAppears() async throws {
    let client = try client()
    let value = Double(Int.random(in: 1000...9_999_999)) / 100
    try PrometheusTestMetrics.set(
      "test_rollback_system_value", lines: ["test_rollback_system_value \(value)"])

    let (last, elapsed) = await repeatUntil(for: .seconds(12)) {
      try? await client.queryValue("test_rollback_system_value{job=\"testmetrics\"}")
    } until: {
      $0 == value
    }

    #expect(last == value, "value did not appear within \(elapsed)")
    let result = try await client.query("test_rollback_system_value")
    let labels = try #require(result.samples.first?.labels)
    #expect(labels["__name__"] == "test_rollback_system_value")
    #expect(labels["job"] == "testmetrics")
  }

  @Test("several series need a reduction, and each reduction works")
  func severalSeriesReduce() async throws {
    let client = try client()
    let base = Double(Int.random(in: 10...1000))
    try PrometheusTestMetrics.set(
      "test_rollback_system_shards",
      lines: [
        "test_rollback_system_shards{shard=\"a\"} \(base)",
        "test_rollback_system_shards{shard=\"b\"} \(base + 4)",
      ])
    let expression = "test_rollback_system_shards{job=\"testmetrics\"}"

    let (result, elapsed) = await repeatUntil(for: .seconds(12)) {
      try? await client.query(expression)
    } until: {
      $0?.samples.map(\.value).sorted() == [base, base + 4]
    }

    let samples = try #require(result, "no result within \(elapsed)")
    #expect(samples.seriesCount == 2)
    #expect(Set(samples.samples.compactMap { $0.labels["shard"] }) == ["a", "b"])
    #expect(throws: PrometheusError.multipleSeries(count: 2)) { try samples.value() }
    #expect(try samples.value(reducedBy: .max) == base + 4)
    #expect(try samples.value(reducedBy: .min) == base)
    #expect(try samples.value(reducedBy: .sum) == 2 * base + 4)
    #expect(try samples.value(reducedBy: .avg) == base + 2)
  }

  @Test("vector(1) is one series with no labels")
  func vectorOne() async throws {
    let result = try await client().query("vector(1)")

    #expect(result.resultType == .vector)
    #expect(result.samples.count == 1)
    #expect(result.samples.first?.labels == [:])
    #expect(try result.value() == 1)
  }

  @Test("a scalar is read, at the requested evaluation time")
  func scalarAtTime() async throws {
    let time = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 60).rounded())

    let result = try await client().query("scalar(vector(2.5))", at: time)

    #expect(result.resultType == .scalar)
    #expect(result.samples.first?.timestamp == time.timeIntervalSince1970)
    #expect(try result.value() == 2.5)
  }

  @Test(
    "NaN and infinities are not numbers",
    arguments: [
      ("NaN", "NaN"), ("scalar(vector(NaN))", "NaN"), ("1/0", "+Inf"), ("-1/0", "-Inf"),
      ("vector(1/0)", "+Inf"),
    ]
  )
  func nonFiniteValues(expression: String, shown: String) async throws {
    let client = try client()

    let result = try await client.query(expression)
    let (error, _) = await timedError { () async throws(PrometheusError) in
      _ = try await client.queryValue(expression)
    }

    #expect(result.samples.first?.rawValue == shown)
    #expect(result.samples.first?.value.isFinite == false)
    #expect(error == .nonFinite(value: shown))
    #expect(error?.description == "value is \(shown)")
  }

  @Test("an empty vector is no data")
  func emptyVectorIsNoData() async throws {
    let client = try client()

    let result = try await client.query("test_rollback_system_never_exported")
    let (error, _) = await timedError { () async throws(PrometheusError) in
      _ = try await client.queryValue("test_rollback_system_never_exported", reducedBy: .max)
    }

    #expect(result.seriesCount == 0)
    #expect(error == .noData)
    #expect(error?.description == "no data (empty result)")
  }

  @Test("a bad query is HTTP 400 bad_data with Prometheus' message")
  func badQuery() async throws {
    let client = try client()

    let (error, _) = await timedError { () async throws(PrometheusError) in
      _ = try await client.query("sum(")
    }

    guard case .httpStatus(let code, let errorType, let message) = try #require(error) else {
      Issue.record("expected httpStatus, got \(String(describing: error))")
      return
    }
    #expect(code == 400)
    #expect(errorType == "bad_data")
    #expect(message.contains("parse error"))
    #expect(error?.description.hasPrefix("HTTP 400 bad_data: invalid parameter") == true)
  }

  @Test(
    "string and matrix results are not numbers", arguments: [("\"text\"", "string"), ("up[1m]", "matrix")])
  func unsupportedResultTypes(expression: String, type: String) async throws {
    let client = try client()

    let (error, _) = await timedError { () async throws(PrometheusError) in
      _ = try await client.query(expression)
    }

    #expect(error == .unsupportedResultType(type))
  }

  @Test("a base URL with a trailing slash works")
  func trailingSlash() async throws {
    let client = PrometheusClient(baseURL: try SystemTestHarness.prometheusURL() + "/")

    #expect(try await client.queryValue("vector(3)") == 3)
  }

  @Test("a URL that is not the API gives the status and a body excerpt")
  func wrongPathIsNotAPI() async throws {
    let client = PrometheusClient(baseURL: try SystemTestHarness.prometheusURL() + "/graph")

    let (error, _) = await timedError { () async throws(PrometheusError) in
      _ = try await client.query("vector(1)")
    }

    #expect(error == .notAPIResponse(status: 404, excerpt: "404 page not found"))
  }
}

@Suite("PrometheusClient failure modes against servers the test controls")
struct PrometheusFailureTests {
  @Test("a stopped server is connection refused at host:port")
  func stoppedServer() async throws {
    let port = try closedLoopbackPort()
    let client = PrometheusClient(baseURL: "http://127.0.0.1:\(port)")

    let (error, elapsed) = await timedError { () async throws(PrometheusError) in
      _ = try await client.query("up")
    }

    #expect(error == .connectionRefused(endpoint: "127.0.0.1:\(port)"))
    #expect(error?.description == "connection refused at 127.0.0.1:\(port)")
    #expect(elapsed < .seconds(2))
  }

  @Test("a server that never answers times out after the query timeout")
  func hangingServer() async throws {
    let server = try HTTPLoopbackServer(reply: .hang)
    defer { server.stop() }
    let client = PrometheusClient(baseURL: server.baseURL, timeout: .seconds(1))

    let (error, elapsed) = await timedError { () async throws(PrometheusError) in
      _ = try await client.query("up")
    }

    #expect(error == .timeout(after: .seconds(1)))
    #expect(error?.description == "timeout after 1s")
    #expect(elapsed < .seconds(2))
  }

  @Test("an HTML page is not an API response")
  func htmlBody() async throws {
    let server = try HTTPLoopbackServer(
      reply: .respond(
        status: 200, headers: ["Content-Type": "text/html"],
        body: Data("<!doctype html>\n<html><body>Frontend\n  home</body></html>".utf8)))
    defer { server.stop() }

    let (error, _) = await timedError { () async throws(PrometheusError) in
      _ = try await PrometheusClient(baseURL: server.baseURL).query("up")
    }

    #expect(
      error
        == .notAPIResponse(status: 200, excerpt: "<!doctype html> <html><body>Frontend home</body></html>"))
    #expect(error?.description.hasPrefix("not a Prometheus API response (HTTP 200)") == true)
  }

  @Test(
    "error envelopes keep status, errorType and error",
    arguments: [
      (422, "execution", "expanding series: query processing would load too many samples"),
      (503, "timeout", "query timed out in expression evaluation"),
      (500, "internal", "something broke"),
    ])
  func errorEnvelopes(status: Int, errorType: String, message: String) async throws {
    let body = try JSONSerialization.data(withJSONObject: [
      "status": "error", "errorType": errorType, "error": message,
    ])
    let server = try HTTPLoopbackServer(
      reply: .respond(status: status, headers: ["Content-Type": "application/json"], body: body))
    defer { server.stop() }

    let (error, _) = await timedError { () async throws(PrometheusError) in
      _ = try await PrometheusClient(baseURL: server.baseURL).query("up")
    }

    #expect(error == .httpStatus(code: status, errorType: errorType, error: message))
    #expect(error?.description == "HTTP \(status) \(errorType): \(message)")
  }

  @Test("a proxy error page without JSON keeps its status")
  func proxyErrorPage() async throws {
    let server = try HTTPLoopbackServer(reply: .respond(status: 502, body: Data("Bad Gateway".utf8)))
    defer { server.stop() }

    let (error, _) = await timedError { () async throws(PrometheusError) in
      _ = try await PrometheusClient(baseURL: server.baseURL).query("up")
    }

    #expect(error == .notAPIResponse(status: 502, excerpt: "Bad Gateway"))
  }

  @Test("the query is form-encoded in a POST with the bearer token and a server-side timeout")
  func requestShape() async throws {
    let reply =
      #"{"status":"success","data":{"resultType":"vector","result":[]},"warnings":["partial data"]}"#
    let server = try HTTPLoopbackServer(reply: .respond(status: 200, body: Data(reply.utf8)))
    defer { server.stop() }
    let client = PrometheusClient(
      baseURL: server.baseURL + "/prom/", bearerToken: "s3cr3t-token", timeout: .milliseconds(2500))

    let result = try await client.query("sum(rate(http_requests_total{code=~\"5..\"}[5m])) / 2 + 1")

    #expect(result.warnings == ["partial data"])
    let received = try #require(server.requests.first)
    #expect(received.method == "POST")
    #expect(received.path == "/prom/api/v1/query")
    #expect(received.header("Authorization") == "Bearer s3cr3t-token")
    #expect(received.header("Content-Type") == "application/x-www-form-urlencoded")
    #expect(
      String(decoding: received.body, as: UTF8.self)
        == "query=sum%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29%20%2F%202%20%2B%201"
        + "&timeout=2500ms")
  }

  @Test("the bearer token never shows in an error")
  func tokenIsRedacted() async throws {
    let body = #"{"status":"error","errorType":"internal","error":"bad token s3cr3t-token"}"#
    let server = try HTTPLoopbackServer(reply: .respond(status: 500, body: Data(body.utf8)))
    defer { server.stop() }
    let htmlServer = try HTTPLoopbackServer(
      reply: .respond(status: 401, body: Data("denied s3cr3t-token".utf8)))
    defer { htmlServer.stop() }

    let (jsonError, _) = await timedError { () async throws(PrometheusError) in
      _ = try await PrometheusClient(baseURL: server.baseURL, bearerToken: "s3cr3t-token").query("up")
    }
    let (textError, _) = await timedError { () async throws(PrometheusError) in
      _ = try await PrometheusClient(baseURL: htmlServer.baseURL, bearerToken: "s3cr3t-token").query("up")
    }

    #expect(jsonError?.description == "HTTP 500 internal: bad token ****")
    #expect(textError == .notAPIResponse(status: 401, excerpt: "denied ****"))
  }

  @Test("no token means no Authorization header")
  func noToken() async throws {
    let reply = #"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"7"]}}"#
    let server = try HTTPLoopbackServer(reply: .respond(status: 200, body: Data(reply.utf8)))
    defer { server.stop() }

    let value = try await PrometheusClient(baseURL: server.baseURL).queryValue("7")

    #expect(value == 7)
    #expect(server.requests.first?.header("Authorization") == nil)
  }
}

@Suite("PrometheusQueryResult reduction")
struct PrometheusReductionTests {
  func result(_ values: [String]) -> PrometheusQueryResult {
    let samples = values.enumerated().map { index, raw in
      PrometheusSample(
        labels: ["i": "\(index)"], timestamp: 0, rawValue: raw,
        value: raw == "NaN" ? .nan : raw == "+Inf" ? .infinity : Double(raw) ?? .nan)
    }
    return PrometheusQueryResult(resultType: .vector, samples: samples, warnings: [])
  }

  @Test("one series needs no reduction")
  func single() throws {
    #expect(try result(["0.25"]).value() == 0.25)
    #expect(try result(["0.25"]).value(reducedBy: .sum) == 0.25)
  }

  @Test("any non-finite series makes the whole value unknown")
  func anyNonFinite() {
    #expect(throws: PrometheusError.nonFinite(value: "NaN")) {
      try result(["1", "NaN"]).value(reducedBy: .max)
    }
    #expect(throws: PrometheusError.nonFinite(value: "+Inf")) {
      try result(["+Inf", "2"]).value(reducedBy: .min)
    }
  }

  @Test("no series is no data")
  func empty() {
    #expect(throws: PrometheusError.noData) { try result([]).value(reducedBy: .avg) }
  }
}
