import Foundation
import RollbackCore

/// The on-call clients a runbook's `notify:` configures, with their secrets read from the
/// environment: what the executor calls for run events, `notify` and `silence` steps.
public struct OnCallClients: Sendable {
  /// PagerDuty, when configured and its routing key is set.
  public var pagerDuty: PagerDutyClient?
  /// Alertmanager, when configured (its token is optional).
  public var alertmanager: AlertmanagerClient?
  /// Grafana, when configured and its token is set.
  public var grafana: GrafanaClient?
  /// Why a configured integration is skipped (`VAR is not set; PagerDuty skipped`); never a value.
  public var problems: [String]

  /// The clients for `settings`, reading `*_env` variables from `environment`. An integration
  /// whose required variable is unset or empty is skipped with a problem, as Slack is.
  public static func make(
    _ settings: NotifySettings, processEnvironment: [String: String], http: HTTPClient = HTTPClient(),
    policy: RetryPolicy = RetryPolicy()
  ) -> OnCallClients {
    var clients = OnCallClients(pagerDuty: nil, alertmanager: nil, grafana: nil, problems: [])
    func value(_ name: String) -> String? { processEnvironment[name].flatMap { $0.isEmpty ? nil : $0 } }
    if let pd = settings.pagerDuty {
      if let key = value(pd.routingKeyEnv) {
        clients.pagerDuty = PagerDutyClient(settings: pd, routingKey: key, http: http, policy: policy)
      } else {
        clients.problems.append("\(pd.routingKeyEnv) is not set; PagerDuty skipped")
      }
    }
    if let am = settings.alertmanager {
      let token = am.tokenEnv.flatMap(value)
      if let name = am.tokenEnv, token == nil {
        clients.problems.append("\(name) is not set; Alertmanager called without a token")
      }
      clients.alertmanager = AlertmanagerClient(settings: am, token: token, http: http, policy: policy)
    }
    if let grafana = settings.grafana {
      if let token = value(grafana.tokenEnv) {
        clients.grafana = GrafanaClient(settings: grafana, token: token, http: http, policy: policy)
      } else {
        clients.problems.append("\(grafana.tokenEnv) is not set; Grafana skipped")
      }
    }
    return clients
  }

  /// The secret values in use (routing key, tokens), to redact from anything shown or journalled.
  public var secrets: [String] {
    [pagerDuty?.routingKey, alertmanager?.token, grafana?.token].compactMap { $0 }
  }
}
