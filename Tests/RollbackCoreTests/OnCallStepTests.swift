import RollbackCore
import Testing

/// The base runbook (see BrokenRunbookTests) with `step` added to level 1 and `notify` after it.
private func withStep(_ step: String, notify: String = "alertmanager: {url: \"http://127.0.0.1:9093\"}")
  -> String
{
  validRunbook + "\n" + step + "\nnotify:\n  " + notify
}

private let pagerDuty = "pagerduty: {routing_key_env: PD_ROUTING_KEY}"

@Suite("silence steps and notify's pagerduty form are read and checked")
struct OnCallStepTests {
  @Test("a silence step is read with its matchers and duration, and planned as a change")
  func readsSilence() throws {
    let source = withStep(
      "      - id: quiet\n        silence: {matchers: [\"service=web\", \"severity=~warning|critical\"], for: 15m}"
    )
    let result = RunbookLoader.load(source: source, file: "demo.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
    let step = try #require(result.runbook?.levels.first?.steps.last)
    guard case .silence(let spec) = step.kind else {
      Issue.record("not a silence step: \(step.kind.keyword)")
      return
    }
    #expect(spec.matchers.map(\.value) == ["service=web", "severity=~warning|critical"])
    #expect(spec.duration == 900)
    #expect(step.mutates)
    #expect(!step.isIdempotent)
  }

  @Test("a notify pagerduty step is read with its action, severity and summary")
  func readsPagerDutyNotify() throws {
    let source = withStep(
      "      - id: page\n        notify: {pagerduty: trigger, severity: warning, summary: \"web down in run ${run.id}\"}",
      notify: pagerDuty)
    let result = RunbookLoader.load(source: source, file: "demo.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
    let step = try #require(result.runbook?.levels.first?.steps.last)
    guard case .notify(let spec) = step.kind else {
      Issue.record("not a notify step")
      return
    }
    #expect(spec.pagerDuty == PagerDutyStepAlert(action: "trigger", severity: "warning"))
    #expect(spec.message.parts.count > 1)
  }

  static let broken: [(String, String, String)] = [
    (
      "      - silence: {matchers: [\"service=web\"]}", "alertmanager: {url: \"http://127.0.0.1:9093\"}",
      "error: missing required key 'for' in silence of"
    ),
    (
      "      - silence: {matchers: [\"service\"], for: 5m}",
      "alertmanager: {url: \"http://127.0.0.1:9093\"}",
      "error: bad matcher 'service': no operator"
    ),
    (
      "      - silence: {matchers: [], for: 5m}", "alertmanager: {url: \"http://127.0.0.1:9093\"}",
      "needs a list such as [\"service=checkout\"]"
    ),
    (
      "      - silence: {matchers: [\"service=web\"], for: 0s}",
      "alertmanager: {url: \"http://127.0.0.1:9093\"}",
      "must be a positive duration"
    ),
    (
      "      - {id: quiet, silence: {matchers: [\"service=web\"], for: 5m}}", pagerDuty,
      "error: silence step 'quiet' needs notify: {alertmanager: {url: …}} to post silences to"
    ),
    (
      "      - {id: page, notify: {pagerduty: trigger, summary: down}}",
      "alertmanager: {url: \"http://127.0.0.1:9093\"}",
      "error: notify step 'page' sends a PagerDuty event but notify: has no pagerduty: {routing_key_env: …}"
    ),
    (
      "      - notify: {pagerduty: trigger}", pagerDuty,
      "triggers a PagerDuty alert and needs a summary"
    ),
    (
      "      - notify: {pagerduty: trigerr, summary: down}", pagerDuty,
      "error: pagerduty must be trigger or resolve, found 'trigerr'; did you mean 'trigger'?"
    ),
    (
      "      - notify: {pagerduty: trigger, severity: fatal, summary: down}", pagerDuty,
      "error: severity must be one of critical, error, warning, info, found 'fatal'"
    ),
    (
      "      - notify: {pagerduty: trigger, summary: down, channel: \"#x\"}", pagerDuty,
      "sends a PagerDuty event: use summary, not channel"
    ),
  ]

  @Test("a wrong silence or pagerduty step gives a located error and no runbook", arguments: broken)
  func brokenStep(_ step: String, _ notify: String, _ expected: String) {
    let result = RunbookLoader.load(source: withStep(step, notify: notify), file: "demo.yaml")
    let printed = result.errors.map(\.description)
    #expect(printed.contains { $0.hasPrefix("demo.yaml:") && $0.contains(expected) }, "got: \(printed)")
    #expect(result.runbook == nil)
  }
}
