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
  /// The environment.
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
    var details: [String: Any] = [
      "run_id": event.runID, "runbook": event.runbook, "environment": event.environment,
    ]
    if let level = event.level { details["level"] = level }
    let body: [String: Any] = [
      "routing_key": routingKey,
      "payload": [
        "summary": String(event.summary.prefix(1024)), "source": event.source,
        "timestamp": Timestamp.iso(event.timestamp), "custom_details": details,
      ] as [String: Any],
    ]
    return try await post("/v2/change/enqueue", body: body, timeout: timeout)
  }

  /// Sends an alert event (`POST {url}/v2/enqueue`), retrying within `timeout`.
  public func sendAlert(_ event: PagerDutyAlertEvent, timeout: Duration) async throws(IntegrationError)
    -> PagerDutyResult
  {
    var body: [String: Any] = [
      "routing_key": routingKey, "event_action": event.action.rawValue, "dedup_key": event.dedupKey,
    ]
    if event.action == .trigger {
      var payload: [String: Any] = [
        "summary": String(event.summary.prefix(1024)), "source": event.source,
        "severity": event.severity.rawValue,
        "timestamp": Timestamp.iso(event.timestamp),
      ]
      if let component = settings.component { payload["component"] = component }
      if !event.details.isEmpty { payload["custom_details"] = event.details }
      body["payload"] = payload
    }
    return try await post("/v2/enqueue", body: body, timeout: timeout)
  }

  private func post(_ path: String, body: [String: Any], timeout: Duration) async throws(IntegrationError)
    -> PagerDutyResult
  {
    let request = HTTPRequest(
      method: "POST", url: settings.url + path,
      headers: [
        HTTPHeader(name: "Content-Type", value: "application/json"),
        HTTPHeader(name: "Accept", value: "application/json"),
      ],
      body: IntegrationCall.json(body))
    let (response, attempts) = try await call.send(request, timeout: timeout) { $0 == 429 || $0 >= 500 }
    guard response.status == 202 else {
      var error = call.failure(response, attempts: attempts)
      if response.status == 400 { error.message += " (not retried: PagerDuty refused the event)" }
      throw error
    }
    let key = IntegrationCall.object(response)?["dedup_key"] as? String
    return PagerDutyResult(status: response.status, dedupKey: key, attempts: attempts)
  }
}
