import Foundation
import RollbackCore

/// A run's hosts: the shared ssh transport (one master per host), the hosts that could not be
/// reached in preflight, and the locks taken on the hosts the run changes.
struct FleetSession: Sendable {
  var transport: SSHTransport
  /// Every host the run's steps use, by name.
  var hosts: [String: RollbackCore.Host]
  /// Hosts whose master connection could not be opened, with why (they count as failed).
  var unreachable: [String: String]
  /// The locks this run holds.
  var locks: [RemoteHostLock]
  var backups: FleetBackups
  /// The flag files the preflight read, for the first edit of each.
  var cache = RemoteFileCache()

  var sshHosts: [SSHHost] { hosts.values.map { SSHHost(name: $0.name, destination: $0.ssh) } }

  /// The effects of one host.
  func effects(of host: RollbackCore.Host) -> RemoteHost {
    RemoteHost(
      transport: transport, host: SSHHost(name: host.name, destination: host.ssh), backups: backups,
      cache: cache)
  }
}

/// What a host-scoped step's copy of the executor for one host needs (all `Sendable`).
struct HostRunSeed: Sendable {
  var request: ExecutionRequest
  var emit: @Sendable (OutputLine) -> Void
  var effects: ExecutionEffects
  var resolver: Resolver
  var reader: any SignalReader
  var secrets: [String]
  var secretEnvironment: Set<String>
  var runID: String
  var startedAt: Date
  var journal: JournalWriter?
  var oncall: any OnCallEffects
  /// The live lines of the hosts running now (a terminal shows one per host).
  var board: LiveHostBoard? = nil
}

/// How a host's part of a host-scoped step ended.
struct HostPipelineResult: Sendable {
  var host: String
  var status: RollingHostResult
  var steps: [(id: String, kind: String, mutates: Bool, status: StepStatus, detail: String, error: String?)]
  var flagChanges: [FlagFileChange]
  var cancelled: Bool
  /// A status to report instead of the pipeline's (a host `--only-failed` leaves alone).
  var reported: String? = nil

  var journal: JournalHostResult {
    JournalHostResult(
      name: host,
      status: reported
        ?? (status == .succeeded ? "succeeded" : (status == .unreachable ? "unreachable" : "failed")),
      steps: steps.map { .init(id: $0.id, status: $0.status.rawValue, error: $0.error) })
  }
}

extension Executor {
  // MARK: Connections and locks

  /// Opens every host's master connection in parallel with the preflight (one remote script
  /// per host, which also takes the run's lock on each host the run changes). A host key that
  /// does not match refuses the run; an unreachable host is reported and counts as failed when
  /// its turn comes; a problem on a host refuses the run; a lock held by another run refuses
  /// it with exit 4.
  func openFleet(_ plan: Plan) async -> Result<Void, Refused> {
    let inventory = resolver.environment.inventory
    let (names, changed) = fleetHosts(of: plan)
    let hosts = names.compactMap { inventory.host(named: $0) }
    guard !hosts.isEmpty else { return .success(()) }
    guard var session = newSession() else {
      return .failure(Refused(result: finish(plan: plan, status: .aborted, exitCode: 1, advice: nil)))
    }
    let transport = session.transport
    session.hosts = Dictionary(uniqueKeysWithValues: hosts.map { ($0.name, $0) })
    fleet = session
    say("connecting to \(hosts.count) host\(hosts.count == 1 ? "" : "s"): \(names.joined(separator: " "))")
    let report = await checkHosts(
      plan, names: names, locking: request.dryRun ? [] : changed, transport: transport)
    let (failures, lockErrors) = absorb(report, locking: request.dryRun ? [] : changed, into: &session)
    var refusals = masterRefusals(names, failures, session: &session)
    fleet = session
    if refusals.isEmpty { refusals = problems(of: report) }
    if !refusals.isEmpty {
      await closeFleet()
      return .failure(Refused(result: refuse(plan, refusals)))
    }
    if !lockErrors.isEmpty { return .failure(await lockRefusal(plan, lockErrors)) }
    return .success(())
  }

