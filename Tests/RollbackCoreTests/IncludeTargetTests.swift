import RollbackCore
import Testing

@Suite("IncludeTarget: one value for a level or a scenario")
struct IncludeTargetTests {
  static let source = """
    version: 1
    name: targets
    environments:
      test: {}
    levels:
      2:
        name: Flag off
        steps:
          - {id: a, run: ["true"]}
    scenarios:
      backend-down:
        title: Backend down
        steps:
          - {id: b, include: level 2}
    """

  @Test("a plan carries the level or scenario it was made for, and says it as people read it")
  func planTarget() throws {
    let loaded = RunbookLoader.load(source: Self.source, file: "targets.yaml")
    let runbook = try #require(loaded.runbook, "\(loaded.errors.map(\.message))")
    let resolver = try Resolver.resolving(
      runbook: runbook, environmentName: nil, processEnvironment: [:], overrides: [:], resolveSecrets: false
    )
    let level = try resolver.plan(of: .level(2))
    #expect(level.target == .level(2))
    #expect(level.target.description == "level 2")
    #expect(level.target.level == 2)
    #expect(level.target.scenario == nil)
    let scenario = try resolver.plan(of: .scenario("backend-down"))
    #expect(scenario.target == .scenario("backend-down"))
    #expect(scenario.target.description == "scenario backend-down")
    #expect(scenario.target.level == nil)
    #expect(scenario.target.scenario == "backend-down")
  }

  @Test("a journal's separate level and scenario fields: the level wins when both are given, none is nil")
  func fromFields() {
    #expect(IncludeTarget(level: 3, scenario: nil) == .level(3))
    #expect(IncludeTarget(level: nil, scenario: "x") == .scenario("x"))
    #expect(IncludeTarget(level: 1, scenario: "x") == .level(1))
    #expect(IncludeTarget(level: nil, scenario: nil) == nil)
  }
}
