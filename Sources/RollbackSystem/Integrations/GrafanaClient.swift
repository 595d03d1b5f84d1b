import Foundation
import RollbackCore

/// Posts and closes region annotations through Grafana's HTTP API over ``HTTPClient``.
///
/// The token goes in `Authorization: Bearer`; it never appears in errors or descriptions.
public struct GrafanaClient: Sendable, CustomStringConvertible {
  let settings: GrafanaSettings
  let token: String
  let call: IntegrationCall

  /// Creates a client for `settings`, with the token read from its environment variable.
  public init(
    settings: GrafanaSettings, token: String, http: HTTPClient = HTTPClient(),
    policy: RetryPolicy = RetryPolicy()
  ) {
    self.settings = settings
    self.token = token
    call = IntegrationCall(service: "grafana", http: http, policy: policy, secrets: [token])
  }

  /// Names the endpoint, never the token.
  public var description: String { "Grafana at \(Redaction.endpoint(of: settings.url))" }

  /// The tags of a run's annotation: `rollback`, the runbook, the environment, `level:N`.
  public static func tags(runbook: String, environment: String, level: Int?) -> [String] {
    ["rollback", runbook, environment] + (level.map { ["level:\($0)"] } ?? [])
  }

  /// Posts an annotation starting at `time` (`POST {url}/api/annotations`) and returns its id.
  /// Retries 429 and 5xx within `timeout`.
  public func annotate(
    runID: String, runbook: String, environment: String, level: Int?, text: String, time: Date = Date(),
    timeout: Duration
  ) async throws(IntegrationError) -> Int {
    let body = AnnotationBody(
      time: Self.milliseconds(time),
      tags: Self.tags(runbook: runbook, environment: environment, level: level),
      text: text.contains(runID) ? text : "\(text) (run \(runID))",
      dashboardUID: settings.dashboardUID)
    let response = try await send(
      "POST", "/api/annotations", body: IntegrationCall.json(body), timeout: timeout)
    guard let id = IntegrationCall.decode(AnnotationCreated.self, from: response)?.id else {
      throw IntegrationError(
        service: "grafana", message: "the answer to the annotation holds no id", status: response.status,
        attempts: 1)
    }
    return id
  }

  /// Closes annotation `id` at `time` (`PATCH {url}/api/annotations/ID` with `timeEnd`).
  public func close(id: Int, time: Date = Date(), timeout: Duration) async throws(IntegrationError) {
    _ = try await send(
      "PATCH", "/api/annotations/\(id)",
      body: IntegrationCall.json(AnnotationEnd(timeEnd: Self.milliseconds(time))),
      timeout: timeout)
  }

  static func milliseconds(_ date: Date) -> Int64 {
    Int64((date.timeIntervalSince1970 * 1000).rounded())
  }

  private func send(_ method: String, _ path: String, body: Data, timeout: Duration)
    async throws(IntegrationError) -> HTTPResponse
  {
    let request = HTTPRequest(
      method: method, url: settings.url + path,
      headers: [
        HTTPHeader(name: "Content-Type", value: "application/json"),
        HTTPHeader(name: "Accept", value: "application/json"),
        HTTPHeader(name: "Authorization", value: "Bearer \(token)"),
      ],
      body: body)
    let (response, attempts) = try await call.send(request, timeout: timeout) { $0 == 429 || $0 >= 500 }
    guard response.isSuccess else { throw call.failure(response, attempts: attempts) }
    return response
  }
}

/// A region annotation as posted to `/api/annotations`; without a dashboard it is the
/// organisation's.
struct AnnotationBody: Encodable {
  var time: Int64
  var tags: [String]
  var text: String
  var dashboardUID: String?
}

/// The end of a region annotation, as patched to `/api/annotations/ID`.
struct AnnotationEnd: Encodable {
  var timeEnd: Int64
}

/// What Grafana answers to a created annotation; only the id is used.
struct AnnotationCreated: Decodable {
  var id: Int?
}
