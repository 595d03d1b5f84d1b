import Foundation
import RollbackCore

/// Runs a level or scenario: preflight, lock, journal, each step, time against target.
///
/// Not `Sendable`: one task owns it and runs ``run()``. What to do next is decided by a
/// ``RunStateMachine`` value owned by that loop; everything outside memory goes through
/// ``ExecutionEffects``.
public final class Executor {
  let request: ExecutionRequest
  let emit: @Sendable (OutputLine) -> Void
  let effects: ExecutionEffects
  var confirmer: Confirmer { effects.confirmer }
  var clock: any ExecutionClock { effects.clock }
  let resolver: Resolver
  let reader: any SignalReader
  var journal: JournalWriter?
  let secrets: [String]
  /// Environment variables the runbook names as secrets; children get them only through `env:`.
  let secretEnvironment: Set<String>
  let runID: String
  var records: [StepRecord] = []
  var nextCommand: String?
  /// Why the journal could not be written, once it could not: no step starts after that.
  var journalFailure: String?
  /// The on-call integrations (PagerDuty, Alertmanager, Grafana) the runbook's `notify:` sets up.
  let oncall: any OnCallEffects
  /// What the run opened in them and must close.
  var oncallState = OnCallRunState()
  /// The plan being run, once made.
  var currentPlan: Plan?
  /// Where this executor's commands and flag files are: this machine, or (a copy running a
  /// host-scoped step) one host of the inventory.
  let host: any HostEffects
  /// The inventory host a copy acts on; nil for the run's own executor.
  let hostName: String?
  /// The run's ssh connections and host locks, while open.
  var fleet: FleetSession?
  /// The flags this run wrote, by the service that reads them (proof of pickup).
  var flagWrites: [String: FlagWrite] = [:]
  /// The level's clock against its target (the live budget line).
  var budgetState = BudgetState()
  /// The level's `escalate` was offered (it is offered once); the stronger level, when accepted.
  var escalation: (offered: Bool, to: Int?) = (false, nil)

  /// Asks a person whether to go on.
  public struct Confirmer: Sendable {
    /// Returns true (go on), false (declined), or nil (cannot ask).
    public var ask: @Sendable (String) async -> Bool?

    /// Creates a confirmer.
    public init(ask: @escaping @Sendable (String) async -> Bool?) { self.ask = ask }

    /// Reads `y`/`n` from the terminal on stdin; nil when stdin is not a terminal.
    public static let terminal = Confirmer { question in
      guard isatty(STDIN_FILENO) == 1 else { return nil }
      FileHandle.standardError.write(Data("? \(question) [y/N] ".utf8))
      guard let line = readLine() else { return nil }
      return ["y", "yes"].contains(line.trimmingCharacters(in: .whitespaces).lowercased())
    }
  }

  /// Prepares an execution; fails with diagnostics when variables cannot be resolved.
  public init(
    request: ExecutionRequest, effects: ExecutionEffects = .live,
    emit: @escaping @Sendable (OutputLine) -> Void
  ) throws(DiagnosticList) {
    self.request = request
    self.emit = emit
    self.effects = effects
    var resolver = try Resolver.resolving(
      runbook: request.runbook, environmentName: request.environmentName,
      processEnvironment: request.processEnvironment, overrides: request.overrides, resolveSecrets: true)
    resolver.selectedHosts = request.hostLimit?.hosts
    self.resolver = resolver
    // A plan that cannot run in this environment (a rolling step without hosts) is refused
    // before anything runs, like an unknown variable.
    if let plan = try? resolver.plan(of: request.target), let refusal = plan.fleetRefusal {
      throw DiagnosticList([refusal])
    }
    host = effects.host
    hostName = nil
    reader = effects.signalReader(resolver, request.processEnvironment)
    runID = request.resume?.runID ?? RunID.make()
    secrets = Self.collectSecrets(resolver: resolver, processEnvironment: request.processEnvironment)
    secretEnvironment = Self.secretEnvironmentNames(resolver: resolver)
    oncall = effects.oncall(request.runbook.notify, request.processEnvironment)
    flagWrites = Self.journalledFlagWrites(request.resume?.flagSteps ?? [], runbook: request.runbook)
  }

