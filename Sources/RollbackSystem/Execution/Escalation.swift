import Foundation
import RollbackCore

extension Executor {
  /// Between steps: once the level has run past its `escalate.after`, offers (or with `--yes`
  /// takes) the stronger level; journalled either way. True when the level is abandoned (also
  /// when that was accepted during a wait step, which the escalation cut short).
  func escalates(_ plan: Plan) async -> Bool {
    if escalation.to != nil { return true }
    guard !request.dryRun, !escalation.offered, let number = plan.target.level,
      let escalate = request.runbook.level(number)?.escalate
    else { return false }
    let elapsed = Date().timeIntervalSince(startedAt)
    guard elapsed >= escalate.after else { return false }
    escalation.offered = true
    let question =
      "level \(number) has not finished after \(Quantity.format(seconds: elapsed)) (escalate after \(Quantity.format(seconds: escalate.after))): abandon it and run level \(escalate.to)?"
    let answer: Bool? = request.assumeYes ? true : await confirmer.ask(question)
    let said: String
    switch answer {
    case .some(true): said = request.assumeYes ? "--yes" : "yes"
    case .some(false): said = "no"
    case .none: said = "no terminal"
    }
    record(
      event: .escalated(
        EscalatedEvent(
          from: number, to: escalate.to, afterSeconds: escalate.after, accepted: answer == true, answer: said,
          at: Timestamp.iso(Date()))))
    guard answer == true else {
      say("  ! escalation to level \(escalate.to) declined (\(said)); level \(number) goes on", .warning)
      return false
    }
    escalation.to = escalate.to
    say(
      "⇪ escalating (\(said)): level \(number) has run \(Quantity.format(seconds: elapsed)), past its escalate.after of \(Quantity.format(seconds: escalate.after)); abandoning it for level \(escalate.to)",
      .warning)
    return true
  }

  /// During a wait step of the run's own level: whether the level ran past its `escalate.after`
  /// and the stronger level was accepted, so the wait ends now (it changes nothing) instead of
  /// holding the escalation for up to its `within`. The wait's result when it is cut.
  func escalationCutsWait(_ id: String, readings: [SignalReading]) async -> AttemptResult? {
    guard hostName == nil, let plan = currentPlan, await escalates(plan), let to = escalation.to else {
      return nil
    }
    var result = AttemptResult(
      status: .skipped,
      detail: "wait cut short by the escalation to level \(to) (last: \(readingsText(readings)))")
    result.signals = readings
    say("    \(id): cut short: the run escalates to level \(to)", .warning)
    return result
  }

  /// The stronger level's plan, when the run escalated; nil otherwise (or when it cannot be made).
  func escalatedPlan(from plan: Plan) -> Plan? {
    guard let to = escalation.to else { return nil }
    do {
      let stronger = try resolver.plan(of: .level(to))
      budgetState = BudgetState()
      say("executing: \(Self.what(stronger)) — \(stronger.title) (escalated from \(Self.what(plan)))")
      return stronger
    } catch {
      error.diagnostics.forEach { say($0.description, .failure) }
      return nil
    }
  }
}
