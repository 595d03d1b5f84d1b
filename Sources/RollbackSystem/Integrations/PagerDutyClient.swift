import Foundation
import RollbackCore

/// A PagerDuty change event: recorded on the service's timeline, pages nobody.
public struct PagerDutyChangeEvent: Sendable {
  /// One line, for example "rollback checkout level 3 started".
  public var summary: String
  /// Where it happened (the host running rollback).
  public var source: String
  /// When it happened.
  public var timestamp: Date
  /// The run's id, runbook, level and environment, sent as custom details.
  public var runID: String
  /// The runbook's name.
  public var runbook: String
  /// The level run, if any.
  public var level: Int?
  /// The runbook environment the run acts on.
  public var environment: String

  /// Creates an event.
  public init(
    summary: String, source: String, timestamp: Date = Date(), runID: String, runbook: String, level: Int?,
    environment: String
  ) {
    self.summary = summary
    self.source = source
    self.timestamp = timestamp
    self.runID = runID
    self.runbook = runbook
    self.level = level
    self.environment = environment
  }
}

/// A PagerDuty alert event: trigger (pages) or resolve, keyed by `dedupKey`.
public struct PagerDutyAlertEvent: Sendable {
  /// Trigger or resolve.
  public enum Action: String, Sendable {
    /// Opens (or adds to) the incident.
    case trigger
    /// Resolves it.
    case resolve
  }

  /// PagerDuty's severities.
  public enum Severity: String, Sendable, CaseIterable {
    /// critical
    case critical
    /// error
    case error
    /// warning
    case warning
    /// info
    case info
  }

  /// Trigger or resolve.
  public var action: Action
  /// `rollback/RUNBOOK/ENV/RUN_ID` (see ``PagerDutyClient/dedupKey(runbook:environment:runID:)``).
  public var dedupKey: String
  /// One line (trigger only).
  public var summary: String
  /// The host running rollback (trigger only).
  public var source: String
  /// How bad (trigger only).
  public var severity: Severity
  /// When it happened.
  public var timestamp: Date
  /// Extra details (run id, level, environment); never secrets.
  public var details: [String: String]

  /// Creates an event.
  public init(
    action: Action, dedupKey: String, summary: String = "", source: String = "",
    severity: Severity = .critical,
    timestamp: Date = Date(), details: [String: String] = [:]
  ) {
    self.action = action
    self.dedupKey = dedupKey
    self.summary = summary
    self.source = source
    self.severity = severity
    self.timestamp = timestamp
    self.details = details
  }
}

/// What PagerDuty answered to an accepted event.
public struct PagerDutyResult: Sendable, Equatable {
  /// The HTTP status (202).
  public var status: Int
  /// The dedup key PagerDuty returned (alert events), to journal and show in `report`.
  public var dedupKey: String?
  /// How many requests it took (retries after 429/5xx).
  public var attempts: Int
}

/// Sends events to the PagerDuty Events API v2 over ``HTTPClient``.
///
/// 202 is success; 429 and 5xx (and transport failures) are retried with backoff until the
/// call's timeout; any other status (400: invalid event) fails at once with PagerDuty's
/// message. The routing key never appears in errors or descriptions.
public struct PagerDutyClient: Sendable, CustomStringConvertible {
  let settings: PagerDutySettings
  let routingKey: String
  let call: IntegrationCall

  /// Creates a client for `settings`, with the routing key read from its environment variable.
  public init(
    settings: PagerDutySettings, routingKey: String, http: HTTPClient = HTTPClient(),
    policy: RetryPolicy = RetryPolicy()
  ) {
    self.settings = settings
    self.routingKey = routingKey
    call = IntegrationCall(service: "pagerduty", http: http, policy: policy, secrets: [routingKey])
  }

  /// Names the endpoint, never the key.
  public var description: String { "PagerDuty at \(Redaction.endpoint(of: settings.url))" }

  /// The alert events' dedup key: `rollback/RUNBOOK/ENV/RUN_ID`.
  public static func dedupKey(runbook: String, environment: String, runID: String) -> String {
    "rollback/\(runbook)/\(environment)/\(runID)"
  }

