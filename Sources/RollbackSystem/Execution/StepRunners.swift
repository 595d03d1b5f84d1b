import Foundation
import RollbackCore

/// One runner per step kind (`CheckRunner`, `WaitRunner`, `RestartRunner`, …, each in its own
/// file): the executor makes it from its ``ExecutionEffects`` and this run's host, and hands it
/// the step and the dry-run phase.
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
      return await CheckRunner(signals: sampler, say: { self.say($0) }).run(names.map(\.value), phase: phase)
    case .assert(let condition):
      return await AssertRunner(signals: sampler).run(condition, phase: phase)
    case .wait(let condition, let within, let interval, let consecutive):
      let spec = WaitRunner.Spec(
        condition: condition, within: within, interval: interval, consecutive: consecutive)
      return try await waitRunner().run(spec, timeout: step.timeout, id: planned.id, phase: phase)
    case .flag(let name, let change):
      return try await flagRunner(name.value).run(
        name.value, editor: flagEditor(name.value), change, dryRun: phase == .wouldRun)
    case .restart(let service, let rebuild):
      if phase == .wouldRun {
        let proof = pickupPlan(service.value).map { "; " + $0 } ?? ""
        return AttemptResult(status: .wouldRun, detail: "would restart " + planned.detail + proof)
      }
      let found = resolver.service(named: service.value)
      return try await restartRunner().run(
        service.value, service: found, rebuild: rebuild,
        prover: found.flatMap { pickupProver($0, named: service.value) },
        id: planned.id, stepTimeout: step.timeout)
    case .run(let command):
      return try await runRun(command, planned: planned, phase: phase)
    case .http(let spec):
      let send = spec.fromHost ? hostHTTP() ?? effects.http : effects.http
      return try await HTTPRunner(http: send, resolve: { self.resolve($0) }).run(
        spec, phase: phase, timeout: step.timeout ?? 30)
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
      let runner = ConfirmRunner(confirmer: confirmer, dryRun: request.dryRun, assumeYes: request.assumeYes)
      return await runner.run(resolve(question).display, id: planned.id)
    case .include:
      return .ok("include")
    case .rolling:
      // A rolling step inside a host's pipeline is refused by validation.
      return .fail("rolling", "a rolling step cannot run inside a host's pipeline")
    }
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

  // MARK: Runners made for this executor's host

  /// The run's signals, with `--signal` values applied.
  var sampler: SignalSampler {
    SignalSampler(reader: reader, runbook: request.runbook, manual: request.manual)
  }

  /// The runner of `wait` steps, on the run's clock.
  func waitRunner() -> WaitRunner {
    WaitRunner(
      signals: sampler, clock: clock, say: { self.say($0, $1) }, sayBudget: { self.sayBudget() },
      cutShort: { await self.escalationCutsWait($0, readings: $1) })
  }

  /// The runner for a step of flag `name`; what it writes is noted for its service's restart.
  func flagRunner(_ name: String) -> FlagRunner {
    FlagRunner(
      host: host, backupDirectory: StateDirectory(path: request.stateDirectory).backupsPath(runID),
      say: { self.say($0) }, noteWrite: { self.noteFlagWrite(name, $0) })
  }

  /// The runner of `restart` steps on this host.
  func restartRunner() -> RestartRunner {
    var runner = RestartRunner(
      commands: commandRunner(), http: effects.http, clock: clock, resolve: { self.resolve($0) },
      resolveCommand: { self.resolveCommand($0) }, say: { self.say($0, $1) }, sayBudget: { self.sayBudget() })
    // On a host, `health: {via: host}` asks with curl there, over the host's ssh master.
    runner.fromHost = hostHTTP()
    return runner
  }

  /// This host's commands, without the runbook's secret variables in their environment.
  func commandRunner() -> CommandRunner {
    // On another host only the step's own `env:` goes with the command, never this machine's.
    var processEnvironment = hostName == nil ? request.processEnvironment : [:]
    for name in secretEnvironment { processEnvironment[name] = nil }
    return CommandRunner(host: host, processEnvironment: processEnvironment, sayOutput: sayer(.output))
  }

  /// HTTP requests sent from this step's host (`curl` over its ssh master); nil on the
  /// control machine.
  func hostHTTP() -> (@Sendable (HTTPRequest) async throws(HTTPError) -> HTTPResponse)? {
    guard let remote = host as? RemoteHost else { return nil }
    return { (request: HTTPRequest) async throws(HTTPError) -> HTTPResponse in
      try await remote.requestFromHost(request)
    }
  }

  /// The proof a restart of service `name` owes, when this run wrote one of its flags.
  func pickupProver(_ service: Service, named name: String) -> PickupProver? {
    guard let pickup = service.pickup, let write = flagWrites[name] else { return nil }
    var probe = pickupProbe()
    // A service whose health is asked from its host (`via: host`) is asked there for the
    // value it reports too: the control machine may not reach it at all.
    if service.health?.viaHost == true, let fromHost = hostHTTP() { probe.http = fromHost }
    return PickupProver(
      pickup: pickup, write: write, probe: probe, source: pickupSource(pickup.pid),
      resolve: { self.resolve($0) })
  }
}
