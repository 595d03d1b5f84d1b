import Foundation
import Testing

@testable import RollbackSystem

@Suite("HTTPClient over libcurl against a loopback server")
struct HTTPClientTests {
  let client = HTTPClient()

  @Test("GET returns status, headers and body, and sends the request headers")
  func getReturnsResponse() async throws {
    let server = try HTTPLoopbackServer(
      reply: .respond(status: 200, headers: ["X-Answer": "42"], body: Data("hello".utf8)))
    defer { server.stop() }

    let response = try await client.send(
      HTTPRequest(
        url: server.baseURL + "/health?x=1", headers: [HTTPHeader(name: "X-Probe", value: "rollback")]))

    #expect(response.status == 200)
    #expect(response.bodyText == "hello")
    #expect(response.header("x-answer") == "42")
    #expect(response.totalTime > .zero)
    let received = try #require(server.requests.first)
    #expect(received.method == "GET")
    #expect(received.path == "/health?x=1")
    #expect(received.header("X-Probe") == "rollback")
    #expect(received.header("User-Agent") == "rollback")
  }

  @Test("POST sends the body with its length")
  func postSendsBody() async throws {
    let server = try HTTPLoopbackServer { request in
      .respond(status: 201, body: request.body)
    }
    defer { server.stop() }
    let payload = Data(#"{"flag":"off"}"#.utf8)

    let response = try await client.send(
      HTTPRequest(
        method: "POST", url: server.baseURL + "/deploy",
        headers: [HTTPHeader(name: "Content-Type", value: "application/json")], body: payload))

    #expect(response.status == 201)
    #expect(response.body == payload)
    let received = try #require(server.requests.first)
    #expect(received.method == "POST")
    #expect(received.header("Content-Length") == "\(payload.count)")
    #expect(received.header("Content-Type") == "application/json")
  }

  @Test("other methods with and without a body", arguments: ["PUT", "DELETE", "PATCH"])
  func customMethods(method: String) async throws {
    let server = try HTTPLoopbackServer { request in
      .respond(status: 200, body: Data("\(request.method) \(request.body.count)".utf8))
    }
    defer { server.stop() }

    let withBody = try await client.send(
      HTTPRequest(method: method, url: server.baseURL, body: Data("abc".utf8)))
    let withoutBody = try await client.send(HTTPRequest(method: method, url: server.baseURL))

    #expect(withBody.bodyText == "\(method) 3")
    #expect(withoutBody.bodyText == "\(method) 0")
  }

  @Test("an error status is a response, not an error")
  func errorStatusIsResponse() async throws {
    let server = try HTTPLoopbackServer(reply: .respond(status: 503, body: Data("down".utf8)))
    defer { server.stop() }

    let response = try await client.send(HTTPRequest(url: server.baseURL))

    #expect(response.status == 503)
    #expect(!response.isSuccess)
    #expect(response.bodyText == "down")
  }

  @Test("a server that accepts and never answers times out at the request's timeout (under 3 s for 1 s)")
  func hangingServerTimesOut() async throws {
    let server = try HTTPLoopbackServer(reply: .hang)
    defer { server.stop() }

    let (error, elapsed) = await timedError { () async throws(HTTPError) in
      _ = try await client.send(HTTPRequest(url: server.baseURL, timeout: .seconds(1)))
    }

    #expect(error == .timeout(after: .seconds(1)))
    #expect(error?.description == "timeout after 1s")
    #expect(elapsed >= .milliseconds(900))
    // Well under the 5 s a missing timeout would take (libcurl's connect timeout is longer still);
    // other tests of the suite may hold both cooperative threads for a moment.
    #expect(elapsed < .seconds(3))
  }

  @Test("a closed port is connection refused, named by host and port without secrets")
  func closedPortIsRefused() async throws {
    let port = try closedLoopbackPort()

    let (error, elapsed) = await timedError { () async throws(HTTPError) in
      _ = try await client.send(
        HTTPRequest(url: "http://deploy:hunter2@127.0.0.1:\(port)/hook?token=abc123", timeout: .seconds(5)))
    }

    let refused = try #require(error)
    guard case .connectionRefused(let url) = refused else {
      Issue.record("expected connectionRefused, got \(refused)")
      return
    }
    #expect(!url.contains("hunter2"))
    #expect(!url.contains("abc123"))
    #expect(refused.description.hasPrefix("connection refused at 127.0.0.1:\(port)"))
    #expect(!refused.description.contains("hunter2"))
    #expect(!refused.description.contains("abc123"))
    // Refused at once, not after the 5 s timeout (parallel tests may delay it a little).
    #expect(elapsed < .seconds(4))
  }

  @Test("a body over the cap fails, with and without Content-Length", arguments: [false, true])
  func bodyCapIsEnforced(omitLength: Bool) async throws {
    let big = Data(repeating: UInt8(ascii: "x"), count: 100_000)
    let server = try HTTPLoopbackServer(reply: .respond(status: 200, body: big, omitLength: omitLength))
    defer { server.stop() }

    let (error, _) = await timedError { () async throws(HTTPError) in
      _ = try await client.send(HTTPRequest(url: server.baseURL, maxBodyBytes: 10_000))
    }

    #expect(error == .bodyTooLarge(limit: 10_000))
    #expect(error?.description == "response larger than 10000 bytes")
  }

  @Test("a body exactly at the cap is accepted")
  func bodyAtCapIsAccepted() async throws {
    let exact = Data(repeating: UInt8(ascii: "y"), count: 10_000)
    let server = try HTTPLoopbackServer(reply: .respond(status: 200, body: exact, omitLength: true))
    defer { server.stop() }

    let response = try await client.send(HTTPRequest(url: server.baseURL, maxBodyBytes: 10_000))

    #expect(response.body.count == 10_000)
  }

  @Test(
    "only http and https are allowed", arguments: ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x"])
  func otherSchemesAreRejected(url: String) async throws {
    let (error, _) = await timedError { () async throws(HTTPError) in
      _ = try await client.send(HTTPRequest(url: url))
    }

    guard case .invalidRequest = try #require(error) else {
      Issue.record("expected invalidRequest, got \(String(describing: error))")
      return
    }
  }

  @Test("header injection is refused before anything is sent")
  func headerInjectionIsRefused() async throws {
    let (error, _) = await timedError { () async throws(HTTPError) in
      _ = try await client.send(
        HTTPRequest(url: "http://127.0.0.1:1/", headers: [HTTPHeader(name: "X", value: "a\r\nHost: evil")]))
    }

    #expect(error == .invalidRequest(reason: "header X contains a line break"))
  }

  @Test("an unresolvable host names the host")
  func unresolvableHost() async throws {
    let (error, _) = await timedError { () async throws(HTTPError) in
      _ = try await client.send(HTTPRequest(url: "http://rollback-test.invalid/", timeout: .seconds(5)))
    }

    #expect(error == .couldNotResolve(host: "rollback-test.invalid"))
  }

  @Test("blocking transfers do not starve the cooperative pool")
  func hangingTransfersDoNotStarvePool() async throws {
    let hanging = try HTTPLoopbackServer(reply: .hang)
    defer { hanging.stop() }
    let quick = try HTTPLoopbackServer(reply: .respond(status: 200, body: Data("ok".utf8)))
    defer { quick.stop() }
    let client = client

    // Far more hung transfers than the machine has cores.
    let stuck = (0..<12).map { _ in
      Task { try? await client.send(HTTPRequest(url: hanging.baseURL, timeout: .seconds(3))) }
    }
    try await Task.sleep(for: .milliseconds(300))
    let (response, elapsed) = try await timed {
      try await client.send(HTTPRequest(url: quick.baseURL, timeout: .seconds(2)))
    }

    #expect(response.bodyText == "ok")
    #expect(elapsed < .milliseconds(1500))
    for task in stuck { task.cancel() }
  }

  @Test("cancelling the task stops a hung transfer")
  func cancellationStopsTransfer() async throws {
    let server = try HTTPLoopbackServer(reply: .hang)
    defer { server.stop() }
    let client = client
    let start = ContinuousClock.now

    let task = Task { () async throws(HTTPError) -> HTTPResponse in
      try await client.send(HTTPRequest(url: server.baseURL, timeout: .seconds(20)))
    }
    try await Task.sleep(for: .milliseconds(200))
    task.cancel()
    let result = await task.result

    #expect(throws: HTTPError.cancelled) { try result.get() }
    #expect(ContinuousClock.now - start < .seconds(3))
  }
}