  /// A copy of a run's executor acting on one host (its vars and `${host.*}` resolved), for a
  /// host-scoped step; its lines are prefixed with the host's name, and it journals each of its
  /// steps' ends with the host.
  init(seed: HostRunSeed, host: RollbackCore.Host, effects hostEffects: any HostEffects) {
    request = seed.request
    let emit = seed.emit
    let prefix = "    [\(host.name)] "
    // The run's own indentation (up to four spaces) gives way to the prefix; a diff's leading
    // space after it is kept.
    self.emit = { line in
      let indent = line.text.prefix(4).prefix { $0 == " " }.count
      emit(OutputLine(line.kind, prefix + line.text.dropFirst(indent)))
    }
    effects = seed.effects
    resolver = seed.resolver.on(host)
    reader = seed.reader
    secrets = seed.secrets
    secretEnvironment = seed.secretEnvironment
    runID = seed.runID
    startedAt = seed.startedAt
    self.host = hostEffects
    hostName = host.name
    journal = seed.journal
    oncall = seed.oncall
  }

  /// Values that must never be printed or journalled.
  static func collectSecrets(resolver: Resolver, processEnvironment: [String: String]) -> [String] {
    var list: [String] = resolver.context.variables.values.filter(\.hasSecret).map(\.value)
    // The shell's PWD and OLDPWD hold directories, not passwords: masking them would hide paths.
    // Nor is a yes/no word in a secret-looking name (ANSIBLE_HOST_KEY_CHECKING=True):
    // masking those would hide every `true` in the output.
    for (name, value) in processEnvironment
    where InterpolationContext.isSecretName(name) && name != "PWD" && name != "OLDPWD"
      && !Self.isPlainWord(value)
    {
      list.append(value)
    }
    for name in secretEnvironmentNames(resolver: resolver) {
      if let value = processEnvironment[name] { list.append(value) }
    }
    for step in resolver.runbook.levels.flatMap(\.steps) + resolver.runbook.scenarios.flatMap(\.steps) {
      guard case .http(let spec) = step.kind else { continue }
      for header in spec.headers where SecretName.isSecretHeader(header.name) {
        var bag = DiagnosticBag()
        let value = resolver.context.resolve(header.value, into: &bag).value
        if bag.errors.isEmpty { list.append(value) }
        // `Bearer TOKEN`: the credential alone, wherever it is echoed.
        if let space = value.firstIndex(of: " ") { list.append(String(value[value.index(after: space)...])) }
      }
    }
    var extra: [String] = []
    for value in list { extra += Redaction.secretsInURL(value) }
    return Array(Set((list + extra).filter { $0.count >= 3 })).sorted { $0.count > $1.count }
  }

  /// True for values no one keeps secret: yes/no words.
  static func isPlainWord(_ value: String) -> Bool {
    ["true", "false", "yes", "no", "on", "off"].contains(value.lowercased())
  }

  /// The environment variables the runbook names as secrets: `dsn_env`, `token_env`,
  /// `webhook_env` and every `${secret.NAME}`. Children do not inherit them.
  static func secretEnvironmentNames(resolver: Resolver) -> Set<String> {
    var names = Set<String>()
    for environment in resolver.runbook.environments {
      if let dsn = environment.postgres?.dsnEnv { names.insert(dsn) }
      if let token = environment.prometheus?.tokenEnv { names.insert(token) }
    }
    // Slack's webhook, PagerDuty's routing key, Alertmanager's and Grafana's tokens.
    names.formUnion(resolver.runbook.notify.secretEnvironmentNames)
    var templates: [Template] = []
    for step in resolver.runbook.levels.flatMap(\.steps) + resolver.runbook.scenarios.flatMap(\.steps) {
      templates += RunbookValidator.templatesOfStep(step)
    }
    for service in resolver.runbook.services.values {
      for command in [service.restart, service.rebuild].compactMap({ $0 }) {
        templates += RunbookValidator.templatesOfCommand(command)
      }
    }
    for environment in resolver.runbook.environments {
      templates += environment.vars.map(\.value)
    }
    for template in templates {
      for part in template.parts {
        if case .secret(let name) = part { names.insert(name) }
      }
    }
    return names
  }