  /// What a preflight report means for the session: the flag files it read are kept for the
  /// first edits, and the locks it took (on hosts in `locking`) are the run's to release. Returns
  /// the hosts it could not reach, with why, and the locks other runs hold.
  private func absorb(_ report: FleetPreflight.Report, locking: Set<String>, into session: inout FleetSession)
    -> (unreachable: [String: SSHError], lockErrors: [RemoteLockError])
  {
    var failures: [String: SSHError] = [:]
    for case .unreachable(let error) in report.problems { failures[error.host] = error }
    var lockErrors: [RemoteLockError] = []
    for host in report.hosts {
      for file in host.flags.flatMap(\.files) {
        if let read = file.file { session.cache.keep(read, host: host.host) }
      }
      switch host.lock {
      case .success?: session.locks.append(lock(on: host.host, transport: session.transport))
      case .failure(let error)?: lockErrors.append(error)
      case nil:
        // Interrupted, the script may have taken the lock before its answer was lost: the
        // release (which removes only this run's lock) runs there too.
        if Task.isCancelled && locking.contains(host.host) {
          session.locks.append(lock(on: host.host, transport: session.transport))
        }
      }
    }
    return (failures, lockErrors)
  }

  /// The problems of a preflight on the hosts it reached, which refuse the run; the drift it
  /// found is said (it does not refuse anything).
  private func problems(of report: FleetPreflight.Report) -> [PreflightProblem] {
    for (flag, drift) in report.drift.sorted(by: { $0.key < $1.key }) where drift.hasDrift {
      say("  drift: flag \(flag) differs on \(drift.driftingHosts.joined(separator: ", "))", .warning)
    }
    return report.problems.filter { !$0.isUnreachable }.map {
      PreflightProblem(text: $0.description, isMissingVariable: false)
    }
  }

  /// A session with no host yet over a new transport for the environment's `ssh` settings;
  /// nil, said, when the transport cannot be made.
  private func newSession() -> FleetSession? {
    let inventory = resolver.environment.inventory
    do {
      let transport = try SSHTransport(
        config: inventory.ssh.config.map { ($0 as NSString).expandingTildeInPath },
        options: inventory.ssh.options, forks: inventory.ssh.forks, secrets: secrets,
        processEnvironment: request.processEnvironment)
      return FleetSession(
        transport: transport, hosts: [:], unreachable: [:], locks: [],
        backups: FleetBackups(stateDirectory: request.stateDirectory, runID: runID))
    } catch {
      say("error: \(error.description)", .failure)
      return nil
    }
  }

  /// Before an escalated level runs: connects to each of its hosts the run has not reached yet
  /// (the run's first when the abandoned level had no host-scoped step) and runs the preflight
  /// on every reachable host of the level, taking the lock on each host it changes that the
  /// run does not hold yet. The problems that refuse the level; empty when it may run.
  func openFleet(forEscalation plan: Plan) async -> [String] {
    let inventory = resolver.environment.inventory
    let (names, changed) = fleetHosts(of: plan)
    guard !names.isEmpty else { return [] }
    guard var session = fleet ?? newSession() else { return ["the ssh transport could not be made"] }
    let added = names.filter { session.hosts[$0] == nil }.compactMap { inventory.host(named: $0) }
    for host in added { session.hosts[host.name] = host }
    fleet = session
    if !added.isEmpty {
      say(
        "connecting to \(added.count) more host\(added.count == 1 ? "" : "s"): \(added.map(\.name).joined(separator: " "))"
      )
    }
    let held = Set(session.locks.map(\.host.name))
    let reachable = names.filter { session.unreachable[$0] == nil }
    let locking = request.dryRun ? [] : changed.subtracting(held)
    let report = await checkHosts(plan, names: reachable, locking: locking, transport: session.transport)
    let (failures, lockErrors) = absorb(report, locking: locking, into: &session)
    let refusals = masterRefusals(reachable, failures, session: &session)
    fleet = session
    if !refusals.isEmpty { return refusals.map(\.text) }
    let problems = problems(of: report)
    if !problems.isEmpty { return problems.map(\.text) }
    return lockErrors.map(\.description)
  }

