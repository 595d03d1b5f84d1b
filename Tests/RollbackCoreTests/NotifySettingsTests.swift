import RollbackCore
import Testing

/// The base runbook (see BrokenRunbookTests) with a `notify:` section appended.
private func withNotify(_ section: String) -> String {
  validRunbook + "\n" + section
}

@Suite("notify: pagerduty, alertmanager and grafana are read and checked")
struct NotifySettingsTests {
  @Test("a full notify section is read into the settings, secrets named by variable")
  func readsAll() throws {
    let source = withNotify(
      """
      notify:
        slack: {webhook_env: SLACK_WEBHOOK_URL}
        pagerduty: {routing_key_env: PD_ROUTING, url: "http://127.0.0.1:8080/", component: checkout}
        alertmanager: {url: "http://127.0.0.1:9093", token_env: AM_BEARER}
        grafana: {url: "https://grafana.example.com", token_env: GRAFANA_API, dashboard_uid: checkout-overview}
      """)
    let result = RunbookLoader.load(source: source, file: "demo.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
    let notify = try #require(result.runbook?.notify)
    #expect(
      notify.pagerDuty
        == PagerDutySettings(routingKeyEnv: "PD_ROUTING", url: "http://127.0.0.1:8080", component: "checkout")
    )
    #expect(notify.alertmanager == AlertmanagerSettings(url: "http://127.0.0.1:9093", tokenEnv: "AM_BEARER"))
    #expect(
      notify.grafana
        == GrafanaSettings(
          url: "https://grafana.example.com", tokenEnv: "GRAFANA_API", dashboardUID: "checkout-overview"))
    // Secret because the runbook says so, although no word of these names is a secret word.
    #expect(notify.secretEnvironmentNames == ["SLACK_WEBHOOK_URL", "PD_ROUTING", "AM_BEARER", "GRAFANA_API"])
  }

  @Test("pagerduty's url defaults to the public Events API")
  func pagerDutyDefault() throws {
    let result = RunbookLoader.load(
      source: withNotify("notify:\n  pagerduty: {routing_key_env: PD_ROUTING_KEY}"), file: "demo.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
    #expect(result.runbook?.notify.pagerDuty?.url == "https://events.pagerduty.com")
  }

  static let broken: [(String, String)] = [
    (
      "notify:\n  pagerdutty: {routing_key_env: K}",
      "33:3: error: unknown key 'pagerdutty' in notify; did you mean 'pagerduty'?"
    ),
    (
      "notify:\n  pagerduty: {routing_key: abc123}",
      "33:15: error: unknown key 'routing_key' in pagerduty of notify"
    ),
    (
      "notify:\n  pagerduty: {component: x}",
      "33:14: error: missing required key 'routing_key_env' in pagerduty of notify"
    ),
    (
      "notify:\n  pagerduty: {routing_key_env: K, url: \"ftp://pd.example.com\"}",
      "33:40: error: url of pagerduty must be an http:// or https:// URL, found 'ftp://pd.example.com'"
    ),
    (
      "notify:\n  pagerduty: {routing_key_env: \"R0UTING KEY=abc\"}",
      "33:32: error: routing_key_env of pagerduty must name an environment variable (letters, digits and _), "
        + "found 'R0UTING KEY=abc'; the secret itself never goes in the runbook"
    ),
    (
      "notify:\n  alertmanager: {token_env: AM_TOKEN}",
      "33:17: error: missing required key 'url' in alertmanager of notify"
    ),
    (
      "notify:\n  alertmanager: {url: alertmanager:9093}",
      "33:23: error: url of alertmanager must be an http:// or https:// URL, found 'alertmanager:9093'"
    ),
    (
      "notify:\n  grafana: {url: \"https://g.example.com\"}",
      "33:12: error: missing required key 'token_env' in grafana of notify"
    ),
    (
      "notify:\n  grafana: {url: \"https://g.example.com\", token_env: T, dashbord_uid: x}",
      "33:57: error: unknown key 'dashbord_uid' in grafana of notify; did you mean 'dashboard_uid'?"
    ),
  ]

  @Test("a wrong notify section gives a located error and no runbook", arguments: broken)
  func brokenNotify(_ section: String, _ expected: String) {
    let result = RunbookLoader.load(source: withNotify(section), file: "demo.yaml")
    let printed = result.errors.map(\.description)
    #expect(printed.contains("demo.yaml:" + expected), "got: \(printed)")
    #expect(result.runbook == nil)
    // An inline secret by mistake is not echoed back.
    #expect(!printed.contains { $0.contains("abc123") })
  }
}
