import Foundation
import Testing

@testable import RollbackCore

@Suite("ForwardPlanner: the roll-forward of a finished run, from its journal and the runbook")
struct ForwardPlannerTests {
  static let source = """
    version: 1
    name: shop
    environments:
      production:
        vars: {app_dir: /srv/app}
        prometheus: {url: "http://127.0.0.1:9090"}
    flags:
      api:
        key: USE_API
        files: ["${app_dir}/.env"]
        percent_key: API_PERCENT
        stages: [0, 10, 50, 100]
        service: web
      beta:
        key: BETA
        files: ["${app_dir}/.env"]
        service: web
    services:
      web:
        restart: [systemctl, restart, web]
      worker:
        restart: [systemctl, restart, worker]
    signals:
      error_rate: {prometheus: "sum(rate(errors_total[5m]))", unit: ratio}
      latency: {prometheus: "histogram_quantile(0.99, rate(h[5m]))", unit: seconds}
    decision:
      - {severity: critical, any: ["error_rate > 5%"], action: {level: 3}}
      - {severity: medium, any: ["error_rate > 1%", "latency >= 2s"], action: {step_down: api}}
      - {severity: high, any: ["error_rate > 2%"], action: {level: 2}}
    levels:
      2:
        target: 5m
        steps:
          - {id: down, flag: {name: api, percent: 0}}
          - {id: beta-off, flag: {name: beta, set: disabled}}
          - {id: restart-web, restart: web}
          - {id: restart-worker, restart: worker}
          - {id: settle, wait: "error_rate < 1%", within: 3m}
      3:
        target: 5m
        steps:
          - {id: inner, include: level 2}
    """

  static func runbook() throws -> Runbook {
    let result = RunbookLoader.load(source: source, file: "shop.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
    return try #require(result.runbook)
  }

  typealias Change = (file: String, key: String, before: String?, after: String, changed: Bool)

  static func entry(_ id: String, _ kind: String, status: String = "succeeded", changes: [Change] = [])
    -> RunReport.StepEntry
  {
    RunReport.StepEntry(
      id: id, kind: kind, name: nil, status: status, mutates: kind != "wait", startedAt: nil, duration: 1,
      detail: "", error: nil, outputTail: nil, flagChanges: changes, signals: [])
  }

  static func report(level: Int = 2, _ steps: [RunReport.StepEntry]) -> RunReport {
    RunReport(
      summary: RunSummary(
        runID: "r-1", command: "execute", runbook: "shop", environment: "production", level: level,
        scenario: nil,
        title: nil, dryRun: false, status: "succeeded", startedAt: "2026-12-01T10:00:00Z",
        finishedAt: "2026-12-01T10:02:00Z", duration: 120, rollbackDuration: 120, targetSeconds: 300,
        withinTarget: true,
        advice: nil, resumes: 0),
      steps: steps)
  }

  static let levelTwoRun = [
    entry("down", "flag", changes: [("/srv/app/.env", "API_PERCENT", "100", "0", true)]),
    entry("beta-off", "flag", changes: [("/srv/app/.env", "BETA", "true", "false", true)]),
    entry("restart-web", "restart"),
    entry("restart-worker", "restart"),
    entry("settle", "wait"),
  ]

  @Test(
    "a percentage climbs its stages one per step, each with the restart and the wait; confirm between stages")
  func percentageAlongStages() throws {
    let plan = ForwardPlanner.plan(Self.report(Self.levelTwoRun), runbook: try Self.runbook())
    let wait = ForwardStep.wait(condition: "{all: [\"error_rate <= 1%\", \"latency < 2s\"]}", within: 180)
    #expect(
      plan.steps == [
        .flag(name: "api", change: .percent(10)), .restart(service: "web", rebuild: false), wait,
        .confirm("Stage 1 of 4 done and healthy. Go on with flag api → 50%?"),
        .flag(name: "api", change: .percent(50)), .restart(service: "web", rebuild: false), wait,
        .confirm("Stage 2 of 4 done and healthy. Go on with flag api → 100%?"),
        .flag(name: "api", change: .percent(100)), .restart(service: "web", rebuild: false), wait,
        .confirm("Stage 3 of 4 done and healthy. Go on with flag beta → enabled?"),
        .flag(name: "beta", change: .enable), .restart(service: "web", rebuild: false), wait,
      ])
    #expect(plan.notes.isEmpty)
    #expect(plan.scenarioName == "forward-r-1")
    // The worker's restart is not the flag's service: not repeated.
    #expect(!plan.steps.contains(.restart(service: "worker", rebuild: false)))
  }

  @Test("steps inside an include are found by their INCLUDE.STEP journal ids")
  func throughInclude() throws {
    let steps = Self.levelTwoRun.map { entry in
      var copy = entry
      copy.id = "inner." + entry.id
      return copy
    }
    let plan = ForwardPlanner.plan(Self.report(level: 3, steps), runbook: try Self.runbook())
    #expect(plan.steps.first == .flag(name: "api", change: .percent(10)))
    #expect(plan.steps.count == 15)
  }

  @Test("a value missing before the run is said, not guessed")
  func missingBefore() throws {
    let run = [
      Self.entry("beta-off", "flag", changes: [("/srv/app/.env", "BETA", nil, "false", true)]),
      Self.entry("restart-web", "restart"),
    ]
    let plan = ForwardPlanner.plan(Self.report(run), runbook: try Self.runbook())
    #expect(plan.steps.isEmpty)
    #expect(
      plan.notes == ["beta: the journal holds no BETA before the run (the key was absent); set it by hand"])
  }

  @Test("a percentage between stages ends on its value before the run; a failed restart is not repeated")
  func offLadder() throws {
    let run = [
      Self.entry("down", "flag", changes: [("/srv/app/.env", "API_PERCENT", "30", "0", true)]),
      Self.entry("restart-web", "restart", status: "failed"),
    ]
    let plan = ForwardPlanner.plan(Self.report(run), runbook: try Self.runbook())
    let flags = plan.steps.filter { if case .flag = $0 { return true } else { return false } }
    #expect(flags == [.flag(name: "api", change: .percent(10)), .flag(name: "api", change: .percent(30))])
    #expect(!plan.steps.contains(.restart(service: "web", rebuild: false)))
  }

  @Test("negation keeps the threshold as written and swaps any/all")
  func negation() throws {
    let runbook = try Self.runbook()
    #expect(ForwardPlanner.recoveryCondition(runbook) == "{all: [\"error_rate <= 1%\", \"latency < 2s\"]}")
  }

  @Test("the written runbook holds the scenario, loads without error, and keeps the rest")
  func writtenRunbookLoads() throws {
    let plan = ForwardPlanner.plan(Self.report(Self.levelTwoRun), runbook: try Self.runbook())
    let text = try plan.runbook(source: Self.source)
    #expect(text.hasPrefix("# Roll-forward of run r-1 (level 2 of shop in production)"))
    let result = RunbookLoader.load(source: text, file: "forward.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)\n\(text)")
    let loaded = try #require(result.runbook)
    let scenario = try #require(loaded.scenarios.first { $0.name == "forward-r-1" })
    #expect(scenario.steps.count == plan.steps.count)
    #expect(scenario.steps.map(\.kind.keyword).prefix(4) == ["flag", "restart", "wait", "confirm"])
    #expect(loaded.levels.map(\.number) == [2, 3])
    #expect(loaded.flags["api"]?.stages == [0, 10, 50, 100])
  }
}
