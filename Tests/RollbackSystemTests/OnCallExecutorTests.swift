import Foundation
import RollbackCore
import Synchronization
import Testing

@testable import RollbackSystem

/// On-call integrations that record each call and answer as scripted (or fail every call).
private final class FakeOnCall: OnCallEffects, Sendable {
  let calls = Mutex<[String]>([])
  let failAll: Bool

  init(failAll: Bool = false) { self.failAll = failAll }

  var problems: [String] { [] }
  var hasPagerDuty: Bool { true }
  var hasAlertmanager: Bool { true }
  var hasGrafana: Bool { true }

  func note(_ call: String, service: String) throws(IntegrationError) {
    calls.withLock { $0.append(call) }
    if failAll {
      throw IntegrationError(service: service, message: "HTTP 503: down for the test", status: 503)
    }
  }

  func sendChange(_ event: PagerDutyChangeEvent, timeout: Duration) async throws(IntegrationError)
    -> PagerDutyResult
  {
    try note("change \(event.summary)", service: "pagerduty")
    return PagerDutyResult(status: 202, dedupKey: nil, attempts: 1)
  }

  func sendAlert(_ event: PagerDutyAlertEvent, timeout: Duration) async throws(IntegrationError)
    -> PagerDutyResult
  {
    try note("\(event.action.rawValue) \(event.dedupKey)", service: "pagerduty")
    return PagerDutyResult(status: 202, dedupKey: event.dedupKey, attempts: 1)
  }

  func annotate(
    runID: String, runbook: String, environment: String, level: Int?, text: String, timeout: Duration
  ) async throws(IntegrationError) -> Int {
    try note("annotate \(runbook) \(environment) \(level ?? 0)", service: "grafana")
    return 17
  }

  func closeAnnotation(id: Int, timeout: Duration) async throws(IntegrationError) {
    try note("close \(id)", service: "grafana")
  }

  func createSilence(
    matchers: [String], for duration: Duration, user: String, runID: String, runbook: String,
    environment: String, timeout: Duration
  ) async throws(IntegrationError) -> String {
    try note("silence \(matchers.joined(separator: ",")) \(duration)", service: "alertmanager")
    return "sil-1"
  }

  func expireSilence(id: String, timeout: Duration) async throws(IntegrationError) {
    try note("expire \(id)", service: "alertmanager")
  }
}

private let source = """
  version: 1
  name: oncall-loop
  environments: {test: {}}
  notify:
    pagerduty: {routing_key_env: PD_KEY}
    alertmanager: {url: "http://127.0.0.1:9"}
  levels:
    1:
      name: Quiet
      steps:
        - id: quiet
          silence: {matchers: ["service=web"], for: 10m}
        - id: work
          run: ["true"]
  """

private func run(_ oncall: FakeOnCall, resume: ResumePoint? = nil) async throws -> (RunResult, [String]) {
  let loaded = RunbookLoader.load(source: source, file: "oncall.yaml")
  let runbook = try #require(loaded.runbook, "\(loaded.errors.map(\.description))")
  let state = FileManager.default.temporaryDirectory.appendingPathComponent("oncall-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: state) }
  let request = ExecutionRequest(
    runbook: runbook, runbookPath: "oncall.yaml", runbookHash: "h", target: .level(1), environmentName: nil,
    overrides: [:], processEnvironment: ["PATH": "/usr/bin:/bin", "PD_KEY": "k-123456"],
    manual: ManualValues(),
    dryRun: false, assumeYes: true, canPrompt: false, stateDirectory: state.path, resume: resume,
    kind: resume == nil ? .execute : .resume)
  var effects = ExecutionEffects.live
  effects.oncall = { _, _ in oncall }
  let lines = Mutex<[String]>([])
  let executor = try Executor(request: request, effects: effects) { line in
    lines.withLock { $0.append(line.text) }
  }
  let result = await executor.run()
  return (result, lines.withLock { $0 })
}

@Suite("the executor's on-call calls through the injected effects")
struct OnCallExecutorTests {
  @Test("a run: change, annotation, silence, then expire, change, close — in that order")
  func order() async throws {
    let fake = FakeOnCall()
    let (result, _) = try await run(fake)
    #expect(result.exitCode == 0)
    let id = result.runID
    #expect(
      fake.calls.withLock { $0 } == [
        "change rollback oncall-loop level 1 started in test (run \(id))", "annotate oncall-loop test 1",
        "silence service=web 600.0 seconds", "expire sil-1",
        "change rollback oncall-loop level 1 succeeded in test (run \(id))", "close 17",
      ])
  }

  @Test("every integration failing: warnings, the silence step failed, the rollback still runs to its end")
  func failuresNeverStop() async throws {
    let fake = FakeOnCall(failAll: true)
    let (result, lines) = try await run(fake)
    #expect(result.status == .succeeded && result.exitCode == 0)
    #expect(result.steps.map(\.status) == [.failed, .succeeded])
    #expect(result.steps.first?.error == "alertmanager: HTTP 503: down for the test")
    #expect(
      lines.contains(
        "  warning: pagerduty: HTTP 503: down for the test (an integration failure never stops a rollback)"))
    // No annotation id and no silence id came back: nothing to close or expire.
    #expect(!fake.calls.withLock { $0 }.contains { $0.hasPrefix("close") || $0.hasPrefix("expire") })
  }

  @Test("a resume expires the silences and closes the annotation the killed run left, and resolves")
  func resumeClosesWhatWasLeft() async throws {
    let fake = FakeOnCall()
    var point = ResumePoint(
      runID: "20261202T000000Z-abcd", finished: ["quiet"], unfinished: [], startedAt: Date())
    var open = OpenIntegrations()
    open.silences = ["old-1"]
    open.annotation = "9"
    point.openIntegrations = open
    let (result, _) = try await run(fake, resume: point)
    #expect(result.exitCode == 0)
    let calls = fake.calls.withLock { $0 }
    #expect(!calls.contains { $0.hasPrefix("annotate") || $0.hasPrefix("silence") })
    #expect(calls.contains("expire old-1"))
    #expect(calls.contains("resolve rollback/oncall-loop/test/20261202T000000Z-abcd"))
    #expect(calls.last == "close 9")
  }
}