  /// This run's lock on the host named `name`.
  private func lock(on name: String, transport: SSHTransport) -> RemoteHostLock {
    let host = fleet?.hosts[name].map { SSHHost(name: $0.name, destination: $0.ssh) }
    return RemoteHostLock(
      transport: transport, host: host ?? SSHHost(name: name, destination: name), runID: runID,
      directory: resolver.environment.inventory.ssh.lockDir)
  }

  /// The hosts the plan's host steps run on, in order of first use, and those it changes.
  private func fleetHosts(of plan: Plan) -> (names: [String], changed: Set<String>) {
    var names: [String] = []
    var changed = Set<String>()
    for planned in plan.steps where planned.hostScoped {
      for name in planned.hosts where !names.contains(name) { names.append(name) }
      if planned.mutates { changed.formUnion(planned.hosts) }
    }
    return (names, changed)
  }

  /// A host key that does not match or a refused login refuses the run; any other failure to
  /// connect marks the host unreachable in `session`.
  private func masterRefusals(
    _ names: [String], _ failures: [String: SSHError], session: inout FleetSession
  ) -> [PreflightProblem] {
    var refusals: [PreflightProblem] = []
    for name in names {
      guard let error = failures[name] else { continue }
      switch error {
      case .hostKeyMismatch, .authenticationFailed:
        refusals.append(PreflightProblem(text: error.description, isMissingVariable: false))
      default:
        session.unreachable[name] = error.description
        say("  ✗ \(name) unreachable: \(error.description); it counts as a failed host", .warning)
      }
    }
    return refusals
  }

  /// The refusal of a run another run holds the lock of some of its hosts for: closes the
  /// fleet (releasing the locks this run took) and names the hosts (exit 4).
  private func lockRefusal(_ plan: Plan, _ refused: [RemoteLockError]) async -> Refused {
    for error in refused { say("error: \(error.description)", .failure) }
    await closeFleet()
    nextCommand = pasteable(["history"])
    return Refused(
      result: RunResult(
        runID: runID, runbook: plan.runbook, environment: plan.environment, target: plan.target,
        dryRun: false, status: .aborted, exitCode: 4, startedAt: startedAt,
        finishedAt: Date(), targetSeconds: plan.targetSeconds, steps: [],
        advice:
          "another run holds the lock on \(refused.map { hostOf($0) }.joined(separator: ", ")); nothing was changed",
        journalPath: nil))
  }

  /// Every problem on every host at once, before any change (``FleetPreflight``: the host
  /// reached, which opens its master connection; the run's lock taken on the hosts in
  /// `locking`; flag files readable and writable; programs found), one remote script per host,
  /// all hosts in parallel. A host that could not be reached
  /// has a single ``FleetPreflight/Problem/unreachable(_:)`` problem; flags whose value differs
  /// between hosts are in the report's drift, which does not stop the run.
  func checkHosts(_ plan: Plan, names: [String], locking: Set<String>, transport: SSHTransport) async
    -> FleetPreflight.Report
  {
    let inventory = resolver.environment.inventory
    let needs = resolver.hostNeeds(of: plan)
    let targets = names.compactMap { name -> FleetPreflight.Target? in
      guard let host = inventory.host(named: name) else { return nil }
      var target = FleetPreflight.Target(host: SSHHost(name: host.name, destination: host.ssh))
      if let need = needs.first(where: { $0.host.name == name }) { target = FleetPreflight.Target(need) }
      if locking.contains(name) { target.lock = lock(on: name, transport: transport) }
      return target
    }
    return await FleetPreflight(transport: transport, timeout: .seconds(20)).check(targets)
  }

  private func hostOf(_ error: RemoteLockError) -> String {
    switch error {
    case .held(let host, _, _), .notStale(let host, _, _, _), .notALockFile(let host, _),
      .failed(let host, _, _):
      return host
    case .transport(let error): return error.host
    }
  }

  /// Releases the run's host locks and closes every master connection; runs to the end even
  /// when the run was cancelled (Ctrl-C, SIGTERM).
  func closeFleet() async {
    guard let session = fleet else { return }
    fleet = nil
    await Task.detached {
      await withTaskGroup(of: Void.self) { group in
        for lock in session.locks { group.addTask { try? await lock.release() } }
      }
      await session.transport.shutdown(session.sshHosts)
    }.value
  }

