import Foundation
import RollbackCore
import Testing

@testable import RollbackSystem

/// Counts calls from the loopback server's threads.
final class CallCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0

  /// Adds one and returns the new count.
  func next() -> Int {
    lock.lock()
    defer { lock.unlock() }
    count += 1
    return count
  }
}

/// The JSON object a loopback request carried, or an empty one.
func jsonBody(_ request: HTTPLoopbackRequest) -> [String: Any] {
  (try? JSONSerialization.jsonObject(with: request.body) as? [String: Any]) ?? [:]
}

@Suite("PagerDuty Events API v2 client against a loopback server")
struct PagerDutyClientTests {
  static let key = "R0UTINGkey0123456789abcdef012345"
  static let fast = RetryPolicy(
    initialDelay: .milliseconds(50), maxDelay: .milliseconds(200), requestTimeout: .seconds(2))

  func client(_ server: HTTPLoopbackServer) -> PagerDutyClient {
    PagerDutyClient(
      settings: PagerDutySettings(
        routingKeyEnv: "PD_ROUTING_KEY", url: server.baseURL, component: "checkout"),
      routingKey: Self.key, policy: Self.fast)
  }

  static let accepted = HTTPLoopbackReply.respond(
    status: 202, headers: ["Content-Type": "application/json"],
    body: Data(
      #"{"status":"success","message":"Event processed","dedup_key":"rollback/shop/production/r-1"}"#.utf8))

  @Test("a change event is POSTed to /v2/change/enqueue with routing key, payload and run details")
  func changeEvent() async throws {
    let server = try HTTPLoopbackServer(reply: Self.accepted)
    defer { server.stop() }
    let when = Date(timeIntervalSince1970: 1_800_000_000.25)
    let result = try await client(server).sendChange(
      PagerDutyChangeEvent(
        summary: "rollback shop level 3 started", source: "ops-1", timestamp: when, runID: "r-1",
        runbook: "shop",
        level: 3, environment: "production"),
      timeout: .seconds(5))
    #expect(result.status == 202)
    #expect(result.attempts == 1)
    let request = try #require(server.requests.first)
    #expect(request.method == "POST")
    #expect(request.path == "/v2/change/enqueue")
    #expect(request.header("Content-Type") == "application/json")
    let body = jsonBody(request)
    #expect(Set(body.keys) == ["routing_key", "payload"])
    #expect(body["routing_key"] as? String == Self.key)
    let payload = try #require(body["payload"] as? [String: Any])
    #expect(Set(payload.keys) == ["summary", "source", "timestamp", "custom_details"])
    #expect(payload["summary"] as? String == "rollback shop level 3 started")
    #expect(payload["source"] as? String == "ops-1")
    #expect(payload["timestamp"] as? String == "2027-01-15T08:00:00.250Z")
    let details = try #require(payload["custom_details"] as? [String: Any])
    #expect(Set(details.keys) == ["run_id", "runbook", "level", "environment"])
    #expect(details["run_id"] as? String == "r-1")
    #expect((details["level"] as? NSNumber)?.intValue == 3)
    #expect(details["environment"] as? String == "production")
  }

  @Test("a trigger goes to /v2/enqueue with the run's dedup key, severity and component; the key comes back")
  func triggerEvent() async throws {
    let server = try HTTPLoopbackServer(reply: Self.accepted)
    defer { server.stop() }
    let dedup = PagerDutyClient.dedupKey(runbook: "shop", environment: "production", runID: "r-1")
    #expect(dedup == "rollback/shop/production/r-1")
    let result = try await client(server).sendAlert(
      PagerDutyAlertEvent(
        action: .trigger, dedupKey: dedup, summary: "rollback shop failed at level 3", source: "ops-1",
        severity: .critical),
      timeout: .seconds(5))
    #expect(result.dedupKey == "rollback/shop/production/r-1")
    let request = try #require(server.requests.first)
    #expect(request.method == "POST")
    #expect(request.path == "/v2/enqueue")
    #expect(request.header("Content-Type") == "application/json")
    let body = jsonBody(request)
    #expect(Set(body.keys) == ["routing_key", "event_action", "dedup_key", "payload"])
    #expect(body["event_action"] as? String == "trigger")
    #expect(body["dedup_key"] as? String == dedup)
    let payload = try #require(body["payload"] as? [String: Any])
    #expect(Set(payload.keys) == ["summary", "source", "severity", "timestamp", "component"])
    #expect(payload["severity"] as? String == "critical")
    #expect(payload["summary"] as? String == "rollback shop failed at level 3")
    #expect(payload["source"] as? String == "ops-1")
    #expect(payload["component"] as? String == "checkout")
  }

  @Test("a resolve carries the same dedup key and no payload")
  func resolveEvent() async throws {
    let server = try HTTPLoopbackServer(reply: Self.accepted)
    defer { server.stop() }
    _ = try await client(server).sendAlert(
      PagerDutyAlertEvent(action: .resolve, dedupKey: "rollback/shop/production/r-1"), timeout: .seconds(5))
    let body = jsonBody(try #require(server.requests.first))
    #expect(Set(body.keys) == ["routing_key", "event_action", "dedup_key"])
    #expect(body["event_action"] as? String == "resolve")
    #expect(body["dedup_key"] as? String == "rollback/shop/production/r-1")
    #expect(body["payload"] == nil)
  }

  @Test(
    "a change event without a level leaves the level out; the body is one JSON object with slashes as sent")
  func changeEventWithoutLevel() async throws {
    let server = try HTTPLoopbackServer(reply: Self.accepted)
    defer { server.stop() }
    _ = try await client(server).sendChange(
      PagerDutyChangeEvent(
        summary: "rollback shop/api started", source: "ops-1", runID: "r-2", runbook: "shop", level: nil,
        environment: "production"),
      timeout: .seconds(5))
    let request = try #require(server.requests.first)
    let details = try #require(
      (jsonBody(request)["payload"] as? [String: Any])?["custom_details"] as? [String: Any])
    #expect(Set(details.keys) == ["run_id", "runbook", "environment"])
    #expect(String(decoding: request.body, as: UTF8.self).contains(#""summary":"rollback shop/api started""#))
  }

  @Test("an error answer whose `error` is not a string still shows its message and errors")
  func errorOfAnotherType() async throws {
    let server = try HTTPLoopbackServer(
      reply: .respond(
        status: 400,
        body: Data(#"{"error":{"code":2001},"message":"Invalid event","errors":["bad severity",7]}"#.utf8)))
    defer { server.stop() }
    var caught: IntegrationError?
    do {
      _ = try await client(server).sendAlert(
        PagerDutyAlertEvent(action: .trigger, dedupKey: "k", summary: "s", source: "h"), timeout: .seconds(5))
    } catch {
      caught = error
    }
    #expect(
      caught?.description
        == "pagerduty: HTTP 400: Invalid event; bad severity (not retried: PagerDuty refused the event)")
  }

  @Test("429 then 202: retried, two requests, success")
  func retriesAfter429() async throws {
    let counter = CallCounter()
    let server = try HTTPLoopbackServer { _ in
      counter.next() == 1
        ? .respond(
          status: 429,
          body: Data(
            #"{"status":"throttle event","message":"Requests for this service are arriving too quickly."}"#
              .utf8))
        : Self.accepted
    }
    defer { server.stop() }
    let result = try await client(server).sendAlert(
      PagerDutyAlertEvent(action: .trigger, dedupKey: "k", summary: "s", source: "h"), timeout: .seconds(5))
    #expect(result.status == 202)
    #expect(result.attempts == 2)
    #expect(server.requests.count == 2)
  }

  @Test("500 on every request: retried with backoff, gives up within the deadline")
  func givesUpAtDeadline() async throws {
    let server = try HTTPLoopbackServer(reply: .respond(status: 500, body: Data("upstream broke".utf8)))
    defer { server.stop() }
    let clock = ContinuousClock()
    let start = clock.now
    var caught: IntegrationError?
    do {
      _ = try await client(server).sendAlert(
        PagerDutyAlertEvent(action: .trigger, dedupKey: "k", summary: "s", source: "h"), timeout: .seconds(3))
    } catch {
      caught = error
    }
    let elapsed = start.duration(to: clock.now)
    let error = try #require(caught)
    // A 3 s deadline: room for a test process that stalls a second while every suite starts.
    #expect(elapsed < .milliseconds(4500), "took \(elapsed)")
    #expect(server.requests.count >= 3, "backoff 50, 100, 200 ms fits at least 3 tries in 3 s")
    #expect(error.attempts == server.requests.count)
    #expect(error.status == 500)
    #expect(
      error.description.hasPrefix(
        "pagerduty: gave up after \(error.attempts) attempts in 3s: HTTP 500: upstream broke"))
  }

  @Test("nothing listening: retried until the deadline, then a clear error without the key")
  func refusedUntilDeadline() async throws {
    let port = try closedLoopbackPort()
    let client = PagerDutyClient(
      settings: PagerDutySettings(routingKeyEnv: "PD_ROUTING_KEY", url: "http://127.0.0.1:\(port)"),
      routingKey: Self.key, policy: Self.fast)
    let clock = ContinuousClock()
    let start = clock.now
    var caught: IntegrationError?
    do {
      _ = try await client.sendChange(
        PagerDutyChangeEvent(summary: "s", source: "h", runID: "r", runbook: "b", level: 1, environment: "e"),
        timeout: .seconds(2))
    } catch {
      caught = error
    }
    let error = try #require(caught)
    #expect(start.duration(to: clock.now) < .milliseconds(3500))
    #expect(error.attempts >= 2)
    #expect(error.status == nil)
    #expect(error.description.contains("connection refused at 127.0.0.1:\(port)"), "\(error)")
    #expect(!error.description.contains(Self.key))
  }

  @Test("400 is not retried; PagerDuty's message is shown, the routing key it echoes is not")
  func badRequestNotRetried() async throws {
    let server = try HTTPLoopbackServer { request in
      let key = jsonBody(request)["routing_key"] as? String ?? ""
      return .respond(
        status: 400,
        body: Data(
          #"{"status":"invalid event","message":"Event object is invalid","errors":["Routing key \#(key) is not valid"]}"#
            .utf8))
    }
    defer { server.stop() }
    var caught: IntegrationError?
    do {
      _ = try await client(server).sendChange(
        PagerDutyChangeEvent(
          summary: "s", source: "h", runID: "r", runbook: "b", level: nil, environment: "e"),
        timeout: .seconds(5))
    } catch {
      caught = error
    }
    let error = try #require(caught)
    #expect(server.requests.count == 1)
    #expect(error.status == 400)
    #expect(
      error.description
        == "pagerduty: HTTP 400: Event object is invalid; Routing key **** is not valid (not retried: PagerDuty refused the event)"
    )
    #expect(!error.description.contains(Self.key))
    #expect(!"\(client(server))".contains(Self.key))
  }
}
