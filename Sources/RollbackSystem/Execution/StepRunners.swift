import Foundation
import RollbackCore

/// One runner per step kind: each gets the step and the dry-run phase, and acts only through
/// the executor's ``ExecutionEffects``.
extension Executor {
  /// One attempt at a step: dispatches to its kind's runner.
  func attempt(_ planned: PlannedStep, phase: DryRunPhase) async throws -> AttemptResult {
    try Task.checkCancellation()
    let step = planned.step
    // The run's own executor hands a step placed on hosts to a copy per host.
    if planned.hostScoped, hostName == nil {
      if case .rolling(let spec) = step.kind { return try await runRolling(planned, spec, phase: phase) }
      return try await attemptOnHosts(planned, phase: phase)
    }
    switch step.kind {
    case .check(let names):
      return await runCheck(names.map(\.value), phase: phase)
    case .assert(let condition):
      return await runAssert(condition, phase: phase)
    case .wait(let condition, let within, let interval, let consecutive):
      return try await runWait(
        condition, within: within, interval: interval, consecutive: consecutive, planned: planned,
        phase: phase)
    case .flag(let name, let change):
      return try await changeFlag(name.value, change, dryRun: phase == .wouldRun)
    case .restart(let service, let rebuild):
      if phase == .wouldRun {
        let proof = pickupPlan(service.value).map { "; " + $0 } ?? ""
        return AttemptResult(status: .wouldRun, detail: "would restart " + planned.detail + proof)
      }
      return try await restart(service.value, rebuild: rebuild, id: planned.id, stepTimeout: step.timeout)
    case .run(let command):
      return try await runRun(command, planned: planned, phase: phase)
    case .http(let spec):
      return try await http(spec, phase: phase, timeout: step.timeout ?? 30)
    case .sql(let query, let mutates):
      return try await runSQL(query, mutates: mutates, planned: planned, phase: phase)
    case .notify(let spec):
      if let alert = spec.pagerDuty {
        return await runPagerDutyStep(alert, summary: resolve(spec.message), planned: planned, phase: phase)
      }
      return await runNotify(spec, phase: phase)
    case .silence(let spec):
      return await runSilence(spec, planned: planned, phase: phase)
    case .confirm(let question):
      return await runConfirm(question, planned: planned)
    case .include:
      return .ok("include")
    case .rolling:
      // A rolling step inside a host's pipeline is refused by validation.
      return .fail("rolling", "a rolling step cannot run inside a host's pipeline")
    }
  }

  /// `check`: reads and records signals.
  func runCheck(_ names: [String], phase: DryRunPhase) async -> AttemptResult {
    let readings = await read(names)
    for reading in readings {
      say("    \(reading.name): \(reading.formatted)\(reading.setByHand ? " (set by hand)" : "")")
    }
    var result = AttemptResult.ok(readingsText(readings))
    result.signals = readings
    if phase == .sampled { result.status = .sampled }
    return result
  }

  /// `assert`: fails unless the condition holds; unknown fails.
  func runAssert(_ condition: Condition, phase: DryRunPhase) async -> AttemptResult {
    let (holds, readings) = await evaluate(condition)
    var result: AttemptResult
    switch holds {
    case .some(true): result = .ok("\(condition.text) holds (\(readingsText(readings)))")
    case .some(false):
      result = .fail(condition.text, "\(condition.text) does not hold (\(readingsText(readings)))")
    case .none:
      result = .fail(condition.text, "cannot tell whether \(condition.text): \(readingsText(readings))")
    }
    if phase == .sampled {
      result = AttemptResult(
        status: .sampled, detail: "would require \(condition.text); now \(describe(holds, readings))")
    }
    result.signals = readings
    return result
  }

  /// `wait`: polls until the condition holds; sampled once after a dry run's first change.
  func runWait(
    _ condition: Condition, within: Double, interval: Double, consecutive: Int, planned: PlannedStep,
    phase: DryRunPhase
  ) async throws -> AttemptResult {
    if phase == .sampled {
      let (holds, readings) = await evaluate(condition)
      var result = AttemptResult(
        status: .sampled,
        detail:
          "would wait up to \(Quantity.format(seconds: within)) for \(condition.text); now \(readingsText(readings))"
          + (holds == true ? " (holds)" : ""))
      result.signals = readings
      return result
    }
    return try await waitFor(
      condition, within: min(within, planned.step.timeout ?? within), interval: interval,
      consecutive: consecutive, id: planned.id)
  }

  /// `run`: a command on the host.
  func runRun(_ command: CommandSpec, planned: PlannedStep, phase: DryRunPhase) async throws -> AttemptResult
  {
    let resolved = resolveCommand(command)
    if phase == .wouldRun {
      return AttemptResult(status: .wouldRun, detail: "would run: \(resolved.display)")
    }
    return try await runCommand(resolved, timeout: planned.step.timeout ?? 300, id: planned.id)
  }

  /// `sql`: one statement; a read (and anything a dry run runs) may not write.
  func runSQL(_ query: Template, mutates: Bool, planned: PlannedStep, phase: DryRunPhase) async throws
    -> AttemptResult
  {
    var bag = DiagnosticBag()
    let text = interpolationContext().resolveSQL(query, into: &bag)
    if phase == .wouldRun {
      return AttemptResult(status: .wouldRun, detail: "would run SQL: \(text.display)")
    }
    if phase == .sampled, !mutates {
      return AttemptResult(status: .sampled, detail: "would query: \(text.display)")
    }
    if let problem = bag.errors.first { return .fail(text.display, problem.message) }
    // A mislabelled statement fails rather than writes.
    return try await sql(
      text, readOnly: !mutates || request.dryRun,
      timeout: planned.step.timeout ?? resolver.environment.postgres?.timeout ?? 5, id: planned.id)
  }

  /// `notify`: described in a dry run, else sent.
  func runNotify(_ spec: NotifyStepSpec, phase: DryRunPhase) async -> AttemptResult {
    let message = resolve(spec.message)
    let channel = spec.channel ?? request.runbook.notify.slackChannel
    if phase == .wouldRun {
      return AttemptResult(
        status: .wouldRun, detail: "would notify\(channel.map { " \($0)" } ?? ""): \(message.display)")
    }
    return await notify(message, channel: channel)
  }

  /// `confirm`: a person's yes goes on; no, or nobody to ask, stops the run with exit 5.
  func runConfirm(_ question: Template, planned: PlannedStep) async -> AttemptResult {
    let text = resolve(question).display
    if request.dryRun { return AttemptResult(status: .sampled, detail: "would ask: \(text)") }
    if request.assumeYes { return .ok("\(text) — yes (--yes)") }
    var result: AttemptResult
    switch await confirmer.ask(text) {
    case .some(true): return .ok("\(text) — yes")
    case .some(false): result = AttemptResult.fail(text, "declined: \(text)")
    case .none:
      result = AttemptResult.fail(
        text,
        "confirm gate '\(planned.id)' needs an answer and there is no terminal; rerun with --yes to answer yes"
      )
    }
    result.declined = 5
    return result
  }
}