  // MARK: Host-scoped steps

  /// The parts a copy of this executor for one host is made of.
  func hostRunSeed(board: LiveHostBoard? = nil) -> HostRunSeed {
    HostRunSeed(
      request: request, emit: emit, effects: effects, resolver: resolver, reader: reader, secrets: secrets,
      secretEnvironment: secretEnvironment, runID: runID, startedAt: startedAt, journal: journal,
      oncall: oncall, board: board)
  }

  /// Runs one host's pipeline (one step outside `rolling`; the inner steps of a rolling step)
  /// on a copy of the executor acting on that host. A failed step ends the pipeline.
  static func runPipeline(
    _ steps: [PlannedStep], on host: RollbackCore.Host, effects hostEffects: RemoteHost, seed: HostRunSeed,
    phase: DryRunPhase, skip: Set<String>, rolling: PlannedStep? = nil
  ) async -> HostPipelineResult {
    let executor = Executor(seed: seed, host: host, effects: hostEffects)
    var result = HostPipelineResult(
      host: host.name, status: .succeeded, steps: [], flagChanges: [], cancelled: false)
    let started = Date()
    defer {
      seed.board?.finish(host.name)
      if let rolling, !result.cancelled {
        let failed = result.steps.first { $0.status == .failed }
        executor.journalHostStep(
          rolling, result.status == .succeeded ? .succeeded : .failed, rolling.detail, failed?.error, [],
          started: started)
      }
    }
    for planned in steps {
      if skip.contains(planned.id) {
        result.steps.append(
          (planned.id, planned.kind, planned.mutates, .skipped, "skipped on this host", nil))
        continue
      }
      seed.board?.step(host.name, planned.id)
      guard await executor.runHostStep(planned, phase: phase, started: started, into: &result) else {
        return result
      }
    }
    return result
  }

  /// Runs one step of this copy's host pipeline, journals its end and says it; false when the
  /// pipeline ends there (the step failed, or the run was interrupted).
  func runHostStep(
    _ planned: PlannedStep, phase: DryRunPhase, started: Date, into result: inout HostPipelineResult
  ) async -> Bool {
    let outcome: AttemptResult
    do {
      outcome = try await attempt(planned, phase: phase)
    } catch {
      result.steps.append((planned.id, planned.kind, planned.mutates, .failed, planned.detail, "interrupted"))
      result.status = .failed
      result.cancelled = true
      journalHostStep(planned, .failed, planned.detail, "interrupted", [], started: started)
      return false
    }
    let detail = redact(outcome.detail)
    let error = outcome.error.map(redact)
    journalHostStep(planned, outcome.status, detail, error, outcome.flagChanges, started: started)
    result.flagChanges += outcome.flagChanges
    result.steps.append((planned.id, planned.kind, planned.mutates, outcome.status, detail, error))
    let mark = outcome.status == .failed ? "✗" : (outcome.status == .succeeded ? "✓" : "○")
    say(
      "\(mark) \(planned.id)  \(outcome.detail)\(outcome.error.map { " — error: \($0)" } ?? "")",
      outcome.status == .failed ? .failure : .detail)
    guard outcome.status != .failed else {
      result.status = .failed
      return false
    }
    return true
  }

  /// Journals the end of a step on this copy's host as soon as it is known: a run killed
  /// mid-pipeline is resumed from there, never repeating what a host finished.
  func journalHostStep(
    _ step: PlannedStep, _ status: StepStatus, _ detail: String, _ error: String?,
    _ changes: [FlagFileChange], started: Date
  ) {
    record(
      event: .stepFinished(
        StepFinishedEvent(
          id: step.id, kind: step.kind, name: step.name, status: status, mutates: step.mutates,
          startedAt: Timestamp.iso(started), durationSeconds: Date().timeIntervalSince(started),
          detail: detail, error: error, attempts: 1, at: Timestamp.iso(Date()),
          flagChanges: changes.map {
            JournalFlagChange(
              file: $0.file, key: $0.key, before: $0.before, after: $0.after, changed: $0.changed,
              backup: $0.backup)
          }, signals: [], outputTail: nil, host: hostName)))
  }

