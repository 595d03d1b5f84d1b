import RollbackCore
import Testing

/// Planned steps for the state machine, built in code.
private enum Plans {
  static let here = SourceLocation(file: "test.yaml", line: 1, column: 1)

  static func condition(_ text: String) throws -> Condition {
    .comparison(try Comparison.parse(text, at: here))
  }

  static func step(
    _ id: String, kind: StepKind = .check([]), retries: Int = 0, delay: Double = 1,
    when: Condition? = nil, gates: [IncludeGate] = [], skipInDrill: Bool = false,
    onFailure: FailurePolicy = .abort, keyword: String? = nil
  ) -> PlannedStep {
    let step = Step(
      id: id, name: nil, kind: kind, retries: retries, retryDelay: delay, when: when, onFailure: onFailure,
      skipInDrill: skipInDrill, location: here)
    return PlannedStep(
      id: id, kind: keyword ?? kind.keyword, name: nil, mutates: step.mutates, detail: id, note: nil,
      origin: "level 1",
      condition: when, gates: gates, step: step)
  }

  /// A mutating step that is not safe to repeat blindly.
  static let run = StepKind.restart(service: Located("api", at: here), rebuild: false)
}

/// Drives a machine the way the run loop does, answering each action from a script.
private struct Driver {
  var machine: RunStateMachine
  var gates: [String: Bool?] = [:]
  var conditions: [String: Bool?] = [:]
  var attempts: [String: [StepStatus]] = [:]
  var repeatAnswer: Bool?
  var log: [String] = []

  mutating func run() -> RunEnd {
    var action = machine.start()
    while true {
      switch action {
      case .skip(let index, let reason):
        log.append("skip \(machine.steps[index].id) \(reason.text())")
        action = machine.stepSkipped()
      case .evaluateGate(_, let gate):
        log.append("gate \(gate)")
        action = machine.gateEvaluated(holds: gates[gate] ?? nil)
      case .evaluateCondition(let index):
        log.append("when \(machine.steps[index].id)")
        action = machine.conditionEvaluated(holds: conditions[machine.steps[index].id] ?? nil)
      case .askToRepeat(let index):
        log.append("ask \(machine.steps[index].id)")
        action = machine.repeatAnswered(repeatAnswer)
      case .startStep(let index, let phase, let journalStart):
        log.append("start \(machine.steps[index].id) \(phase)\(journalStart ? " journalled" : "")")
        action = machine.stepStarted()
      case .attempt(let index, let number, _):
        let id = machine.steps[index].id
        log.append("attempt \(id) #\(number)")
        var script = attempts[id] ?? []
        let status = script.isEmpty ? StepStatus.succeeded : script.removeFirst()
        attempts[id] = script
        action = machine.attemptFinished(status: status)
      case .waitBeforeRetry(_, let seconds, let retry, let of):
        log.append("wait \(seconds)s retry \(retry)/\(of)")
        action = machine.retryWaited()
      case .finishStep(let index, let status, let attempts):
        log.append("finish \(machine.steps[index].id) \(status.rawValue) after \(attempts)")
        action = machine.stepRecorded()
      case .stop(let end):
        return end
      }
    }
  }
}

