import Foundation
import RollbackCore
import Testing

@Suite("the time budget: projected finish against the target, and each step's share")
struct TimeBudgetTests {
  static let here = SourceLocation(file: "t.yaml", line: 1, column: 1)

  static func step(_ kind: StepKind, timeout: Double? = nil, retries: Int = 0) -> Step {
    Step(
      id: "s", name: nil, note: nil, kind: kind, timeout: timeout, retries: retries, retryDelay: 0, when: nil,
      location: here)
  }

  static func wait(within: Double, timeout: Double? = nil) throws -> Step {
    step(
      .wait(
        .comparison(try Comparison.parse("up == 1", at: here)), within: within, interval: 1, consecutive: 1),
      timeout: timeout)
  }

  @Test("bounds: a wait's within (cut by its timeout), a timeout, a restart's service budget, retries")
  func bounds() throws {
    #expect(TimeBudget.upperBound(try Self.wait(within: 120)) == 120)
    #expect(TimeBudget.upperBound(try Self.wait(within: 120, timeout: 30)) == 30)
    #expect(TimeBudget.upperBound(Self.step(.confirm(Template(literal: "go?", at: Self.here)))) == 0)
    #expect(
      TimeBudget.upperBound(
        Self.step(.confirm(Template(literal: "go?", at: Self.here)), timeout: 10, retries: 2)) == 30)
    let restart = Self.step(.restart(service: Located("web", at: Self.here), rebuild: false))
    #expect(TimeBudget.upperBound(restart) { $0 == "web" ? 90 : nil } == 90)
  }

  @Test("projection: elapsed plus the current step's bound less its time, plus the steps after it")
  func projection() {
    let budget = TimeBudget(target: 300, bounds: [0, 60, 120, 10])
    #expect(budget.projection(elapsed: 5, current: 0) == 5 + 0 + 190)
    #expect(budget.projection(elapsed: 50, current: 1, inStep: 20) == 50 + 40 + 130)
    // A step past its bound adds nothing more.
    #expect(budget.projection(elapsed: 200, current: 2, inStep: 150) == 200 + 0 + 10)
    #expect(budget.projection(elapsed: 400, current: 4) == 400)
    #expect(!budget.passes(300))
    #expect(budget.passes(301))
    #expect(budget.line(elapsed: 50, projection: 220) == "elapsed 50s · projected 3m40s of target 5m ✓")
    #expect(budget.line(elapsed: 50, projection: 320).hasSuffix(" ⚠"))
  }

  @Test("the report's timeline gives each step's share of the target")
  func reportShare() throws {
    let events = try JournalFixtureTests.events("20261201T215638Z-a434")
    var report = try #require(RunReport.parse(events))
    #expect(report.targetSeconds == 300)
    let markdown = ReportRendering.markdown(report, assessment: nil)
    #expect(
      markdown.contains("| # | Step | Kind | Started | Duration | Share of target | Status | What happened |")
    )
    // Steps of a few milliseconds take less than 1 % of 5 minutes.
    #expect(
      markdown.contains("| 1 | prepare | run | 2026-12-01T21:56:38.092Z | 0.0 s | <1 % | succeeded |"),
      "\(markdown)")
    // A step of 90 s takes 30 % of a 5 minute target.
    report.steps[0].duration = 90
    #expect(
      ReportRendering.markdown(report, assessment: nil).contains("| 1 m 30 s | 30 % | succeeded |")
        || ReportRendering.markdown(report, assessment: nil).contains(" | 30 % | succeeded |"))
    // Without a target there is no share column.
    report.targetSeconds = nil
    #expect(!ReportRendering.markdown(report, assessment: nil).contains("Share of target"))
  }

  @Test("a journal's durations that are not finite numbers give no share, and never crash the report")
  func shareOfNonFiniteDurations() {
    #expect(TimeBudget.share(duration: .infinity, target: 300) == nil)
    #expect(TimeBudget.share(duration: .nan, target: 300) == nil)
    #expect(TimeBudget.share(duration: 1e300, target: 1e-300) == nil)
    #expect(TimeBudget.share(duration: 90, target: .infinity) == 0)
    #expect(TimeBudget.share(duration: 90, target: 300) == 30)
  }
}
