import Foundation
import RollbackCore
import Testing

@testable import RollbackSystem

@Suite("OnCallClients: the clients notify: configures, secrets from the environment")
struct OnCallClientsTests {
  static let settings = NotifySettings(
    pagerDuty: PagerDutySettings(routingKeyEnv: "PD_ROUTING", url: "http://127.0.0.1:1"),
    alertmanager: AlertmanagerSettings(url: "http://127.0.0.1:2", tokenEnv: "AM_BEARER"),
    grafana: GrafanaSettings(url: "http://127.0.0.1:3", tokenEnv: "GRAFANA_API"))

  @Test("every variable set: three clients, their secrets listed, none in their descriptions")
  func allSet() {
    let clients = OnCallClients.make(
      Self.settings,
      processEnvironment: [
        "PD_ROUTING": "pd-secret-1", "AM_BEARER": "am-secret-2", "GRAFANA_API": "gf-secret-3",
      ])
    #expect(clients.problems.isEmpty)
    #expect(clients.pagerDuty != nil && clients.alertmanager != nil && clients.grafana != nil)
    #expect(Set(clients.secrets) == ["pd-secret-1", "am-secret-2", "gf-secret-3"])
    let described = [
      clients.pagerDuty.map { "\($0)" }, clients.alertmanager.map { "\($0)" },
      clients.grafana.map { "\($0)" },
    ].compactMap { $0 }.joined(separator: " ")
    #expect(described == "PagerDuty at 127.0.0.1:1 Alertmanager at 127.0.0.1:2 Grafana at 127.0.0.1:3")
  }

  @Test("unset or empty variables: PagerDuty and Grafana skipped, Alertmanager without a token, each said")
  func unset() {
    let clients = OnCallClients.make(Self.settings, processEnvironment: ["PD_ROUTING": ""])
    #expect(clients.pagerDuty == nil)
    #expect(clients.grafana == nil)
    #expect(clients.alertmanager != nil)
    #expect(
      clients.problems == [
        "PD_ROUTING is not set; PagerDuty skipped",
        "AM_BEARER is not set; Alertmanager called without a token",
        "GRAFANA_API is not set; Grafana skipped",
      ])
    #expect(clients.secrets.isEmpty)
  }

  @Test("nothing configured: no client, no problem")
  func nothing() {
    let clients = OnCallClients.make(NotifySettings(), processEnvironment: ["PD_ROUTING": "x"])
    #expect(clients.pagerDuty == nil && clients.alertmanager == nil && clients.grafana == nil)
    #expect(clients.problems.isEmpty)
  }
}