  /// Hides every secret in a text.
  func redact(_ text: String) -> String { Redaction.text(text, secrets: secrets) }

  func say(_ text: String, _ kind: OutputKind = .detail) { emit(OutputLine(kind, redact(text))) }

  /// Says lines from another thread (a child's output): only `Sendable` parts are captured.
  func sayer(_ kind: OutputKind) -> @Sendable (String) -> Void {
    let emit = emit
    let secrets = secrets
    return { text in emit(OutputLine(kind, Redaction.text(text, secrets: secrets))) }
  }

  func seconds(_ duration: Duration) -> Double {
    duration.doubleSeconds
  }

  func resolve(_ template: Template) -> ResolvedText {
    var bag = DiagnosticBag()
    var context = resolver.context
    context.run = runFacts()
    return context.resolve(template, into: &bag)
  }

  var startedAt = Date()

  func runFacts() -> [String: String] {
    var facts = [
      "id": runID, "runbook": request.runbook.name, "environment": resolver.environment.name,
      "started_at": Timestamp.iso(startedAt),
      "elapsed": Quantity.format(seconds: Date().timeIntervalSince(startedAt)),
      "status": "in progress",
    ]
    switch request.target {
    case .level(let number):
      facts["level"] = String(number)
      facts["scenario"] = ""
      if let target = request.runbook.level(number)?.target {
        facts["target"] = Quantity.format(seconds: target)
      }
    case .scenario(let name):
      facts["level"] = ""
      facts["scenario"] = name
      if let target = request.runbook.scenario(named: name)?.target {
        facts["target"] = Quantity.format(seconds: target)
      }
    }
    return facts
  }

  // MARK: The run

  /// Runs the plan and returns what happened; never throws: failures are in the result.
  public func run() async -> RunResult {
    startedAt = request.resume?.startedAt ?? Date()
    guard let plan = makePlan() else {
      return finish(plan: nil, status: .aborted, exitCode: ExitStatus.usage.rawValue, advice: nil)
    }
    let mode =
      request.dryRun
      ? "DRY RUN — nothing will be changed" : (request.resume != nil ? "resuming" : "executing")
    say(
      "\(mode): \(Self.what(plan)) — \(plan.title) · runbook \(plan.runbook) · environment \(plan.environment) · run \(runID)"
    )
    let problems = await preflight(plan)
    if !problems.isEmpty { return refuse(plan, problems) }

    var lock: FileLock?
    if !request.dryRun {
      switch acquireLock(plan) {
      case .success(let held): lock = held
      case .failure(let refused): return refused.result
      }
    }
    defer { lock?.release() }

    if case .failure(let refused) = await openFleet(plan) { return refused.result }
    if let problem = openJournalError() {
      await closeFleet()
      say(problem, .failure)
      return finish(
        plan: plan, status: .aborted, exitCode: ExitStatus.failed.rawValue,
        advice: "make the state directory writable")
    }
    record(event: runStartedEvent(plan))
    currentPlan = plan
    await oncallRunStarted(plan)

    let (end, ran, refusal) = await driveEscalating(plan)
    await oncallRunFinished(ran, status: end.status)
    await closeFleet()
    return finish(
      plan: ran, status: end.status, exitCode: end.exitCode, advice: refusal ?? advice(for: end, plan: ran))
  }

