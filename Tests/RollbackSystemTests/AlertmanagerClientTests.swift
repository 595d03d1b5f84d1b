import Foundation
import RollbackCore
import Testing

@testable import RollbackSystem

@Suite("Alertmanager silences against the harness's real Alertmanager")
struct AlertmanagerClientTests {
  func client(token: String? = nil) throws -> AlertmanagerClient {
    AlertmanagerClient(
      settings: AlertmanagerSettings(url: try SystemTestHarness.value("ROLLBACK_TEST_ALERTMANAGER_URL")),
      token: token)
  }

  @Test("a created silence is active with the matchers sent; expiring it makes it expired")
  func createAndExpire() async throws {
    let am = try client()
    let id = try await am.createSilence(
      matchers: ["service=checkout", "env!=staging", "alertname=~\"High.*\""], for: .seconds(900),
      user: "ada",
      runID: "r-am-1", runbook: "shop", environment: "production", timeout: .seconds(10))
    #expect(!id.isEmpty)
    let active = try await am.status(id: id, timeout: .seconds(5))
    #expect(active.state == "active")
    #expect(
      active.matchers == [
        SilenceMatcher(name: "service", value: "checkout"),
        SilenceMatcher(name: "env", value: "staging", isRegex: false, isEqual: false),
        SilenceMatcher(name: "alertname", value: "High.*", isRegex: true, isEqual: true),
      ])
    #expect(active.createdBy == "rollback/ada")
    #expect(active.comment.contains("r-am-1"))
    try await am.expire(id: id, timeout: .seconds(10))
    let expired = try await am.status(id: id, timeout: .seconds(5))
    #expect(expired.state == "expired")
  }

  @Test("the silence ends after its duration: endsAt is now + for")
  func endsAfterFor() async throws {
    let am = try client()
    let now = Date()
    let id = try await am.createSilence(
      matchers: ["service=checkout"], for: .seconds(600), user: "ada", runID: "r-am-2", runbook: "shop",
      environment: "production", now: now, timeout: .seconds(10))
    let status = try await am.status(id: id, timeout: .seconds(5))
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let ends = try #require(
      formatter.date(from: status.endsAt) ?? ISO8601DateFormatter().date(from: status.endsAt))
    #expect(abs(ends.timeIntervalSince(now) - 600) < 1, "endsAt \(status.endsAt)")
    try await am.expire(id: id, timeout: .seconds(10))
  }

  @Test(
    "the silence POSTed has the API v2 shape: matchers with name/value/isRegex/isEqual, times, creator, comment"
  )
  func silenceShape() async throws {
    let server = try HTTPLoopbackServer(
      reply: .respond(status: 200, body: Data(#"{"silenceID":"5b1c-77"}"#.utf8)))
    defer { server.stop() }
    let am = AlertmanagerClient(settings: AlertmanagerSettings(url: server.baseURL))
    let id = try await am.createSilence(
      matchers: ["service=checkout", "env!~stag.*"], for: .seconds(900), user: "ada", runID: "r-am-3",
      runbook: "shop", environment: "production", now: Date(timeIntervalSince1970: 1_800_000_000),
      timeout: .seconds(5))
    #expect(id == "5b1c-77")
    let request = try #require(server.requests.first)
    #expect(request.method == "POST")
    #expect(request.path == "/api/v2/silences")
    #expect(request.header("Content-Type") == "application/json")
    let body = jsonBody(request)
    #expect(Set(body.keys) == ["matchers", "startsAt", "endsAt", "createdBy", "comment"])
    let matchers = try #require(body["matchers"] as? [[String: Any]])
    #expect(matchers.count == 2)
    #expect(matchers.allSatisfy { Set($0.keys) == ["name", "value", "isRegex", "isEqual"] })
    #expect(matchers.first?["name"] as? String == "service")
    #expect(matchers.first?["value"] as? String == "checkout")
    #expect(matchers.last?["isRegex"] as? Bool == true)
    #expect(matchers.last?["isEqual"] as? Bool == false)
    #expect(body["startsAt"] as? String == "2027-01-15T08:00:00.000Z")
    #expect(body["endsAt"] as? String == "2027-01-15T08:15:00.000Z")
    #expect(body["createdBy"] as? String == "rollback/ada")
    #expect(body["comment"] as? String == "rollback run r-am-3 of shop in production")
  }

  @Test("an answer without a silenceID is a clear error")
  func answerWithoutID() async throws {
    let server = try HTTPLoopbackServer(reply: .respond(status: 200, body: Data(#"{"id":42}"#.utf8)))
    defer { server.stop() }
    let am = AlertmanagerClient(settings: AlertmanagerSettings(url: server.baseURL))
    var caught: IntegrationError?
    do {
      _ = try await am.createSilence(
        matchers: ["service=checkout"], for: .seconds(60), user: "ada", runID: "r", runbook: "b",
        environment: "e", timeout: .seconds(5))
    } catch {
      caught = error
    }
    #expect(caught?.description == "alertmanager: the answer to the silence holds no silenceID")
  }

  @Test(
    "a bad matcher is a clear error and nothing is sent",
    arguments: [
      (
        "service",
        "bad matcher 'service': no operator; write name=value, name!=value, name=~regex or name!~regex"
      ),
      ("=checkout", "bad matcher '=checkout': no label name before the operator"),
      ("ser vice=x", "bad matcher 'ser vice=x': 'ser vice' is not a label name (letters, digits and _)"),
      ("service!checkout", "bad matcher 'service!checkout': '!' must be followed by '=' or '~'"),
      ("service=", "bad matcher 'service=': an empty value would silence every alert without the label"),
    ])
  func badMatcher(_ matcher: String, _ expected: String) async throws {
    let server = try HTTPLoopbackServer(reply: .respond(status: 200, body: Data(#"{"silenceID":"x"}"#.utf8)))
    defer { server.stop() }
    let am = AlertmanagerClient(settings: AlertmanagerSettings(url: server.baseURL))
    var caught: IntegrationError?
    do {
      _ = try await am.createSilence(
        matchers: ["env=production", matcher], for: .seconds(60), user: "ada", runID: "r", runbook: "b",
        environment: "e", timeout: .seconds(5))
    } catch {
      caught = error
    }
    #expect(caught?.description == "alertmanager: " + expected)
    #expect(server.requests.isEmpty)
  }

  @Test("a silence Alertmanager refuses gives its message")
  func refusedByAlertmanager() async throws {
    let am = try client()
    var caught: IntegrationError?
    do {
      _ = try await am.createSilence(
        matchers: ["service=~(unclosed"], for: .seconds(60), user: "ada", runID: "r", runbook: "b",
        environment: "e", timeout: .seconds(10))
    } catch {
      caught = error
    }
    let error = try #require(caught)
    #expect(error.status == 400)
    #expect(error.description.hasPrefix("alertmanager: HTTP 400: "), "\(error)")
    #expect(error.description.contains("(unclosed"), "\(error)")
  }

  @Test("the bearer token is sent and never shown")
  func bearerToken() async throws {
    let token = "amT0KEN-0123456789"
    let server = try HTTPLoopbackServer { request in
      .respond(status: 403, body: Data("forbidden for \(request.header("Authorization") ?? "")".utf8))
    }
    defer { server.stop() }
    let am = AlertmanagerClient(
      settings: AlertmanagerSettings(url: server.baseURL, tokenEnv: "AM_TOKEN"), token: token)
    var caught: IntegrationError?
    do {
      try await am.expire(id: "abc", timeout: .seconds(5))
    } catch {
      caught = error
    }
    let request = try #require(server.requests.first)
    #expect(request.method == "DELETE")
    #expect(request.path == "/api/v2/silence/abc")
    #expect(request.header("Authorization") == "Bearer \(token)")
    let error = try #require(caught)
    #expect(error.status == 403)
    #expect(!error.description.contains(token))
  }
}
