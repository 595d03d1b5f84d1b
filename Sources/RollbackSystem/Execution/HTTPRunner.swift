import Foundation
import RollbackCore

/// Runs an `http` step: one request through the HTTP effect, checked against the expected
/// status and body. Secret headers are masked wherever the request is shown.
struct HTTPRunner {
  /// Sends the request.
  var http: @Sendable (HTTPRequest) async throws(HTTPError) -> HTTPResponse
  /// Resolves a template with the run's variables and facts.
  var resolve: (Template) -> ResolvedText

  /// An http step's headers and body, as sent and as shown.
  struct Parts {
    var headers: [HTTPHeader]
    var displayHeaders: [String]
    var body: Data?
    var displayBody: String?
  }

  /// Sends the request (a dry run describes it, or after its first change samples it) within
  /// `timeout` seconds; cancellation throws.
  func run(_ spec: HTTPStepSpec, phase: DryRunPhase, timeout: Double) async throws -> AttemptResult {
    let url = resolve(spec.url)
    let parts = parts(spec)
    let expected =
      spec.expectStatus.isEmpty ? "2xx" : spec.expectStatus.map(String.init).joined(separator: "/")
    let summary = "\(spec.method) \(Redaction.urls(in: url.display))"
    if phase == .wouldRun {
      var text = "would send \(summary)"
      if !parts.displayHeaders.isEmpty { text += " with \(parts.displayHeaders.joined(separator: "; "))" }
      if let displayBody = parts.displayBody { text += " body \(displayBody)" }
      return AttemptResult(status: .wouldRun, detail: text + ", expecting \(expected)")
    }
    let request = HTTPRequest(
      method: spec.method, url: url.value, headers: parts.headers, body: parts.body,
      timeout: .milliseconds(Int(timeout * 1000)))
    let response: HTTPResponse
    do {
      response = try await http(request)
    } catch {
      if case .cancelled = error { throw CancellationError() }
      if phase == .sampled {
        return AttemptResult(status: .sampled, detail: "\(summary): now \(error.description)")
      }
      return .fail(summary, error.description)
    }
    return judge(response, spec, summary: summary, expected: expected, phase: phase)
  }

  /// How the answer reads against what the step expects.
  func judge(
    _ response: HTTPResponse, _ spec: HTTPStepSpec, summary: String, expected: String, phase: DryRunPhase
  )
    -> AttemptResult
  {
    let statusOK =
      spec.expectStatus.isEmpty ? response.isSuccess : spec.expectStatus.contains(response.status)
    let wanted = spec.expectBody.map { resolve($0) }
    let bodyOK = wanted.map { response.bodyText.contains($0.value) } ?? true
    if phase == .sampled {
      return AttemptResult(
        status: .sampled,
        detail: "\(summary): now HTTP \(response.status)\(statusOK && bodyOK ? " (as expected)" : "")")
    }
    var result: AttemptResult
    if !statusOK {
      result = .fail(summary, "HTTP \(response.status), expected \(expected)")
    } else if !bodyOK {
      result = .fail(
        summary, "HTTP \(response.status) but the body does not contain \"\(wanted?.display ?? "")\"")
    } else {
      result = .ok(
        "\(summary) → HTTP \(response.status) in \(RunRendering.duration(response.totalTime.doubleSeconds))")
    }
    result.output = String(response.bodyText.prefix(300))
    return result
  }

  /// The headers and body, as sent and as shown (secret headers masked); a JSON body gets its
  /// content type unless the step sets one.
  func parts(_ spec: HTTPStepSpec) -> Parts {
    var parts = Parts(
      headers: spec.headers.map { HTTPHeader(name: $0.name, value: resolve($0.value).value) },
      displayHeaders: spec.headers.map {
        "\($0.name): \(SecretName.isSecretHeader($0.name) ? Redaction.mask : resolve($0.value).display)"
      })
    switch spec.body {
    case .text(let template):
      let text = resolve(template)
      parts.body = Data(text.value.utf8)
      parts.displayBody = text.display
    case .json(let json):
      parts.body = Data(json.render { resolve($0).value }.utf8)
      parts.displayBody = json.render { resolve($0).display }
      if !parts.headers.contains(where: { $0.name.lowercased() == "content-type" }) {
        parts.headers.append(HTTPHeader(name: "Content-Type", value: "application/json"))
        parts.displayHeaders.append("Content-Type: application/json")
      }
    case nil:
      break
    }
    return parts
  }
}