  /// A pipeline result for a host that could not be reached.
  func unreachableResult(_ host: String, _ steps: [PlannedStep], why: String) -> HostPipelineResult {
    say("  ✗ [\(host)] unreachable: \(why)", .failure)
    let first = steps.first
    return HostPipelineResult(
      host: host, status: .unreachable,
      steps: first.map { [($0.id, $0.kind, $0.mutates, .failed, $0.detail, "unreachable: \(why)")] } ?? [],
      flagChanges: [], cancelled: false)
  }

  /// Journals one host's part of a step: an event per step of its pipeline and, for a rolling
  /// step, one for the whole pipeline, each with the host.
  func journalHost(_ result: HostPipelineResult, of planned: PlannedStep, started: Date) {
    var events = result.steps
    if planned.kind == "rolling" {
      let failed = result.steps.first { $0.status == .failed }
      events.append(
        (
          planned.id, planned.kind, planned.mutates, result.status == .succeeded ? .succeeded : .failed,
          result.status == .unreachable ? "unreachable" : planned.detail, failed?.error
        ))
    }
    for step in events {
      record(
        event: .stepFinished(
          StepFinishedEvent(
            id: step.id, kind: step.kind, name: nil, status: step.status, mutates: step.mutates,
            startedAt: Timestamp.iso(started), durationSeconds: Date().timeIntervalSince(started),
            detail: step.detail, error: step.error, attempts: 1, at: Timestamp.iso(Date()),
            flagChanges: [], signals: [], outputTail: nil, host: result.host)))
    }
  }

  /// The hosts of a step the interrupted run already finished (they are not run again).
  func hostsDone(_ planned: PlannedStep) -> Set<String> {
    // `--only-failed`: every host but the failed ones is left as it is.
    if let only = request.resume?.onlyFailed, only.step == planned.id {
      return Set(planned.hosts).subtracting(only.hosts)
    }
    return request.resume?.hostsFinished[planned.id] ?? []
  }

  /// A step outside `rolling` placed on hosts: on every host at once (at most `forks`); it fails
  /// if any host fails.
  func attemptOnHosts(_ planned: PlannedStep, phase: DryRunPhase) async throws -> AttemptResult {
    if let skipped = notOnSelectedHosts(planned) { return skipped }
    guard let session = fleet else {
      return .fail(planned.detail, "no ssh connection to the step's hosts was opened")
    }
    let done = hostsDone(planned)
    let hosts = planned.hosts.compactMap { session.hosts[$0] }.filter { !done.contains($0.name) }
    sayAlreadyDone(done)
    let board = LiveHostBoard()
    let seed = hostRunSeed(board: board)
    let ticker = board.ticker(sayer(.tick))
    defer { ticker.cancel() }
    let started = Date()
    var results: [String: HostPipelineResult] = [:]
    var pending = hosts[...]
    let forks = max(1, resolver.environment.inventory.ssh.forks)
    await withTaskGroup(of: HostPipelineResult.self) { group in
      var running = 0
      func startNext() -> Bool {
        guard let host = pending.popFirst() else { return false }
        if let why = session.unreachable[host.name] {
          let result = unreachableResult(host.name, [planned], why: why)
          results[host.name] = result
          journalHost(result, of: planned, started: started)
          return true
        }
        let effects = session.effects(of: host)
        recordHostStart(planned, on: host.name)
        group.addTask {
          await Executor.runPipeline(
            [planned], on: host, effects: effects, seed: seed, phase: phase, skip: [])
        }
        running += 1
        return true
      }
      while running < forks, startNext() {}
      while let result = await group.next() {
        running -= 1
        results[result.host] = result
        while running < forks, startNext() {}
      }
    }
    if Task.isCancelled || results.values.contains(where: \.cancelled) { throw CancellationError() }
    let ordered = hosts.compactMap { results[$0.name] }
    return hostsAttempt(planned, ordered, phase: phase)
  }