  /// Drives the plan and, when the run escalated, the stronger level, which is checked first
  /// like the run's own level was: its steps on this machine (files, programs, URLs, signals),
  /// then its hosts, opened, checked and locked. A stronger level refused by that check fails
  /// the run without running a step of it; `refusal` is then the advice.
  func driveEscalating(_ plan: Plan) async -> (end: RunEnd, ran: Plan, refusal: String?) {
    let end = await drive(plan)
    guard let stronger = escalatedPlan(from: plan) else { return (end, plan, nil) }
    let local = await preflight(stronger).map(\.text)
    let problems = local.isEmpty ? await openFleet(forEscalation: stronger) : local
    guard problems.isEmpty else {
      say("preflight of \(Self.what(stronger)) failed; none of its steps was run:", .failure)
      for problem in problems { say("  ✗ \(problem)", .failure) }
      record(
        event: .preflightFailed(PreflightFailedEvent(at: Timestamp.iso(Date()), problems: problems)))
      let list = problems.joined(separator: "; ")
      nextCommand = pasteable(["execute"] + targetArguments(stronger))
      return (
        RunEnd(status: .failed, exitCode: ExitStatus.failed.rawValue, reason: .completed), stronger,
        "the escalation to \(Self.what(stronger)) was refused by preflight (\(list)); fix the problems, then "
          + "run it"
      )
    }
    return (await drive(stronger), stronger, nil)
  }

  /// The plan (a drill's wrapped in its own steps); nil, said, when it cannot be made or `--from` names no step.
  func makePlan() -> Plan? {
    var plan: Plan
    do {
      let made = try resolver.plan(of: request.target)
      plan = request.kind == .drill ? DrillPlanner.wrap(made, resolver: resolver) : made
    } catch {
      error.diagnostics.forEach { say($0.description, .failure) }
      return nil
    }
    // `resume --only-failed` ends with the failed step: nothing after it runs.
    if let only = request.resume?.onlyFailed, let index = plan.steps.firstIndex(where: { $0.id == only.step })
    {
      plan.steps = Array(plan.steps[...index])
    }
    if let from = request.fromStep, !plan.steps.contains(where: { $0.id == from }) {
      let ids = plan.steps.map(\.id).joined(separator: ", ")
      say("error: --from: no step '\(from)' in \(Self.what(plan)) (steps: \(ids)); nothing was run", .failure)
      return nil
    }
    return plan
  }

  /// A refused preflight: said, journalled when the state directory allows, with its exit code.
  func refuse(_ plan: Plan, _ problems: [PreflightProblem]) -> RunResult {
    say("preflight failed; nothing was changed:", .failure)
    for problem in problems { say("  ✗ \(problem.text)", .failure) }
    let code = RunStateMachine.preflightExitCode(
      missingVariable: problems.map(\.isMissingVariable),
      unanswerableGate: problems.map(\.isUnanswerableGate))
    // The refused attempt is recorded (history shows it), when the state directory allows.
    if openJournal() {
      record(event: runStartedEvent(plan))
      record(
        event: .preflightFailed(
          PreflightFailedEvent(at: Timestamp.iso(Date()), problems: problems.map(\.text))))
    }
    let list = problems.map(\.text).joined(separator: "; ")
    return finish(
      plan: plan, status: .aborted, exitCode: code,
      advice: "preflight refused the run (\(list)); fix the problems and run again")
  }

  /// A run that could not start, as an error carrying its result.
  struct Refused: Error {
    var result: RunResult
  }

  /// Takes the state directory's lock; a refusal (exit 4 when held, 1 when unusable) otherwise.
  func acquireLock(_ plan: Plan) -> Result<FileLock, Refused> {
    do {
      let lock = try FileLock.acquire(
        at: StateDirectory(path: request.stateDirectory).lockPath, runID: runID)
      if let warning = lock.warning { say("warning: \(pasteableLockAdvice(warning))", .warning) }
      return .success(lock)
    } catch {
      say(error.description, .failure)
      if case .unavailable = error {
        // Not a lock held by someone else: the state directory itself is the problem.
        return .failure(
          Refused(
            result: finish(
              plan: plan, status: .aborted, exitCode: ExitStatus.failed.rawValue,
              advice: "make the state directory \(request.stateDirectory) writable (and give it room)")))
      }
      // The holder's progress is in its journal: a command that shows it, complete.
      nextCommand = pasteable(["history"])
      say("  its progress: \(nextCommand ?? "")", .failure)
      return .failure(
        Refused(
          result: RunResult(
            runID: runID, runbook: plan.runbook, environment: plan.environment, target: plan.target,
            dryRun: false, status: .aborted, exitCode: ExitStatus.lockHeld.rawValue, startedAt: startedAt,
            finishedAt: Date(), targetSeconds: plan.targetSeconds, steps: [], advice: nil, journalPath: nil)))
    }
  }

