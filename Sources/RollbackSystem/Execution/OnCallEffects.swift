import Foundation
import RollbackCore

/// The on-call integrations a run calls: PagerDuty events, Alertmanager silences, Grafana
/// annotations. ``OnCallClients`` is the live one; tests give fakes.
public protocol OnCallEffects: Sendable {
  /// Why a configured integration is skipped (`VAR is not set; PagerDuty skipped`); never a value.
  var problems: [String] { get }
  /// Whether PagerDuty can be called.
  var hasPagerDuty: Bool { get }
  /// Whether Alertmanager can be called.
  var hasAlertmanager: Bool { get }
  /// Whether Grafana can be called.
  var hasGrafana: Bool { get }
  /// Sends a PagerDuty change event.
  func sendChange(_ event: PagerDutyChangeEvent, timeout: Duration) async throws(IntegrationError)
    -> PagerDutyResult
  /// Sends a PagerDuty alert event (trigger or resolve).
  func sendAlert(_ event: PagerDutyAlertEvent, timeout: Duration) async throws(IntegrationError)
    -> PagerDutyResult
  /// Posts a Grafana region annotation; returns its id.
  func annotate(
    runID: String, runbook: String, environment: String, level: Int?, text: String, timeout: Duration
  ) async throws(IntegrationError) -> Int
  /// Closes a Grafana annotation now.
  func closeAnnotation(id: Int, timeout: Duration) async throws(IntegrationError)
  /// Creates an Alertmanager silence; returns its id.
  func createSilence(
    matchers: [String], for duration: Duration, user: String, runID: String, runbook: String,
    environment: String, timeout: Duration
  ) async throws(IntegrationError) -> String
  /// Expires an Alertmanager silence.
  func expireSilence(id: String, timeout: Duration) async throws(IntegrationError)
}

extension OnCallClients: OnCallEffects {
  /// Whether PagerDuty can be called.
  public var hasPagerDuty: Bool { pagerDuty != nil }
  /// Whether Alertmanager can be called.
  public var hasAlertmanager: Bool { alertmanager != nil }
  /// Whether Grafana can be called.
  public var hasGrafana: Bool { grafana != nil }

  static func notConfigured(_ service: String) -> IntegrationError {
    IntegrationError(service: service, message: "not configured under notify:")
  }

  /// Sends a PagerDuty change event.
  public func sendChange(_ event: PagerDutyChangeEvent, timeout: Duration) async throws(IntegrationError)
    -> PagerDutyResult
  {
    guard let pagerDuty else { throw Self.notConfigured("pagerduty") }
    return try await pagerDuty.sendChange(event, timeout: timeout)
  }

  /// Sends a PagerDuty alert event.
  public func sendAlert(_ event: PagerDutyAlertEvent, timeout: Duration) async throws(IntegrationError)
    -> PagerDutyResult
  {
    guard let pagerDuty else { throw Self.notConfigured("pagerduty") }
    return try await pagerDuty.sendAlert(event, timeout: timeout)
  }

  /// Posts a Grafana annotation.
  public func annotate(
    runID: String, runbook: String, environment: String, level: Int?, text: String, timeout: Duration
  ) async throws(IntegrationError) -> Int {
    guard let grafana else { throw Self.notConfigured("grafana") }
    return try await grafana.annotate(
      runID: runID, runbook: runbook, environment: environment, level: level, text: text, timeout: timeout)
  }

  /// Closes a Grafana annotation.
  public func closeAnnotation(id: Int, timeout: Duration) async throws(IntegrationError) {
    guard let grafana else { throw Self.notConfigured("grafana") }
    try await grafana.close(id: id, timeout: timeout)
  }

  /// Creates a silence.
  public func createSilence(
    matchers: [String], for duration: Duration, user: String, runID: String, runbook: String,
    environment: String, timeout: Duration
  ) async throws(IntegrationError) -> String {
    guard let alertmanager else { throw Self.notConfigured("alertmanager") }
    return try await alertmanager.createSilence(
      matchers: matchers, for: duration, user: user, runID: runID, runbook: runbook, environment: environment,
      timeout: timeout)
  }

  /// Expires a silence.
  public func expireSilence(id: String, timeout: Duration) async throws(IntegrationError) {
    guard let alertmanager else { throw Self.notConfigured("alertmanager") }
    try await alertmanager.expire(id: id, timeout: timeout)
  }
}