  /// A step's result from its hosts' results (in the step's host order): it fails if any host failed.
  private func hostsAttempt(_ planned: PlannedStep, _ ordered: [HostPipelineResult], phase: DryRunPhase)
    -> AttemptResult
  {
    let failed = ordered.filter { $0.status != .succeeded }.map(\.host)
    let marks = ordered.map { $0.status == .succeeded ? "✓" : "✗" }.joined()
    let names = ordered.map(\.host).joined(separator: " ")
    let detailText = "\(planned.detail) on \(names) \(marks)"
    var attempt: AttemptResult
    if failed.isEmpty {
      attempt = AttemptResult(status: phase == .wouldRun ? .wouldRun : .succeeded, detail: detailText)
    } else {
      let errors = ordered.filter { $0.status != .succeeded }.map { result in
        "\(result.host): \(result.steps.last?.error ?? "failed")"
      }
      attempt = .fail(
        detailText, "failed on \(failed.joined(separator: ", ")) (\(errors.joined(separator: "; ")))")
    }
    // Each host's flag changes are journalled with the host; the step's own record names no
    // remote file as if it were on this machine (`restore` must never write them here).
    attempt.hosts = ordered.map(\.journal)
    return attempt
  }

  /// A `rolling` step: one pipeline per host, batch by batch, under ``RollingScheduler``.
  func runRolling(_ planned: PlannedStep, _ spec: RollingSpec, phase: DryRunPhase) async throws
    -> AttemptResult
  {
    if let skipped = notOnSelectedHosts(planned) { return skipped }
    guard let session = fleet else {
      return .fail(planned.detail, "no ssh connection to the step's hosts was opened")
    }
    let done = hostsDone(planned)
    let order = spec.order == .shuffle ? planned.hosts.shuffled() : planned.hosts
    sayAlreadyDone(done)
    let board = LiveHostBoard()
    let seed = hostRunSeed(board: board)
    let context = RollingHostContext(
      planned: planned, session: session, done: done, phase: phase, seed: seed, started: Date(),
      onceIDs: zip(spec.steps, planned.pipeline).filter { $0.0.once }.map(\.1.id))
    var run = RollingRun(scheduler: rollingScheduler(spec, hosts: order))
    let ticker = board.ticker(sayer(.tick))
    await withTaskGroup(of: HostPipelineResult.self) { group in
      await driveRolling(spec, context, &run, group: &group)
    }
    ticker.cancel()
    let end = run.outcome ?? RollingOutcome(reason: .interrupted, statuses: run.scheduler.statuses)
    if end.reason == .interrupted { throw CancellationError() }
    return rollingAttempt(
      end, results: run.results, hostCount: order.count, gateError: run.gateError, phase: phase)
  }

  /// Runs the scheduler's actions and the hosts' pipelines until the rolling step ends (or
  /// nothing is left to wait for).
  private func driveRolling(
    _ spec: RollingSpec, _ context: RollingHostContext, _ run: inout RollingRun,
    group: inout TaskGroup<HostPipelineResult>
  ) async {
    var actions = run.scheduler.begin()
    var running = 0
    while run.outcome == nil {
      while !actions.isEmpty {
        actions += await perform(actions.removeFirst(), spec, context, &run, group: &group, running: &running)
      }
      if run.outcome != nil { break }
      guard running > 0, let result = await group.next() else { break }
      running -= 1
      run.results[result.host] = result
      if result.cancelled || Task.isCancelled { actions += run.scheduler.interrupt() }
      actions += run.scheduler.hostFinished(result.host, result.status)
    }
    if run.lastBatch > 0 { sayBatch(run.lastBatch, &run) }
  }

  /// One scheduler action: start a host (saying the batch before it once it is over), check the
  /// gate after a batch, or end; returns the actions that follow.
  private func perform(
    _ action: RollingAction, _ spec: RollingSpec, _ context: RollingHostContext, _ run: inout RollingRun,
    group: inout TaskGroup<HostPipelineResult>, running: inout Int
  ) async -> [RollingAction] {
    switch action {
    case .start(let name, let batch):
      if batch > run.lastBatch {
        if run.lastBatch > 0 { sayBatch(run.lastBatch, &run) }
        run.lastBatch = batch
      }
      return startRollingHost(
        name, context, scheduler: &run.scheduler, results: &run.results, group: &group, running: &running)
    case .checkGate(let batch):
      sayBatch(batch, &run)
      guard let check = await checkRollingGate(spec, after: batch, phase: context.phase) else {
        return run.scheduler.interrupt()
      }
      if let failure = check.failure { run.gateError = failure }
      return run.scheduler.gateChecked(holds: check.holds)
    case .finish(let end):
      run.outcome = end
      return []
    }
  }

