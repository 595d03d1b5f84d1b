/// Why a step did not run.
public enum SkipReason: Sendable, Equatable {
  /// It comes before `--from`.
  case beforeFrom(String)
  /// The interrupted run being resumed finished it.
  case resumed(runID: String)
  /// `drill: skip` in a drill.
  case drillSkip
  /// An include around it is gated off (decided once, where the include starts).
  case gateOff(gate: String)
  /// Its own `when` does not hold.
  case conditionFalse

  /// The reason as recorded on the step.
  public func text(gateCondition: String = "", condition: String = "") -> String {
    switch self {
    case .beforeFrom(let step): return "before --from \(step)"
    case .resumed: return "done in the interrupted run"
    case .drillSkip: return "skipped for the drill (drill: skip)"
    case .gateOff(let gate): return "include \(gate) skipped: \(gateCondition) does not hold"
    case .conditionFalse: return "skipped: \(condition) does not hold"
    }
  }
}

/// Why a run ended.
public enum RunEndReason: Sendable, Equatable {
  /// Every step was handled.
  case completed
  /// Nothing but skips: not a rollback.
  case nothingRan
  /// Cancelled between steps.
  case interruptedBetweenSteps
  /// Cancelled during the step at this index.
  case interruptedInStep(Int)
  /// The step at this index failed with `on_failure: abort`.
  case stepFailed(Int)
  /// A person declined (or could not be asked) at the step at this index.
  case declined(Int)
  /// The journal could not be written; `before` is the step that did not start, if any.
  case journalFailed(before: Int?)
}

/// How a run ended: what the user sees as status and exit code.
public struct RunEnd: Sendable, Equatable {
  /// How the run ended (succeeded, failed, aborted, interrupted, dry run).
  public var status: RunStatus
  /// The process exit code.
  public var exitCode: Int32
  /// Why.
  public var reason: RunEndReason

  /// Creates an end.
  public init(status: RunStatus, exitCode: Int32, reason: RunEndReason) {
    self.status = status
    self.exitCode = exitCode
    self.reason = reason
  }
}

/// What the run loop does next.
public enum RunAction: Sendable, Equatable {
  /// Record the step as skipped, then call ``RunStateMachine/stepSkipped()``.
  case skip(step: Int, reason: SkipReason)
  /// Evaluate an include's gate, then call ``RunStateMachine/gateEvaluated(holds:)``.
  case evaluateGate(step: Int, gate: String)
  /// Evaluate the step's own `when`, then call ``RunStateMachine/conditionEvaluated(holds:)``.
  case evaluateCondition(step: Int)
  /// The step started but did not finish in the resumed run and is not idempotent: ask, then
  /// call ``RunStateMachine/repeatAnswered(_:)``.
  case askToRepeat(step: Int)
  /// Start the step (journalling its start when `journalStart`), then make attempt 1.
  case startStep(step: Int, phase: DryRunPhase, journalStart: Bool)
  /// Make an attempt, then call ``RunStateMachine/attemptFinished(status:declined:)``.
  case attempt(step: Int, number: Int, phase: DryRunPhase)
  /// Wait `seconds` before retry `retry` of `of`, then call ``RunStateMachine/retryWaited()``.
  case waitBeforeRetry(step: Int, seconds: Double, retry: Int, of: Int)
  /// Record the step's final outcome (journal its end), then call ``RunStateMachine/stepRecorded()``.
  case finishStep(step: Int, status: StepStatus, attempts: Int)
  /// The run is over.
  case stop(RunEnd)
}

/// The control flow of one run, with no I/O: given the plan, the resume point, `--from`, the
/// run kind, dry-run and each step's outcome, it decides what happens next.
///
/// A value type with mutating methods that return the next ``RunAction``; the run loop (in
/// RollbackSystem) performs each action and reports back. Include gates are decided once.
public struct RunStateMachine: Sendable {
  /// The steps in order.
  public let steps: [PlannedStep]
  /// The run kind.
  public let kind: RunKind
  /// Rehearse: change nothing.
  public let dryRun: Bool
  /// `--from`: the first step to run.
  public let fromStep: String?
  /// The resumed run's id, when resuming.
  public let resumedRunID: String?
  /// Steps the resumed run finished.
  public let resumedFinished: Set<String>
  /// Steps the resumed run started and did not finish.
  public let resumedUnfinished: Set<String>