  /// Opens the run's journal; the reason when it cannot be.
  func openJournalError() -> String? {
    let journalPath = JournalReader.path(stateDirectory: request.stateDirectory, runID: runID)
    do {
      let secretsCopy = secrets
      journal = try JournalWriter(path: journalPath, redact: { Redaction.text($0, secrets: secretsCopy) })
      return nil
    } catch {
      return error.description
    }
  }

  /// Opens the run's journal; false (and no journal) when the state directory refuses.
  func openJournal() -> Bool { openJournalError() == nil }

  /// `level 3` or `scenario backend-down`.
  static func what(_ plan: Plan) -> String { plan.target.description }

  /// A `rollback` command line that runs verbatim from any directory.
  func pasteable(_ arguments: [String]) -> String {
    AdviceCommand.make(
      arguments, runbookPath: request.runbookPath, environment: resolver.environment.name,
      stateDirectory: request.stateDirectory)
  }

  /// The lock's advice with its bare `rollback …` commands made complete.
  func pasteableLockAdvice(_ text: String) -> String {
    var text = text.replacingOccurrences(of: "`rollback history`", with: "`\(pasteable(["history"]))`")
    if let start = text.range(of: "`rollback resume "),
      let end = text.range(of: "`", range: start.upperBound..<text.endIndex)
    {
      let id = String(text[start.upperBound..<end.lowerBound])
      text.replaceSubrange(start.lowerBound..<end.upperBound, with: "`\(pasteable(["resume", id]))`")
    }
    return text
  }

  /// `--level N` or `--scenario NAME`, and the run's `--hosts`.
  func targetArguments(_ plan: Plan) -> [String] {
    let hosts = request.hostLimit.map { ["--hosts", $0.pattern] } ?? []
    switch plan.target {
    case .level(let number): return ["--level", String(number)] + hosts
    case .scenario(let name): return ["--scenario", name] + hosts
    }
  }

  func adviceAfterFailure(_ record: StepRecord, plan: Plan) -> String {
    let done = records.filter { $0.mutates && $0.status == .succeeded }.map(\.id)
    var text = "step \(record.id) failed: \(record.error ?? "see its output")."
    if !done.isEmpty { text += " Already changed: \(done.joined(separator: ", "))." }
    nextCommand = pasteable(["resume", runID])
    // The run's own --var values go with it (a secret one is never printed; the journal keeps none).
    let variables = request.overrides.filter { !InterpolationContext.isSecretName($0.key) }
      .sorted { $0.key < $1.key }.flatMap { ["--var", "\($0.key)=\($0.value)"] }
    let fromCommand = pasteable(["execute"] + targetArguments(plan) + ["--from", record.id] + variables)
    text += " Fix the cause, then continue with: \(nextCommand ?? "") (or \(fromCommand))"
    return text
  }

  /// What to say when the journal could not be written: what changed, and that the journal is
  /// incomplete, so `resume` cannot be trusted to know what was done.
  func adviceAfterJournalFailure(_ failure: String, before step: String?) -> String {
    let done = records.filter { $0.mutates && $0.status == .succeeded }.map(\.id)
    var text = "stopped\(step.map { " before step \($0)" } ?? ""): \(failure)."
    text += done.isEmpty ? " Nothing was changed." : " Already changed: \(done.joined(separator: ", "))."
    text += " The journal \(journal?.path ?? "") is incomplete: check the system by hand before running again"
    return text
  }