  /// Says a batch's line once: its hosts and how each ended so far.
  private func sayBatch(_ batch: Int, _ run: inout RollingRun) {
    let batches = run.scheduler.batches
    guard batch >= 1, batch <= batches.count, run.batchesSaid.insert(batch).inserted else { return }
    say(batchLine(batch, of: batches, results: run.results), .heading)
  }

  /// A skip for a step none of whose hosts `--hosts` selected; nil when it has hosts to run on.
  private func notOnSelectedHosts(_ planned: PlannedStep) -> AttemptResult? {
    guard planned.hosts.isEmpty, let limit = request.hostLimit else { return nil }
    return AttemptResult(
      status: .skipped, detail: "\(planned.detail) — none of its hosts is in --hosts \(limit.pattern)")
  }

  /// Journals that `planned` started on `host`.
  private func recordHostStart(_ planned: PlannedStep, on host: String) {
    record(
      event: .stepStarted(
        StepStartedEvent(
          step: planned.id, kind: planned.kind, mutates: planned.mutates, at: Timestamp.iso(Date()),
          host: host)))
  }

  /// Says which of a step's hosts the interrupted run already finished, if any.
  private func sayAlreadyDone(_ done: Set<String>) {
    if !done.isEmpty {
      say("  – already done on \(done.sorted().joined(separator: " ")) in run \(request.resume?.runID ?? "")")
    }
  }

  /// The scheduler of a `rolling` step over `hosts`, in the order given.
  private func rollingScheduler(_ spec: RollingSpec, hosts: [String]) -> RollingScheduler {
    RollingScheduler(
      hosts: hosts, batches: spec.batches.map(\.value), maxFail: spec.maxFail.value,
      forks: resolver.environment.inventory.ssh.forks, checksAfterBatch: spec.pause > 0 || spec.gate != nil)
  }

  /// `  batch 2/3: web-3 web-4 ✓·`: a batch's hosts and how each one ended so far.
  private func batchLine(_ batch: Int, of batches: [[String]], results: [String: HostPipelineResult])
    -> String
  {
    let hosts = batches[batch - 1]
    let marks = hosts.map { name -> String in
      guard let result = results[name] else { return "·" }
      return result.status == .succeeded ? "✓" : "✗"
    }.joined()
    return "  batch \(batch)/\(batches.count): \(hosts.joined(separator: " ")) \(marks)"
  }

  /// Starts `name`'s pipeline in `group` (counting it in `running`), or settles the host at once
  /// (finished by the interrupted run, or unreachable); returns the scheduler's next actions.
  private func startRollingHost(
    _ name: String, _ context: RollingHostContext, scheduler: inout RollingScheduler,
    results: inout [String: HostPipelineResult], group: inout TaskGroup<HostPipelineResult>,
    running: inout Int
  ) -> [RollingAction] {
    let planned = context.planned
    guard let host = context.session.hosts[name] else { return [] }
    // Finished by the interrupted run: it keeps its place in its batch, and is not run again.
    if context.done.contains(name) {
      let leftAlone = request.resume?.onlyFailed?.step == planned.id
      results[name] = HostPipelineResult(
        host: name, status: .succeeded, steps: [], flagChanges: [], cancelled: false,
        reported: leftAlone ? "not re-run" : nil)
      return scheduler.hostFinished(name, .succeeded)
    }
    if let why = context.session.unreachable[name] {
      let result = unreachableResult(name, planned.pipeline, why: why)
      results[name] = result
      journalHost(result, of: planned, started: context.started)
      return scheduler.hostFinished(name, .unreachable)
    }
    var skip = Set<String>()
    for id in context.onceIDs where !scheduler.claimOnce(id, host: name) { skip.insert(id) }
    // A resumed run does not repeat what this host already finished.
    for inner in planned.pipeline where hostsDone(inner).contains(name) { skip.insert(inner.id) }
    let effects = context.session.effects(of: host)
    let pipeline = planned.pipeline
    let seed = context.seed
    let phase = context.phase
    recordHostStart(planned, on: name)
    group.addTask {
      await Executor.runPipeline(
        pipeline, on: host, effects: effects, seed: seed, phase: phase, skip: skip, rolling: planned)
    }
    running += 1
    return []
  }

