import Foundation
import RollbackCore

/// The step being worked on: when it started and what its last attempt gave.
struct StepProgress {
  var started = Date()
  var clockStart: ContinuousClock.Instant
  var result = AttemptResult(status: .failed, detail: "")
  var readings: [SignalReading] = []
}

extension RunAction {
  /// The step an action is about, nil for the end.
  var stepIndex: Int? {
    switch self {
    case .skip(let index, _), .evaluateGate(let index, _), .evaluateCondition(let index),
      .askToRepeat(let index), .startStep(let index, _, _), .attempt(let index, _, _),
      .waitBeforeRetry(let index, _, _, _), .finishStep(let index, _, _):
      return index
    case .stop:
      return nil
    }
  }
}

extension Executor {
  /// Performs the state machine's actions until it stops; the machine is owned by this loop.
  func drive(_ plan: Plan) async -> RunEnd {
    var machine = RunStateMachine(
      steps: plan.steps, kind: request.kind, dryRun: request.dryRun, fromStep: request.fromStep,
      resumedRunID: request.resume?.runID, resumedFinished: request.resume?.finished ?? [],
      resumedUnfinished: request.resume?.unfinished ?? [])
    // The run's start could not be journalled: no step starts.
    if journalFailure != nil { machine.journalWriteFailed() }
    var progress = StepProgress(clockStart: clock.now)
    var current = -1
    var action = machine.start()
    while true {
      if let index = action.stepIndex, index != current {
        current = index
        if Task.isCancelled {
          action = machine.interrupted()
          continue
        }
        progress = StepProgress(clockStart: clock.now)
      }
      if case .stop(let end) = action { return end }
      action = await perform(action, plan: plan, machine: &machine, progress: &progress)
    }
  }

  /// Performs one action and reports back to the machine; returns its next action.
  func perform(
    _ action: RunAction, plan: Plan, machine: inout RunStateMachine, progress: inout StepProgress
  ) async -> RunAction {
    switch action {
    case .stop:
      return action
    case .skip(let index, let reason):
      records.append(skipRecord(plan.steps[index], reason: reason, progress: progress))
      return machine.stepSkipped()
    case .evaluateGate(let index, let gateID):
      guard let gate = plan.steps[index].gates.first(where: { $0.id == gateID }) else {
        return machine.gateEvaluated(holds: nil)
      }
      let (holds, readings) = await evaluate(gate.condition)
      say("  \(gate.id): when \(gate.condition.text) → \(describe(holds, readings))")
      return machine.gateEvaluated(holds: holds)
    case .evaluateCondition(let index):
      return machine.conditionEvaluated(
        holds: await evaluateCondition(plan.steps[index], label: label(index, plan), progress: &progress))
    case .askToRepeat(let index):
      return machine.repeatAnswered(await askToRepeat(plan.steps[index], progress: progress))
    case .startStep(let index, _, let journalStart):
      // Past the level's `escalate.after`, and accepted: this level stops here.
      if index > 0, await escalates(plan) { return machine.interrupted() }
      let next = startStep(
        plan.steps[index], label: label(index, plan), journalled: journalStart,
        machine: &machine, progress: progress)
      noteBudget(plan, step: index)
      return next
    case .attempt(let index, _, let phase):
      do {
        progress.result = try await attempt(plan.steps[index], phase: phase)
      } catch {
        say("  ✗ \(plan.steps[index].id) interrupted", .failure)
        return interruptStep(
          plan.steps[index], attempts: machine.attempts, machine: &machine, progress: progress)
      }
      return machine.attemptFinished(status: progress.result.status, declined: progress.result.declined)
    case .waitBeforeRetry(let index, let delay, let retry, let of):
      say(
        "  ! \(plan.steps[index].id) failed (\(progress.result.error ?? "")); retry \(retry) of \(of) in \(Quantity.format(seconds: delay))"
      )
      do { try await clock.sleep(for: .milliseconds(Int(delay * 1000))) } catch {
        return interruptStep(plan.steps[index], attempts: retry, machine: &machine, progress: progress)
      }
      return machine.retryWaited()
    case .finishStep(let index, _, let attempts):
      finishStep(plan.steps[index], attempts: attempts, progress: progress)
      if journalFailure != nil { machine.journalWriteFailed() }
      return machine.stepRecorded()
    }
  }

  func label(_ index: Int, _ plan: Plan) -> String {
    "[\(index + 1)/\(plan.steps.count)] \(plan.steps[index].id)"
  }

  /// The step's record from an attempt's result, timed from its start.
  func stepRecord(_ planned: PlannedStep, _ result: AttemptResult, attempts: Int, progress: StepProgress)
    -> StepRecord
  {
    StepRecord(
      id: planned.id, kind: planned.kind, name: planned.name, mutates: planned.mutates, status: result.status,
      startedAt: progress.started, duration: seconds(clock.now - progress.clockStart),
      detail: redact(result.detail), error: result.error.map(redact), output: result.output.map(redact),
      attempts: attempts, flagChanges: result.flagChanges, signals: result.signals, hosts: result.hosts)
  }

