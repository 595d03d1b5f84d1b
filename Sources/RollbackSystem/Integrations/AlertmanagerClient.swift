import Foundation
import RollbackCore

/// A silence as Alertmanager reports it.
public struct SilenceStatus: Sendable, Equatable {
  /// The silence's id.
  public var id: String
  /// `active`, `pending` or `expired`.
  public var state: String
  /// Its matchers.
  public var matchers: [SilenceMatcher]
  /// Who created it.
  public var createdBy: String
  /// Its comment.
  public var comment: String
  /// When it ends, as Alertmanager wrote it (RFC 3339).
  public var endsAt: String
}

/// Creates, expires and reads silences through Alertmanager's API v2 over ``HTTPClient``.
///
/// An optional bearer token goes in `Authorization`; it never appears in errors or
/// descriptions. 429 and 5xx are retried within the call's timeout.
public struct AlertmanagerClient: Sendable, CustomStringConvertible {
  let settings: AlertmanagerSettings
  let token: String?
  let call: IntegrationCall

  /// Creates a client for `settings`, with the token (if any) read from its variable.
  public init(
    settings: AlertmanagerSettings, token: String? = nil, http: HTTPClient = HTTPClient(),
    policy: RetryPolicy = RetryPolicy()
  ) {
    self.settings = settings
    self.token = token.flatMap { $0.isEmpty ? nil : $0 }
    call = IntegrationCall(
      service: "alertmanager", http: http, policy: policy, secrets: token.map { [$0] } ?? [])
  }

  /// Names the endpoint, never the token.
  public var description: String { "Alertmanager at \(Redaction.endpoint(of: settings.url))" }

  /// Creates a silence from `matchers` ("name=value", …) lasting `duration` from `now`,
  /// created by `rollback/USER` with a comment naming the run. Returns the silence id.
  ///
  /// - Throws: ``IntegrationError`` for a bad matcher (before anything is sent), no
  ///   matcher, a refused silence (Alertmanager's message) or no answer within `timeout`.
  public func createSilence(
    matchers: [String], for duration: Duration, user: String, runID: String, runbook: String,
    environment: String, now: Date = Date(), timeout: Duration
  ) async throws(IntegrationError) -> String {
    var parsed: [SilenceMatcher] = []
    for text in matchers {
      do {
        parsed.append(try SilenceMatcher.parse(text))
      } catch {
        throw IntegrationError(service: "alertmanager", message: error.description)
      }
    }
    guard !parsed.isEmpty else {
      throw IntegrationError(service: "alertmanager", message: "a silence needs at least one matcher")
    }
    guard duration > .zero else {
      throw IntegrationError(service: "alertmanager", message: "a silence needs a positive duration")
    }
    let seconds = duration.doubleSeconds
    let body = SilenceBody(
      matchers: parsed.map(SilenceBody.Matcher.init),
      startsAt: Timestamp.iso(now),
      endsAt: Timestamp.iso(now.addingTimeInterval(seconds)),
      createdBy: "rollback/\(user)",
      comment: "rollback run \(runID) of \(runbook) in \(environment)")
    let response = try await send(
      "POST", "/api/v2/silences", body: IntegrationCall.json(body), timeout: timeout)
    guard let id = IntegrationCall.decode(SilenceCreated.self, from: response)?.silenceID, !id.isEmpty else {
      throw IntegrationError(
        service: "alertmanager", message: "the answer to the silence holds no silenceID",
        status: response.status)
    }
    return id
  }

  /// Expires silence `id` (`DELETE {url}/api/v2/silence/ID`).
  public func expire(id: String, timeout: Duration) async throws(IntegrationError) {
    _ = try await send("DELETE", "/api/v2/silence/\(Self.pathSegment(id))", body: nil, timeout: timeout)
  }

  /// Reads silence `id` (`GET {url}/api/v2/silence/ID`).
  public func status(id: String, timeout: Duration) async throws(IntegrationError) -> SilenceStatus {
    let response = try await send(
      "GET", "/api/v2/silence/\(Self.pathSegment(id))", body: nil, timeout: timeout)
    guard let silence = IntegrationCall.decode(SilenceBody.Read.self, from: response) else {
      throw IntegrationError(
        service: "alertmanager", message: "the answer about silence \(id) is not a silence",
        status: response.status)
    }
    return SilenceStatus(
      id: silence.id ?? id, state: silence.status.state,
      matchers: (silence.matchers ?? []).map {
        SilenceMatcher(name: $0.name, value: $0.value, isRegex: $0.isRegex, isEqual: $0.isEqual ?? true)
      },
      createdBy: silence.createdBy ?? "", comment: silence.comment ?? "", endsAt: silence.endsAt ?? "")
  }

  static func pathSegment(_ id: String) -> String {
    id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.")))
      ?? id
  }

  private func send(_ method: String, _ path: String, body: Data?, timeout: Duration)
    async throws(IntegrationError) -> HTTPResponse
  {
    var headers = [HTTPHeader(name: "Accept", value: "application/json")]
    if body != nil { headers.append(HTTPHeader(name: "Content-Type", value: "application/json")) }
    if let token { headers.append(HTTPHeader(name: "Authorization", value: "Bearer \(token)")) }
    let request = HTTPRequest(method: method, url: settings.url + path, headers: headers, body: body)
    let (response, attempts) = try await call.send(request, timeout: timeout) { $0 == 429 || $0 >= 500 }
    guard response.isSuccess else { throw call.failure(response, attempts: attempts) }
    return response
  }
}

/// A silence as posted to `/api/v2/silences`.
struct SilenceBody: Encodable {
  var matchers: [Matcher]
  var startsAt: String
  var endsAt: String
  var createdBy: String
  var comment: String

  /// One matcher: name, value, isRegex, isEqual.
  struct Matcher: Codable {
    var name: String
    var value: String
    var isRegex: Bool
    /// Absent in answers from Alertmanager before 0.22, where every matcher is `=`.
    var isEqual: Bool?

    init(_ matcher: SilenceMatcher) {
      name = matcher.name
      value = matcher.value
      isRegex = matcher.isRegex
      isEqual = matcher.isEqual
    }
  }

  /// A silence as `GET /api/v2/silence/ID` answers: only `status.state` is required.
  struct Read: Decodable {
    struct Status: Decodable {
      var state: String
    }
    var id: String?
    var status: Status
    var matchers: [Matcher]?
    var createdBy: String?
    var comment: String?
    var endsAt: String?
  }
}

/// What Alertmanager answers to a created silence.
struct SilenceCreated: Decodable {
  var silenceID: String?
}
