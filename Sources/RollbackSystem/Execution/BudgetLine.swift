import Foundation
import RollbackCore

/// The live time budget of a run: which step it is at, and whether the warning was given.
struct BudgetState {
  /// The plan's budget; nil before the first step, and for a plan without a target.
  var budget: TimeBudget?
  /// The step being run.
  var step = 0
  /// When it started.
  var stepStart = Date()
  /// The warning that the projection passes the target was given (it is given once).
  var warned = false
}

extension Executor {
  /// At a step's start: the live budget line, and the warning the first time the projection
  /// passes the target.
  func noteBudget(_ plan: Plan, step index: Int) {
    guard !request.dryRun, let target = plan.targetSeconds, target > 0 else { return }
    if budgetState.budget == nil {
      budgetState.budget = TimeBudget(target: target, steps: plan.steps.map(\.step)) { name in
        guard let service = self.resolver.service(named: name) else { return nil }
        return service.timeout + (service.health?.within ?? 0)
      }
    }
    budgetState.step = index
    budgetState.stepStart = Date()
    sayBudget()
  }

  /// Says the budget line (a terminal's live line) and, once, the warning.
  func sayBudget() {
    guard let budget = budgetState.budget else { return }
    let elapsed = Date().timeIntervalSince(startedAt)
    let projection = budget.projection(
      elapsed: elapsed, current: budgetState.step,
      inStep: Date().timeIntervalSince(budgetState.stepStart))
    say("    ⏱ " + budget.line(elapsed: elapsed, projection: projection), .tick)
    if budget.passes(projection), !budgetState.warned {
      budgetState.warned = true
      say(
        "warning: projected finish \(Quantity.format(seconds: projection)) passes the target \(Quantity.format(seconds: budget.target)) (elapsed \(Quantity.format(seconds: elapsed)); the steps left declare up to \(Quantity.format(seconds: max(0, projection - elapsed))))",
        .warning)
    }
  }
}
