import Foundation
import RollbackCore
import Testing

@testable import RollbackSystem

@Suite("Grafana annotations client against a loopback server")
struct GrafanaClientTests {
  static let token = "glsa_T0KENabcdef0123456789"
  static let fast = RetryPolicy(
    initialDelay: .milliseconds(50), maxDelay: .milliseconds(200), requestTimeout: .seconds(2))

  func client(_ server: HTTPLoopbackServer, dashboard: String? = "checkout-overview") -> GrafanaClient {
    GrafanaClient(
      settings: GrafanaSettings(url: server.baseURL, tokenEnv: "GRAFANA_TOKEN", dashboardUID: dashboard),
      token: Self.token, policy: Self.fast)
  }

  @Test("a run's annotation: POST /api/annotations with time, tags, text, dashboardUID and the bearer token")
  func annotate() async throws {
    let server = try HTTPLoopbackServer(
      reply: .respond(status: 200, body: Data(#"{"message":"Annotation added","id":4711}"#.utf8)))
    defer { server.stop() }
    let id = try await client(server).annotate(
      runID: "r-1", runbook: "shop", environment: "production", level: 3,
      text: "rollback shop level 3 (run r-1)",
      time: Date(timeIntervalSince1970: 1_800_000_000.5), timeout: .seconds(5))
    #expect(id == 4711)
    let request = try #require(server.requests.first)
    #expect(request.method == "POST")
    #expect(request.path == "/api/annotations")
    #expect(request.header("Content-Type") == "application/json")
    #expect(request.header("Authorization") == "Bearer \(Self.token)")
    let body = jsonBody(request)
    #expect(Set(body.keys) == ["time", "tags", "text", "dashboardUID"])
    #expect((body["time"] as? NSNumber)?.int64Value == 1_800_000_000_500)
    #expect(body["tags"] as? [String] == ["rollback", "shop", "production", "level:3"])
    #expect(body["text"] as? String == "rollback shop level 3 (run r-1)")
    #expect(body["dashboardUID"] as? String == "checkout-overview")
  }

  @Test("without dashboard_uid the annotation is the organisation's, and the text names the run")
  func organisationAnnotation() async throws {
    let server = try HTTPLoopbackServer(reply: .respond(status: 200, body: Data(#"{"id":1}"#.utf8)))
    defer { server.stop() }
    _ = try await client(server, dashboard: nil).annotate(
      runID: "r-9", runbook: "shop", environment: "staging", level: nil, text: "rollback shop",
      timeout: .seconds(5))
    let body = jsonBody(try #require(server.requests.first))
    #expect(body["dashboardUID"] == nil)
    #expect(Set(body.keys) == ["time", "tags", "text"])
    #expect(body["tags"] as? [String] == ["rollback", "shop", "staging"])
    #expect(body["text"] as? String == "rollback shop (run r-9)")
  }

  @Test("closing: PATCH /api/annotations/ID with timeEnd")
  func close() async throws {
    let server = try HTTPLoopbackServer(
      reply: .respond(status: 200, body: Data(#"{"message":"Annotation patched"}"#.utf8)))
    defer { server.stop() }
    try await client(server).close(
      id: 4711, time: Date(timeIntervalSince1970: 1_800_000_060), timeout: .seconds(5))
    let request = try #require(server.requests.first)
    #expect(request.method == "PATCH")
    #expect(request.path == "/api/annotations/4711")
    #expect(request.header("Authorization") == "Bearer \(Self.token)")
    #expect(Set(jsonBody(request).keys) == ["timeEnd"])
    #expect((jsonBody(request)["timeEnd"] as? NSNumber)?.int64Value == 1_800_000_060_000)
  }

  @Test("503 then 200: retried, and the id comes back")
  func retriesAfter503() async throws {
    let counter = CallCounter()
    let server = try HTTPLoopbackServer { _ in
      counter.next() == 1
        ? .respond(status: 503, body: Data("busy".utf8))
        : .respond(status: 200, body: Data(#"{"id":7}"#.utf8))
    }
    defer { server.stop() }
    let id = try await client(server).annotate(
      runID: "r", runbook: "b", environment: "e", level: 1, text: "t", timeout: .seconds(5))
    #expect(id == 7)
    #expect(server.requests.count == 2)
  }

  @Test("401 is an error with Grafana's message, without the token")
  func unauthorized() async throws {
    let server = try HTTPLoopbackServer { request in
      .respond(
        status: 401,
        body: Data(#"{"message":"invalid API key: \#(request.header("Authorization") ?? "")"}"#.utf8))
    }
    defer { server.stop() }
    var caught: IntegrationError?
    do {
      _ = try await client(server).annotate(
        runID: "r", runbook: "b", environment: "e", level: 1, text: "t", timeout: .seconds(5))
    } catch {
      caught = error
    }
    let error = try #require(caught)
    #expect(server.requests.count == 1)
    #expect(error.status == 401)
    #expect(error.description.hasPrefix("grafana: HTTP 401: invalid API key"))
    #expect(!error.description.contains(Self.token))
  }
}