  /// Each include gate's decision, once made.
  public private(set) var gateDecisions: [String: Bool] = [:]
  /// Whether a mutation ran (or, in a dry run, would have run).
  public private(set) var sawMutation = false
  /// Whether any step got past its skips (ran, failed or was refused).
  public private(set) var anyStepRan = false
  /// The index of the current step.
  public private(set) var index = -1
  private var reachedFrom: Bool
  private var journalBroken = false
  /// Attempts made at the current step.
  public var attempts: Int { attemptNumber }
  private var attemptNumber = 0
  private var lastStatus = StepStatus.pending
  private var lastDeclined: Int32?
  private var phase = DryRunPhase.live
  private var ended: RunEnd?

  /// Creates the machine for a plan.
  public init(
    steps: [PlannedStep], kind: RunKind, dryRun: Bool, fromStep: String? = nil, resumedRunID: String? = nil,
    resumedFinished: Set<String> = [], resumedUnfinished: Set<String> = []
  ) {
    self.steps = steps
    self.kind = kind
    self.dryRun = dryRun
    self.fromStep = fromStep
    self.resumedRunID = resumedRunID
    self.resumedFinished = resumedFinished
    self.resumedUnfinished = resumedUnfinished
    reachedFrom = fromStep == nil
  }

  /// The exit code of a refused preflight: 5 when only a confirm gate cannot be asked, 2 when
  /// only variables are missing (or gates), else 1.
  public static func preflightExitCode(missingVariable: [Bool], unanswerableGate: [Bool]) -> Int32 {
    let pairs = zip(missingVariable, unanswerableGate)
    if pairs.allSatisfy({ $0.1 }) { return 5 }
    if pairs.allSatisfy({ $0.0 || $0.1 }) { return 2 }
    return 1
  }

  /// The dry-run phase a step would get now.
  public func phase(of step: PlannedStep) -> DryRunPhase {
    guard dryRun else { return .live }
    if step.mutates { return .wouldRun }
    return sawMutation ? .sampled : .live
  }

  /// Starts the run: the first action.
  public mutating func start() -> RunAction { advance() }

  /// The journal could not be written: no step starts after this one.
  public mutating func journalWriteFailed() { journalBroken = true }

  /// The run was cancelled between steps.
  public mutating func interrupted() -> RunAction {
    stop(
      RunEnd(
        status: .interrupted, exitCode: ExitStatus.interrupted.rawValue, reason: .interruptedBetweenSteps))
  }

  /// The skipped step is recorded.
  public mutating func stepSkipped() -> RunAction { advance() }

  /// An include gate was evaluated; unknown counts as holding (the include runs).
  public mutating func gateEvaluated(holds: Bool?) -> RunAction {
    guard let gate = pendingGate() else { return decide() }
    gateDecisions[gate] = holds ?? true
    return decide()
  }

  /// The step's own `when` was evaluated: false skips it; unknown runs it (never healthy).
  public mutating func conditionEvaluated(holds: Bool?) -> RunAction {
    if holds == false { return .skip(step: index, reason: .conditionFalse) }
    return afterCondition()
  }

  /// The answer to repeating an unfinished, non-idempotent step (nil: nobody to ask).
  public mutating func repeatAnswered(_ answer: Bool?) -> RunAction {
    anyStepRan = true
    if answer == true { return startCurrent() }
    return stop(RunEnd(status: .aborted, exitCode: ExitStatus.declined.rawValue, reason: .declined(index)))
  }

  /// The step's start could not be journalled: it does not run.
  public mutating func startNotJournalled() -> RunAction {
    anyStepRan = true
    return stop(
      RunEnd(status: .failed, exitCode: ExitStatus.failed.rawValue, reason: .journalFailed(before: nil)))
  }

  /// One attempt ended; `declined` is the exit code of a declined confirm gate.
  public mutating func attemptFinished(status: StepStatus, declined: Int32? = nil) -> RunAction {
    lastStatus = status
    lastDeclined = declined
    let step = steps[index]
    let maxAttempts = (dryRun && phase != .live) ? 1 : step.step.retries + 1
    if status == .failed, declined == nil, attemptNumber < maxAttempts {
      return .waitBeforeRetry(
        step: index, seconds: step.step.retryDelay, retry: attemptNumber, of: step.step.retries)
    }
    return finishCurrent()
  }