@Suite("Run state machine")
struct RunStateMachineTests {
  @Test("a failing step is retried after its delay, then the run stops with exit 1")
  func retriesThenFails() {
    var driver = Driver(
      machine: RunStateMachine(
        steps: [Plans.step("a", kind: Plans.run, retries: 2, delay: 3), Plans.step("b")], kind: .execute,
        dryRun: false))
    driver.attempts["a"] = [.failed, .failed, .failed]
    let end = driver.run()
    #expect(end == RunEnd(status: .failed, exitCode: 1, reason: .stepFailed(0)))
    #expect(
      driver.log == [
        "start a live journalled", "attempt a #1", "wait 3.0s retry 1/2", "attempt a #2",
        "wait 3.0s retry 2/2",
        "attempt a #3", "finish a failed after 3",
      ])
  }

  @Test("a retry that succeeds goes on to the next step")
  func retrySucceeds() {
    var driver = Driver(
      machine: RunStateMachine(
        steps: [Plans.step("a", kind: Plans.run, retries: 3), Plans.step("b")], kind: .execute, dryRun: false)
    )
    driver.attempts["a"] = [.failed]
    let end = driver.run()
    #expect(end == RunEnd(status: .succeeded, exitCode: 0, reason: .completed))
    #expect(driver.log.contains("finish a succeeded after 2"))
    #expect(driver.log.last == "finish b succeeded after 1")
  }

  @Test("on_failure: continue and a failed notify do not stop the run")
  func continuePolicy() {
    var driver = Driver(
      machine: RunStateMachine(
        steps: [
          Plans.step("a", kind: Plans.run, onFailure: .continue),
          Plans.step("n", kind: Plans.run, keyword: "notify"),
        ],
        kind: .execute, dryRun: false))
    driver.attempts = ["a": [.failed], "n": [.failed]]
    #expect(driver.run() == RunEnd(status: .succeeded, exitCode: 0, reason: .completed))
  }

  @Test("an include gate is evaluated once and decides for every step inside it")
  func gateDecidedOnce() throws {
    let gate = IncludeGate(id: "inc", condition: try Plans.condition("errors > 1"))
    var driver = Driver(
      machine: RunStateMachine(
        steps: [Plans.step("inc.a", gates: [gate]), Plans.step("inc.b", gates: [gate]), Plans.step("c")],
        kind: .execute, dryRun: false))
    driver.gates["inc"] = false
    let end = driver.run()
    #expect(driver.log.filter { $0.hasPrefix("gate") } == ["gate inc"])
    #expect(driver.log.contains("skip inc.b include inc skipped:  does not hold"))
    #expect(driver.machine.gateDecisions == ["inc": false])
    #expect(end.status == .succeeded)
  }

  @Test("an unknown gate runs the include, decided once")
  func unknownGateRuns() throws {
    let gate = IncludeGate(id: "inc", condition: try Plans.condition("errors > 1"))
    var driver = Driver(
      machine: RunStateMachine(
        steps: [Plans.step("inc.a", gates: [gate]), Plans.step("inc.b", gates: [gate])], kind: .execute,
        dryRun: false))
    let unknown: Bool? = nil
    driver.gates["inc"] = unknown
    _ = driver.run()
    #expect(driver.log.filter { $0.hasPrefix("gate") }.count == 1)
    #expect(driver.log.contains("finish inc.b succeeded after 1"))
  }

  @Test("a step's when: false skips it, unknown runs it")
  func whenUnknownRuns() throws {
    let condition = try Plans.condition("errors > 1")
    var driver = Driver(
      machine: RunStateMachine(
        steps: [Plans.step("no", when: condition), Plans.step("maybe", when: condition)], kind: .execute,
        dryRun: false))
    let unknown: Bool? = nil
    driver.conditions = ["no": false, "maybe": unknown]
    let end = driver.run()
    #expect(driver.log.contains("skip no skipped:  does not hold"))
    #expect(driver.log.contains("finish maybe succeeded after 1"))
    #expect(end.status == .succeeded)
  }

  @Test("only skipped steps: aborted with exit 1, not a rollback")
  func nothingRan() throws {
    var driver = Driver(
      machine: RunStateMachine(
        steps: [Plans.step("no", when: try Plans.condition("errors > 1"))], kind: .execute, dryRun: false))
    driver.conditions = ["no": false]
    #expect(driver.run() == RunEnd(status: .aborted, exitCode: 1, reason: .nothingRan))
  }

  @Test("resume skips finished steps and asks before repeating an unfinished mutation")
  func resumeSkipsAndAsks() {
    var driver = Driver(
      machine: RunStateMachine(
        steps: [Plans.step("a", kind: Plans.run), Plans.step("b", kind: Plans.run), Plans.step("c")],
        kind: .resume, dryRun: false, resumedRunID: "r1", resumedFinished: ["a"], resumedUnfinished: ["b"]))
    driver.repeatAnswer = false
    let end = driver.run()
    #expect(driver.log == ["skip a done in the interrupted run", "ask b"])
    #expect(end == RunEnd(status: .aborted, exitCode: 5, reason: .declined(1)))
  }

  @Test("a resume whose steps were all done succeeds")
  func resumeAllDone() {
    var driver = Driver(
      machine: RunStateMachine(
        steps: [Plans.step("a")], kind: .resume, dryRun: false, resumedRunID: "r1", resumedFinished: ["a"]))
    #expect(driver.run() == RunEnd(status: .succeeded, exitCode: 0, reason: .completed))
  }

  @Test("--from skips the steps before it")
  func fromStep() {
    var driver = Driver(
      machine: RunStateMachine(
        steps: [Plans.step("a"), Plans.step("b"), Plans.step("c")], kind: .execute, dryRun: false,
        fromStep: "b"))
    _ = driver.run()
    #expect(driver.log.first == "skip a before --from b")
    #expect(
      driver.log.filter { $0.hasPrefix("finish") } == [
        "finish b succeeded after 1", "finish c succeeded after 1",
      ])
  }

  @Test("a drill skips drill: skip steps; execute runs them")
  func drillSkip() {
    let steps = [Plans.step("page", kind: Plans.run, skipInDrill: true), Plans.step("b")]
    var drill = Driver(machine: RunStateMachine(steps: steps, kind: .drill, dryRun: false))
    _ = drill.run()
    #expect(drill.log.first == "skip page skipped for the drill (drill: skip)")
    var execute = Driver(machine: RunStateMachine(steps: steps, kind: .execute, dryRun: false))
    _ = execute.run()
    #expect(execute.log.first == "start page live journalled")
  }

  @Test(
    "dry run: reads before the first mutation are live, mutations would run, later reads sampled, one attempt each"
  )
  func dryRunPhases() {
    var driver = Driver(
      machine: RunStateMachine(
        steps: [Plans.step("read1"), Plans.step("change", kind: Plans.run, retries: 3), Plans.step("read2")],
        kind: .execute, dryRun: true))
    driver.attempts["change"] = [.wouldRun]
    driver.attempts["read2"] = [.failed]
    let end = driver.run()
    #expect(
      driver.log == [
        "start read1 live journalled", "attempt read1 #1", "finish read1 succeeded after 1",
        "start change wouldRun", "attempt change #1", "finish change would-run after 1",
        "start read2 sampled", "attempt read2 #1", "finish read2 failed after 1",
      ])
    #expect(end == RunEnd(status: .failed, exitCode: 1, reason: .stepFailed(2)))
  }

  @Test("a dry run that passes ends as dry-run with exit 0")
  func dryRunEnds() {
    var driver = Driver(machine: RunStateMachine(steps: [Plans.step("a")], kind: .execute, dryRun: true))
    #expect(driver.run() == RunEnd(status: .dryRun, exitCode: 0, reason: .completed))
  }

  @Test("interrupted between steps or in a step: exit 130")
  func interrupted() {
    var machine = RunStateMachine(steps: [Plans.step("a"), Plans.step("b")], kind: .execute, dryRun: false)
    _ = machine.start()
    #expect(
      machine.interrupted()
        == .stop(RunEnd(status: .interrupted, exitCode: 130, reason: .interruptedBetweenSteps)))
    var inStep = RunStateMachine(steps: [Plans.step("a")], kind: .execute, dryRun: false)
    _ = inStep.start()
    _ = inStep.stepStarted()
    #expect(
      inStep.stepInterrupted()
        == .stop(RunEnd(status: .interrupted, exitCode: 130, reason: .interruptedInStep(0))))
  }

  @Test("a journal that cannot be written stops the run before the next step")
  func journalFailure() {
    var machine = RunStateMachine(steps: [Plans.step("a"), Plans.step("b")], kind: .execute, dryRun: false)
    _ = machine.start()
    _ = machine.stepStarted()
    _ = machine.attemptFinished(status: .succeeded)
    machine.journalWriteFailed()
    #expect(
      machine.stepRecorded()
        == .stop(RunEnd(status: .failed, exitCode: 1, reason: .journalFailed(before: nil))))
  }

  @Test("a run whose start could not be journalled stops before its first step")
  func journalFailedAtStart() {
    var machine = RunStateMachine(steps: [Plans.step("a")], kind: .execute, dryRun: false)
    machine.journalWriteFailed()
    #expect(machine.start() == .stop(RunEnd(status: .failed, exitCode: 1, reason: .journalFailed(before: 0))))
  }

  @Test("a declined confirm gate aborts with its exit code")
  func declinedGate() {
    var machine = RunStateMachine(steps: [Plans.step("ok"), Plans.step("b")], kind: .execute, dryRun: false)
    _ = machine.start()
    _ = machine.stepStarted()
    #expect(
      machine.attemptFinished(status: .failed, declined: 5)
        == .finishStep(step: 0, status: .failed, attempts: 1))
    #expect(machine.stepRecorded() == .stop(RunEnd(status: .aborted, exitCode: 5, reason: .declined(0))))
  }

  @Test("preflight exit code: 5 only gates, 2 only variables (or gates), else 1")
  func preflightPrecedence() {
    #expect(RunStateMachine.preflightExitCode(missingVariable: [false], unanswerableGate: [true]) == 5)
    #expect(
      RunStateMachine.preflightExitCode(missingVariable: [true, false], unanswerableGate: [false, true]) == 2)
    #expect(RunStateMachine.preflightExitCode(missingVariable: [true], unanswerableGate: [false]) == 2)
    #expect(
      RunStateMachine.preflightExitCode(missingVariable: [true, false], unanswerableGate: [false, false]) == 1
    )
  }

  @Test("the run kind keeps the journal's words")
  func runKindValues() {
    #expect(RunKind.execute.journalValue == "execute")
    #expect(RunKind.drill.journalValue == "drill")
    #expect(RunKind(rawValue: "resume") == .resume)
  }
}