  /// Sends a change event (`POST {url}/v2/change/enqueue`), retrying within `timeout`.
  public func sendChange(_ event: PagerDutyChangeEvent, timeout: Duration) async throws(IntegrationError)
    -> PagerDutyResult
  {
    let body = PagerDutyChangeBody(
      routingKey: routingKey,
      payload: PagerDutyChangeBody.Payload(
        summary: String(event.summary.prefix(1024)), source: event.source,
        timestamp: Timestamp.iso(event.timestamp),
        customDetails: PagerDutyChangeBody.Details(
          runID: event.runID, runbook: event.runbook, environment: event.environment, level: event.level)))
    return try await post("/v2/change/enqueue", body: IntegrationCall.json(body), timeout: timeout)
  }

  /// Sends an alert event (`POST {url}/v2/enqueue`), retrying within `timeout`.
  public func sendAlert(_ event: PagerDutyAlertEvent, timeout: Duration) async throws(IntegrationError)
    -> PagerDutyResult
  {
    var body = PagerDutyAlertBody(
      routingKey: routingKey, eventAction: event.action.rawValue, dedupKey: event.dedupKey)
    if event.action == .trigger {
      body.payload = PagerDutyAlertBody.Payload(
        summary: String(event.summary.prefix(1024)), source: event.source, severity: event.severity.rawValue,
        timestamp: Timestamp.iso(event.timestamp), component: settings.component,
        customDetails: event.details.isEmpty ? nil : event.details)
    }
    return try await post("/v2/enqueue", body: IntegrationCall.json(body), timeout: timeout)
  }

  private func post(_ path: String, body: Data, timeout: Duration) async throws(IntegrationError)
    -> PagerDutyResult
  {
    let request = HTTPRequest(
      method: "POST", url: settings.url + path,
      headers: [
        HTTPHeader(name: "Content-Type", value: "application/json"),
        HTTPHeader(name: "Accept", value: "application/json"),
      ],
      body: body)
    let (response, attempts) = try await call.send(request, timeout: timeout) { $0 == 429 || $0 >= 500 }
    guard response.status == 202 else {
      var error = call.failure(response, attempts: attempts)
      if response.status == 400 { error.message += " (not retried: PagerDuty refused the event)" }
      throw error
    }
    let key = IntegrationCall.decode(PagerDutyAccepted.self, from: response)?.dedupKey
    return PagerDutyResult(status: response.status, dedupKey: key, attempts: attempts)
  }
}

/// The body of a change event (Events API v2).
struct PagerDutyChangeBody: Encodable {
  var routingKey: String
  var payload: Payload

  struct Payload: Encodable {
    var summary: String
    var source: String
    var timestamp: String
    var customDetails: Details

    enum CodingKeys: String, CodingKey {
      case summary, source, timestamp
      case customDetails = "custom_details"
    }
  }

  /// The run's id, runbook, environment and level (left out when none).
  struct Details: Encodable {
    var runID: String
    var runbook: String
    var environment: String
    var level: Int?

    enum CodingKeys: String, CodingKey {
      case runID = "run_id"
      case runbook, environment, level
    }
  }

  enum CodingKeys: String, CodingKey {
    case routingKey = "routing_key"
    case payload
  }
}

/// The body of an alert event (Events API v2): a resolve has no payload.
struct PagerDutyAlertBody: Encodable {
  var routingKey: String
  var eventAction: String
  var dedupKey: String
  var payload: Payload?

  struct Payload: Encodable {
    var summary: String
    var source: String
    var severity: String
    var timestamp: String
    var component: String?
    var customDetails: [String: String]?

    enum CodingKeys: String, CodingKey {
      case summary, source, severity, timestamp, component
      case customDetails = "custom_details"
    }
  }

  enum CodingKeys: String, CodingKey {
    case routingKey = "routing_key"
    case eventAction = "event_action"
    case dedupKey = "dedup_key"
    case payload
  }
}

/// What PagerDuty answers to an accepted event; only the dedup key is used.
struct PagerDutyAccepted: Decodable {
  var dedupKey: String?

  enum CodingKeys: String, CodingKey {
    case dedupKey = "dedup_key"
  }
}