  /// The pause before a retry is over.
  public mutating func retryWaited() -> RunAction {
    attemptNumber += 1
    return .attempt(step: index, number: attemptNumber, phase: phase)
  }

  /// The step was cancelled during an attempt or a retry's pause.
  public mutating func stepInterrupted() -> RunAction {
    anyStepRan = true
    return stop(
      RunEnd(
        status: .interrupted, exitCode: ExitStatus.interrupted.rawValue, reason: .interruptedInStep(index)))
  }

  /// The step's outcome is recorded: go on, or stop.
  public mutating func stepRecorded() -> RunAction {
    let step = steps[index]
    if journalBroken {
      return stop(
        RunEnd(status: .failed, exitCode: ExitStatus.failed.rawValue, reason: .journalFailed(before: nil)))
    }
    if lastDeclined != nil {
      return stop(RunEnd(status: .aborted, exitCode: lastDeclined ?? 5, reason: .declined(index)))
    }
    // A failed notification or silence never stops a rollback.
    if lastStatus == .failed, step.step.onFailure == .abort, step.kind != "notify", step.kind != "silence" {
      return stop(RunEnd(status: .failed, exitCode: ExitStatus.failed.rawValue, reason: .stepFailed(index)))
    }
    return advance()
  }

  // MARK: Internals

  private mutating func stop(_ end: RunEnd) -> RunAction {
    ended = end
    return .stop(end)
  }

  private mutating func advance() -> RunAction {
    index += 1
    guard index < steps.count else { return complete() }
    let step = steps[index]
    if !reachedFrom {
      if step.id == fromStep {
        reachedFrom = true
      } else {
        return .skip(step: index, reason: .beforeFrom(fromStep ?? ""))
      }
    }
    if let runID = resumedRunID, resumedFinished.contains(step.id) {
      return .skip(step: index, reason: .resumed(runID: runID))
    }
    if journalBroken {
      return stop(
        RunEnd(status: .failed, exitCode: ExitStatus.failed.rawValue, reason: .journalFailed(before: index)))
    }
    if kind == .drill, step.step.skipInDrill { return .skip(step: index, reason: .drillSkip) }
    return decide()
  }

  /// The first gate of the current step not yet decided.
  private func pendingGate() -> String? {
    steps[index].gates.first { gateDecisions[$0.id] == nil }?.id
  }

  /// Gates first (each decided once), then the step's own `when`.
  private mutating func decide() -> RunAction {
    let step = steps[index]
    for gate in step.gates {
      guard let decided = gateDecisions[gate.id] else {
        return .evaluateGate(step: index, gate: gate.id)
      }
      if !decided { return .skip(step: index, reason: .gateOff(gate: gate.id)) }
    }
    if step.condition != nil { return .evaluateCondition(step: index) }
    return afterCondition()
  }

  private mutating func afterCondition() -> RunAction {
    let step = steps[index]
    if resumedUnfinished.contains(step.id), !step.step.isIdempotent { return .askToRepeat(step: index) }
    return startCurrent()
  }

  private mutating func startCurrent() -> RunAction {
    anyStepRan = true
    phase = phase(of: steps[index])
    attemptNumber = 0
    lastStatus = .pending
    lastDeclined = nil
    return .startStep(step: index, phase: phase, journalStart: phase == .live || !dryRun)
  }

  /// After ``RunAction/startStep(step:phase:journalStart:)``: the first attempt.
  public mutating func stepStarted() -> RunAction {
    attemptNumber = 1
    return .attempt(step: index, number: 1, phase: phase)
  }

  private mutating func finishCurrent() -> RunAction {
    let step = steps[index]
    if step.mutates, lastStatus == .succeeded || lastStatus == .wouldRun { sawMutation = true }
    return .finishStep(step: index, status: lastStatus, attempts: attemptNumber)
  }

  private mutating func complete() -> RunAction {
    index = steps.count
    if resumedRunID == nil, !anyStepRan {
      return stop(RunEnd(status: .aborted, exitCode: ExitStatus.failed.rawValue, reason: .nothingRan))
    }
    return stop(
      RunEnd(status: dryRun ? .dryRun : .succeeded, exitCode: ExitStatus.success.rawValue, reason: .completed)
    )
  }
}