  /// A skipped step's record, with what the user is told.
  func skipRecord(_ planned: PlannedStep, reason: SkipReason, progress: StepProgress) -> StepRecord {
    switch reason {
    case .beforeFrom, .resumed, .drillSkip:
      if case .resumed(let runID) = reason {
        say("  – \(planned.id): already done in run \(runID)", .success)
      } else if reason == .drillSkip {
        say("  – \(planned.id): skipped for the drill (drill: skip)", .success)
      }
      return skippedRecord(planned, reason: reason.text())
    case .gateOff(let gateID):
      let condition = planned.gates.first { $0.id == gateID }?.condition.text ?? ""
      return stepRecord(
        planned, AttemptResult(status: .skipped, detail: reason.text(gateCondition: condition)), attempts: 0,
        progress: progress)
    case .conditionFalse:
      var result = AttemptResult(
        status: .skipped, detail: reason.text(condition: planned.condition?.text ?? ""))
      result.signals = progress.readings
      return stepRecord(planned, result, attempts: 0, progress: progress)
    }
  }

  /// Evaluates a step's own `when`, saying what a skip or an unknown means.
  func evaluateCondition(_ planned: PlannedStep, label: String, progress: inout StepProgress) async -> Bool? {
    guard let condition = planned.condition else { return true }
    let (holds, readings) = await evaluate(condition)
    progress.readings = readings
    if holds == false {
      say("  – \(label) skipped: \(condition.text) does not hold (\(readingsText(readings)))")
    } else if holds == nil {
      say(
        "  ! \(label): cannot tell whether \(condition.text) (\(readingsText(readings))); running it — unknown is never healthy"
      )
    }
    return holds
  }

  /// Asks before repeating a step the interrupted run started and did not finish.
  func askToRepeat(_ planned: PlannedStep, progress: StepProgress) async -> Bool? {
    let runID = request.resume?.runID ?? ""
    let question =
      "step \(planned.id) started but did not finish in run \(runID) and is not safe to repeat blindly. Run it again?"
    let answer: Bool? = request.assumeYes ? true : await confirmer.ask(question)
    if answer != true {
      let error =
        answer == nil
        ? "step \(planned.id) needs a decision before it is repeated; rerun on a terminal or with --yes"
        : "declined to repeat step \(planned.id)"
      say("  ✗ \(error)", .failure)
      records.append(stepRecord(planned, .fail(planned.detail, error), attempts: 0, progress: progress))
    }
    return answer
  }

  /// Journals the start (a step whose start cannot be journalled does not run) and says the heading.
  func startStep(
    _ planned: PlannedStep, label: String, journalled: Bool, machine: inout RunStateMachine,
    progress: StepProgress
  ) -> RunAction {
    if journalled {
      record(
        event: .stepStarted(
          StepStartedEvent(
            step: planned.id, kind: planned.kind, mutates: planned.mutates,
            at: Timestamp.iso(progress.started))))
      if journalFailure != nil {
        let failed = AttemptResult.fail(planned.detail, "not started: the journal could not be written")
        records.append(stepRecord(planned, failed, attempts: 0, progress: progress))
        machine.journalWriteFailed()
        return machine.startNotJournalled()
      }
    }
    say("\(label) \(planned.name.map { "— \($0)" } ?? "(\(planned.kind))")", .heading)
    if let note = planned.note { say("    note: \(note)", .verbose) }
    say("    \(planned.detail)", .verbose)
    return machine.stepStarted()
  }

  /// Records and journals a step cut short by cancellation.
  func interruptStep(
    _ planned: PlannedStep, attempts: Int, machine: inout RunStateMachine, progress: StepProgress
  ) -> RunAction {
    let interrupted = stepRecord(
      planned, .fail(planned.detail, "interrupted"), attempts: attempts, progress: progress)
    records.append(interrupted)
    record(event: finishedEvent(interrupted))
    return machine.stepInterrupted()
  }

  /// Records, journals and says a step's outcome.
  func finishStep(_ planned: PlannedStep, attempts: Int, progress: StepProgress) {
    let finished = stepRecord(planned, progress.result, attempts: attempts, progress: progress)
    records.append(finished)
    record(event: finishedEvent(finished))
    let mark: String
    let kind: OutputKind
    switch finished.status {
    case .succeeded: (mark, kind) = ("✓", .success)
    case .failed: (mark, kind) = ("✗", .failure)
    case .skipped: (mark, kind) = ("–", .success)
    case .wouldRun: (mark, kind) = ("○ would", .detail)
    case .sampled: (mark, kind) = ("◌ sampled", .detail)
    case .pending: (mark, kind) = (" ", .detail)
    }
    var line = "  \(mark) \(planned.id)  \(RunRendering.duration(finished.duration))  \(finished.detail)"
    if let error = finished.error { line += "\n    error: \(error)" }
    say(line, kind)
  }

  /// The advice that goes with how the run ended.
  func advice(for end: RunEnd, plan: Plan) -> String? {
    switch end.reason {
    case .completed, .interruptedBetweenSteps:
      return nil
    case .nothingRan:
      return "no step of \(Self.what(plan)) ran; nothing was changed"
    case .interruptedInStep:
      nextCommand = pasteable(["resume", runID])
      return "resume with: \(nextCommand ?? "")"
    case .stepFailed:
      return records.last.map { adviceAfterFailure($0, plan: plan) }
    case .declined:
      return records.last?.error
    case .journalFailed(let before):
      return adviceAfterJournalFailure(journalFailure ?? "", before: before.map { plan.steps[$0].id })
    }
  }
}
