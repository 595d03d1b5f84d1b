import Foundation

/// Why a call to an on-call integration (PagerDuty, Alertmanager, Grafana) failed.
///
/// The message is already redacted: it never holds the routing key or a token, even when
/// the remote side echoed them back.
public struct IntegrationError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The integration: `pagerduty`, `alertmanager` or `grafana`.
  public var service: String
  /// What went wrong, redacted.
  public var message: String
  /// The last HTTP status seen, if any response arrived.
  public var status: Int?
  /// How many requests were sent.
  public var attempts: Int

  /// Creates an error; `message` must already be redacted.
  public init(service: String, message: String, status: Int? = nil, attempts: Int = 0) {
    self.service = service
    self.message = message
    self.status = status
    self.attempts = attempts
  }

  /// `SERVICE: MESSAGE`.
  public var description: String { "\(service): \(message)" }
}

/// How often and for how long a call is retried.
public struct RetryPolicy: Sendable {
  /// The wait before the first retry; each further wait doubles, up to ``maxDelay``.
  public var initialDelay: Duration
  /// The longest wait between two attempts.
  public var maxDelay: Duration
  /// The longest a single request may take.
  public var requestTimeout: Duration

  /// Creates a policy.
  public init(
    initialDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(5),
    requestTimeout: Duration = .seconds(10)
  ) {
    self.initialDelay = initialDelay
    self.maxDelay = maxDelay
    self.requestTimeout = requestTimeout
  }
}

/// One JSON call to an integration, sent with retries inside a deadline.
struct IntegrationCall: Sendable {
  let service: String
  let http: HTTPClient
  let policy: RetryPolicy
  /// Values masked in every message (routing key, token).
  let secrets: [String]

  /// Sends `request` until a status that is not retried arrives or `timeout` runs out.
  /// Retried: `retryable` statuses and transport failures. Returns the last response and
  /// how many requests were sent.
  func send(
    _ request: HTTPRequest, timeout: Duration, retryable: (Int) -> Bool
  ) async throws(IntegrationError) -> (HTTPResponse, Int) {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    var delay = policy.initialDelay
    var attempts = 0
    var lastProblem = ""
    var lastStatus: Int?
    while true {
      let remaining = clock.now.duration(to: deadline)
      if remaining <= .zero { break }
      var attempt = request
      attempt.timeout = min(policy.requestTimeout, remaining)
      attempt.connectTimeout = min(attempt.connectTimeout, attempt.timeout)
      attempts += 1
      do {
        let response = try await http.send(attempt)
        lastStatus = response.status
        if !retryable(response.status) { return (response, attempts) }
        lastProblem = "HTTP \(response.status)\(Self.excerpt(response, secrets: secrets))"
        if let retryAfter = response.header("Retry-After").flatMap({
          Int($0.trimmingCharacters(in: .whitespaces))
        }),
          retryAfter >= 0
        {
          delay = max(delay, .seconds(retryAfter))
        }
      } catch {
        if error == .cancelled {
          throw IntegrationError(
            service: service, message: "cancelled", status: lastStatus, attempts: attempts)
        }
        lastProblem = Redaction.text(error.description, secrets: secrets)
      }
      let left = clock.now.duration(to: deadline)
      if left <= delay { break }
      do {
        try await Task.sleep(for: delay)
      } catch {
        throw IntegrationError(service: service, message: "cancelled", status: lastStatus, attempts: attempts)
      }
      delay = min(delay * 2, policy.maxDelay)
    }
    throw IntegrationError(
      service: service,
      message:
        "gave up after \(attempts) attempt\(attempts == 1 ? "" : "s") in \(timeout.compactText): \(lastProblem)",
      status: lastStatus, attempts: attempts)
  }

  /// The error for a response that is not a success: its status and a redacted excerpt.
  func failure(_ response: HTTPResponse, attempts: Int) -> IntegrationError {
    IntegrationError(
      service: service, message: "HTTP \(response.status)\(Self.excerpt(response, secrets: secrets))",
      status: response.status, attempts: attempts)
  }

  /// `: MESSAGE` from a JSON body's `message`/`error`/`errors`, else the first 200
  /// characters of the body; redacted. Empty when the body is empty.
  static func excerpt(_ response: HTTPResponse, secrets: [String]) -> String {
    var parts: [String] = []
    if let body = decode(ErrorBody.self, from: response) {
      parts = [body.message, body.error].compactMap { $0 }.filter { !$0.isEmpty } + body.errors
    }
    if parts.isEmpty {
      let text = response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines)
      if !text.isEmpty { parts.append(String(text.prefix(200))) }
    }
    guard !parts.isEmpty else { return "" }
    return ": " + Redaction.text(parts.joined(separator: "; "), secrets: secrets)
  }

  /// `body` as JSON bytes: keys sorted, slashes not escaped.
  static func json(_ body: some Encodable) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(body)) ?? Data("{}".utf8)
  }

  /// A response body decoded as `type`, or nil when it is not that JSON.
  static func decode<Body: Decodable>(_ type: Body.Type, from response: HTTPResponse) -> Body? {
    try? JSONDecoder().decode(type, from: response.body)
  }
}

/// The parts of an error answer that explain it: `message`, `error` and the strings in
/// `errors`. Each is read on its own, so one of another type does not hide the others.
struct ErrorBody: Decodable {
  var message: String?
  var error: String?
  var errors: [String]

  private enum CodingKeys: String, CodingKey {
    case message, error, errors
  }

  /// A string, or nothing when the JSON value is of another type.
  private struct MaybeString: Decodable {
    var value: String?
    init(from decoder: any Decoder) throws {
      value = try? decoder.singleValueContainer().decode(String.self)
    }
  }

  init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    message = try? container.decodeIfPresent(String.self, forKey: .message)
    error = try? container.decodeIfPresent(String.self, forKey: .error)
    let items = (try? container.decodeIfPresent([MaybeString].self, forKey: .errors)) ?? nil
    errors = (items ?? []).compactMap(\.value)
  }
}