  /// The pause and the gate after `batch`: whether the gate holds (nil: cannot tell) and, when it
  /// does not, why; nil when the pause was interrupted.
  private func checkRollingGate(_ spec: RollingSpec, after batch: Int, phase: DryRunPhase) async
    -> (holds: Bool?, failure: String?)?
  {
    if spec.pause > 0 {
      say("  pausing \(Quantity.format(seconds: spec.pause)) after batch \(batch)")
      do { try await clock.sleep(for: .milliseconds(Int(spec.pause * 1000))) } catch { return nil }
    }
    guard let gate = spec.gate, phase != .wouldRun else { return (true, nil) }
    let (value, readings) = await evaluate(gate)
    say("  gate after batch \(batch): \(gate.text) → \(describe(value, readings))")
    if value == true { return (value, nil) }
    let failure =
      value == nil
      ? "cannot tell whether \(gate.text) after batch \(batch) (\(readingsText(readings))); unknown is never healthy"
      : "gate \(gate.text) does not hold after batch \(batch) (\(readingsText(readings)))"
    return (value, failure)
  }

  /// The rolling step's result once it ended (not interrupted), with every host's journal record.
  private func rollingAttempt(
    _ end: RollingOutcome, results: [String: HostPipelineResult], hostCount: Int, gateError: String?,
    phase: DryRunPhase
  ) -> AttemptResult {
    var hostResults: [JournalHostResult] = []
    for (name, status) in end.statuses {
      if let result = results[name] {
        hostResults.append(result.journal)
      } else {
        hostResults.append(JournalHostResult(name: name, status: status.rawValue, steps: []))
      }
    }
    let succeeded = end.succeededHosts.count
    let detailText = "rolling on \(hostCount) host\(hostCount == 1 ? "" : "s"): \(succeeded) done"
    var attempt: AttemptResult
    switch end.reason {
    case .completed:
      attempt = AttemptResult(status: phase == .wouldRun ? .wouldRun : .succeeded, detail: detailText)
    case .failureThresholdExceeded(let batch, let failed, let allowed):
      attempt = .fail(
        detailText,
        "batch \(batch): \(failed) host\(failed == 1 ? "" : "s") failed, more than max_fail \(allowed)"
          + hostLists(end))
    case .gateFailed:
      attempt = .fail(detailText, (gateError ?? "the gate did not hold") + hostLists(end))
    case .interrupted:
      attempt = .fail(detailText, "interrupted")
    }
    attempt.hosts = hostResults
    return attempt
  }

  /// `; failed: web-2; untouched: web-3 web-4`.
  func hostLists(_ outcome: RollingOutcome) -> String {
    var text = ""
    if !outcome.failedHosts.isEmpty { text += "; failed: \(outcome.failedHosts.joined(separator: " "))" }
    if !outcome.untouchedHosts.isEmpty {
      text += "; untouched: \(outcome.untouchedHosts.joined(separator: " "))"
    }
    return text
  }
}

/// Where a `rolling` step stands while it runs.
private struct RollingRun {
  var scheduler: RollingScheduler
  var results: [String: HostPipelineResult] = [:]
  var outcome: RollingOutcome?
  var gateError: String?
  var batchesSaid = Set<Int>()
  var lastBatch = 0
}

/// What every host's pipeline in one `rolling` step shares.
private struct RollingHostContext {
  let planned: PlannedStep
  let session: FleetSession
  let done: Set<String>
  let phase: DryRunPhase
  let seed: HostRunSeed
  let started: Date
  let onceIDs: [String]
}