  func skippedRecord(_ planned: PlannedStep, reason: String) -> StepRecord {
    StepRecord(
      id: planned.id, kind: planned.kind, name: planned.name, mutates: planned.mutates, status: .skipped,
      startedAt: nil, duration: 0, detail: reason, error: nil, output: nil, attempts: 0, flagChanges: [],
      signals: [])
  }

  func finish(plan: Plan?, status: RunStatus, exitCode: Int32, advice: String?) -> RunResult {
    var steps = records
    if let plan {
      let seen = Set(steps.map(\.id))
      for planned in plan.steps where !seen.contains(planned.id) {
        steps.append(
          StepRecord(
            id: planned.id, kind: planned.kind, name: planned.name, mutates: planned.mutates,
            status: .pending,
            startedAt: nil, duration: 0, detail: redact(planned.detail), error: nil, output: nil, attempts: 0,
            flagChanges: [], signals: []))
      }
    }
    var result = RunResult(
      runID: runID, runbook: request.runbook.name, environment: resolver.environment.name,
      target: plan?.target,
      dryRun: request.dryRun, status: status, exitCode: exitCode, startedAt: startedAt, finishedAt: Date(),
      targetSeconds: plan?.targetSeconds, steps: steps, advice: advice.map(redact), journalPath: journal?.path
    )
    result.nextCommand = nextCommand.map(redact)
    if request.kind == .drill {
      // The rollback's own time: from the level's first step to the end of its last one.
      let level = steps.filter { !$0.id.hasPrefix(DrillPlanner.prefix) && $0.startedAt != nil }
      if let first = level.first?.startedAt, let last = level.last, let lastStart = last.startedAt {
        result.rollbackDuration = lastStart.addingTimeInterval(last.duration).timeIntervalSince(first)
      }
    }
    if journal != nil {
      if status == .interrupted {
        record(event: .interrupted(at: Timestamp.iso(Date())))
      }
      record(event: RunRendering.finishedEvent(result))
    }
    return result
  }

  /// Journals an event; the first failure is kept in ``journalFailure`` and stops the run
  /// before its next step.
  func record(event: JournalEvent) {
    // After a failed write the journal may end in a torn line; nothing more is added to it.
    guard journalFailure == nil else { return }
    do {
      try journal?.append(event)
    } catch {
      say("error: \(error.description)", .failure)
      if journalFailure == nil { journalFailure = error.description }
    }
  }

  func runStartedEvent(_ plan: Plan) -> JournalEvent {
    // Every override is journalled; a secret one (by its name, or because its value holds a
    // secret the journal would mask) by name only, and `resume` asks for it again.
    var safeOverrides: [(name: String, value: String)] = []
    var secretOverrides: [String] = []
    for (name, value) in request.overrides.sorted(by: { $0.key < $1.key }) {
      if SecretName.isSecret(name) || redact(value) != value {
        secretOverrides.append(name)
      } else {
        safeOverrides.append((name: name, value: value))
      }
    }
    var start = RunStartedEvent(
      runID: runID, command: request.kind.journalValue, runbook: plan.runbook,
      runbookPath: AdviceCommand.absolute(request.runbookPath), runbookHash: request.runbookHash,
      environment: plan.environment, level: plan.target.level, scenario: plan.target.scenario,
      title: plan.title,
      dryRun: request.dryRun, targetSeconds: plan.targetSeconds, startedAt: Timestamp.iso(startedAt),
      at: Timestamp.iso(Date()), pid: Int(getpid()), host: Syscall.hostName(),
      user: ProcessInfo.processInfo.environment["USER"] ?? String(getuid()), vars: safeOverrides,
      secretVars: secretOverrides,
      steps: plan.steps.map { RunStartedEvent.PlannedStep(id: $0.id, kind: $0.kind, mutates: $0.mutates) })
    if let limit = request.hostLimit {
      start.hostLimit = limit.pattern
      let inventory = resolver.environment.inventory.hosts.map(\.name)
      start.limitedHosts = inventory.filter { limit.hosts.contains($0) }
    }
    return request.resume == nil ? .runStarted(start) : .runResumed(start)
  }
}
