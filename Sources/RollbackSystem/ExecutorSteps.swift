import Foundation
import RollbackCore

/// What running one step produced.
struct StepOutcome {
  var record: StepRecord
  var interrupted = false
  var declinedExit: Int32?
}

/// The result of one attempt at a step.
struct AttemptResult {
  var status: StepStatus
  var detail: String
  var error: String?
  var output: String?
  var flagChanges: [FlagFileChange] = []
  var signals: [SignalReading] = []
  var declined: Int32?

  static func ok(_ detail: String) -> AttemptResult { AttemptResult(status: .succeeded, detail: detail) }
  static func fail(_ detail: String, _ error: String) -> AttemptResult {
    AttemptResult(status: .failed, detail: detail, error: error)
  }
}

extension Executor {
  func runStep(_ planned: PlannedStep, index: Int, of total: Int) async -> StepOutcome {
    let started = Date()
    let clockStart = clock.now
    let label = "[\(index + 1)/\(total)] \(planned.id)"
    func record(_ result: AttemptResult, attempts: Int) -> StepRecord {
      StepRecord(
        id: planned.id, kind: planned.kind, name: planned.name, mutates: planned.mutates,
        status: result.status,
        startedAt: started, duration: seconds(clock.now - clockStart), detail: redact(result.detail),
        error: result.error.map(redact), output: result.output.map(redact), attempts: attempts,
        flagChanges: result.flagChanges, signals: result.signals)
    }

    // Include gates are decided once, where their include starts; then the step's own `when`.
    for gate in planned.gates {
      if let decided = gateDecisions[gate.id] {
        if !decided {
          return StepOutcome(
            record: record(
              .init(
                status: .skipped, detail: "include \(gate.id) skipped: \(gate.condition.text) does not hold"),
              attempts: 0))
        }
        continue
      }
      let (holds, readings) = await evaluate(gate.condition)
      let runIt = holds ?? true
      gateDecisions[gate.id] = runIt
      say("  \(gate.id): when \(gate.condition.text) → \(describe(holds, readings))")
      if !runIt {
        return StepOutcome(
          record: record(
            .init(
              status: .skipped, detail: "include \(gate.id) skipped: \(gate.condition.text) does not hold"),
            attempts: 0))
      }
    }
    if let condition = planned.condition {
      let (holds, readings) = await evaluate(condition)
      if holds == false {
        say("  – \(label) skipped: \(condition.text) does not hold (\(readingsText(readings)))")
        var result = AttemptResult(status: .skipped, detail: "skipped: \(condition.text) does not hold")
        result.signals = readings
        return StepOutcome(record: record(result, attempts: 0))
      }
      if holds == nil {
        say(
          "  ! \(label): cannot tell whether \(condition.text) (\(readingsText(readings))); running it — unknown is never healthy"
        )
      }
    }

    if let resume = request.resume, resume.unfinished.contains(planned.id), !planned.step.isIdempotent {
      let question =
        "step \(planned.id) started but did not finish in run \(resume.runID) and is not safe to repeat blindly. Run it again?"
      let answer: Bool? = request.assumeYes ? true : await confirmer.ask(question)
      if answer != true {
        let error =
          answer == nil
          ? "step \(planned.id) needs a decision before it is repeated; rerun on a terminal or with --yes"
          : "declined to repeat step \(planned.id)"
        say("  ✗ \(error)", .failure)
        var outcome = StepOutcome(record: record(.fail(planned.detail, error), attempts: 0))
        outcome.declinedExit = 5
        return outcome
      }
    }

    let phase = dryRunPhase(planned)
    if phase == .live || !request.dryRun {
      self.record(
        event: .stepStarted(
          StepStartedEvent(
            step: planned.id, kind: planned.kind, mutates: planned.mutates, at: Timestamp.iso(started))))
      // A step whose start could not be journalled does not run: resume could not know about it.
      if journalFailure != nil {
        return StepOutcome(
          record: record(.fail(planned.detail, "not started: the journal could not be written"), attempts: 0))
      }
    }
    say("\(label) \(planned.name.map { "— \($0)" } ?? "(\(planned.kind))")", .heading)
    if let note = planned.note { say("    note: \(note)", .verbose) }
    say("    \(planned.detail)", .verbose)

    var attempts = 0
    var result = AttemptResult(status: .failed, detail: planned.detail)
    let maxAttempts = (request.dryRun && phase != .live) ? 1 : planned.step.retries + 1
    while attempts < maxAttempts {
      attempts += 1
      do {
        result = try await attempt(planned, phase: phase)
      } catch {
        let interrupted = record(.fail(planned.detail, "interrupted"), attempts: attempts)
        say("  ✗ \(planned.id) interrupted", .failure)
        self.record(event: finishedEvent(interrupted))
        return StepOutcome(record: interrupted, interrupted: true)
      }
      if result.status != .failed || result.declined != nil { break }
      if attempts < maxAttempts {
        say(
          "  ! \(planned.id) failed (\(result.error ?? "")); retry \(attempts) of \(planned.step.retries) in \(Quantity.format(seconds: planned.step.retryDelay))"
        )
        do { try await Task.sleep(for: .milliseconds(Int(planned.step.retryDelay * 1000))) } catch {
          let interrupted = record(.fail(planned.detail, "interrupted"), attempts: attempts)
          self.record(event: finishedEvent(interrupted))
          return StepOutcome(record: interrupted, interrupted: true)
        }
      }
    }
    if planned.mutates, result.status == .succeeded || result.status == .wouldRun { sawMutation = true }
    let finished = record(result, attempts: attempts)
    self.record(event: finishedEvent(finished))
    let mark: String
    switch finished.status {
    case .succeeded: mark = "✓"
    case .failed: mark = "✗"
    case .skipped: mark = "–"
    case .wouldRun: mark = "○ would"
    case .sampled: mark = "◌ sampled"
    case .pending: mark = " "
    }
    var line = "  \(mark) \(planned.id)  \(RunRendering.duration(finished.duration))  \(finished.detail)"
    if let error = finished.error { line += "\n    error: \(error)" }
    let kind: OutputKind
    switch finished.status {
    case .succeeded, .skipped: kind = .success
    case .failed: kind = .failure
    default: kind = .detail
    }
    say(line, kind)
    var outcome = StepOutcome(record: finished)
    outcome.declinedExit = result.declined
    return outcome
  }

  func finishedEvent(_ record: StepRecord) -> JournalEvent {
    .stepFinished(RunRendering.stepEvent(record, at: Timestamp.iso(Date())))
  }

  enum DryRunPhase { case live, wouldRun, sampled }

  /// In a dry run: reads before the first mutation run for real, mutations are described, later reads sampled.
  func dryRunPhase(_ planned: PlannedStep) -> DryRunPhase {
    guard request.dryRun else { return .live }
    if planned.mutates { return .wouldRun }
    return sawMutation ? .sampled : .live
  }

  // MARK: Conditions and signals

  func signals(named names: [String]) -> [Signal] {
    var seen = Set<String>()
    return names.compactMap { name in
      guard seen.insert(name).inserted else { return nil }
      return request.runbook.signal(named: name)
    }
  }

  func read(_ names: [String]) async -> [SignalReading] {
    let wanted = signals(named: names)
    let readings = await reader.read(wanted)
    return request.manual.apply(to: readings, signals: wanted)
  }

  func evaluate(_ condition: Condition) async -> (Bool?, [SignalReading]) {
    let readings = await read(condition.comparisons.map(\.signal))
    let values = Dictionary(
      readings.compactMap { r in r.comparableValue.map { (r.name, $0) } }, uniquingKeysWith: { a, _ in a })
    return (condition.evaluate { values[$0] }, readings)
  }

  func readingsText(_ readings: [SignalReading]) -> String {
    readings.map { "\($0.name) \($0.formatted)" }.joined(separator: ", ")
  }

  func describe(_ holds: Bool?, _ readings: [SignalReading]) -> String {
    let verdict: String
    switch holds {
    case .some(true): verdict = "holds"
    case .some(false): verdict = "does not hold"
    case .none: verdict = "unknown (running it: unknown is never healthy)"
    }
    return "\(verdict) (\(readingsText(readings)))"
  }

  // MARK: Attempts

  func attempt(_ planned: PlannedStep, phase: DryRunPhase) async throws -> AttemptResult {
    try Task.checkCancellation()
    let step = planned.step
    switch step.kind {
    case .check(let names):
      let readings = await read(names.map(\.value))
      for reading in readings {
        say("    \(reading.name): \(reading.formatted)\(reading.setByHand ? " (set by hand)" : "")")
      }
      var result = AttemptResult.ok(readingsText(readings))
      result.signals = readings
      if phase == .sampled { result.status = .sampled }
      return result
    case .assert(let condition):
      let (holds, readings) = await evaluate(condition)
      var result: AttemptResult
      switch holds {
      case .some(true): result = .ok("\(condition.text) holds (\(readingsText(readings)))")
      case .some(false):
        result = .fail(condition.text, "\(condition.text) does not hold (\(readingsText(readings)))")
      case .none:
        result = .fail(condition.text, "cannot tell whether \(condition.text): \(readingsText(readings))")
      }
      result.signals = readings
      if phase == .sampled {
        result = AttemptResult(
          status: .sampled, detail: "would require \(condition.text); now \(describe(holds, readings))")
        result.signals = readings
      }
      return result
    case .wait(let condition, let within, let interval, let consecutive):
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
        condition, within: min(within, step.timeout ?? within), interval: interval, consecutive: consecutive,
        id: planned.id)
    case .flag(let name, let change):
      return try await changeFlag(name.value, change, dryRun: phase == .wouldRun)
    case .restart(let service, let rebuild):
      if phase == .wouldRun {
        return AttemptResult(status: .wouldRun, detail: "would restart " + planned.detail)
      }
      return try await restart(service.value, rebuild: rebuild, id: planned.id, stepTimeout: step.timeout)
    case .run(let command):
      let resolved = resolveCommand(command)
      if phase == .wouldRun {
        return AttemptResult(status: .wouldRun, detail: "would run: \(resolved.display)")
      }
      return try await runCommand(resolved, timeout: step.timeout ?? 300, id: planned.id)
    case .http(let spec):
      return try await http(spec, phase: phase, timeout: step.timeout ?? 30)
    case .sql(let query, let mutates):
      var bag = DiagnosticBag()
      let text = interpolationContext().resolveSQL(query, into: &bag)
      if phase == .wouldRun {
        return AttemptResult(status: .wouldRun, detail: "would run SQL: \(text.display)")
      }
      if phase == .sampled, !mutates {
        return AttemptResult(status: .sampled, detail: "would query: \(text.display)")
      }
      if let problem = bag.errors.first { return .fail(text.display, problem.message) }
      // A read, and anything a dry run runs, may not write: a mislabelled statement fails.
      return try await sql(
        text, readOnly: !mutates || request.dryRun,
        timeout: step.timeout ?? resolver.environment.postgres?.timeout ?? 5, id: planned.id)
    case .notify(let spec):
      let message = resolve(spec.message)
      let channel = spec.channel ?? request.runbook.notify.slackChannel
      if phase == .wouldRun {
        return AttemptResult(
          status: .wouldRun, detail: "would notify\(channel.map { " \($0)" } ?? ""): \(message.display)")
      }
      return await notify(message, channel: channel)
    case .confirm(let question):
      let text = resolve(question).display
      if request.dryRun { return AttemptResult(status: .sampled, detail: "would ask: \(text)") }
      if request.assumeYes { return .ok("\(text) — yes (--yes)") }
      let answer = await confirmer.ask(text)
      switch answer {
      case .some(true): return .ok("\(text) — yes")
      case .some(false):
        var result = AttemptResult.fail(text, "declined: \(text)")
        result.declined = 5
        return result
      case .none:
        var result = AttemptResult.fail(
          text,
          "confirm gate '\(planned.id)' needs an answer and there is no terminal; rerun with --yes to answer yes"
        )
        result.declined = 5
        return result
      }
    case .include:
      return .ok("include")
    case .rolling:
      // Refused before the run (Plan.fleetRefusal); kept as a failure should it ever get here.
      return .fail("rolling", "fleet execution is not available yet")
    }
  }

  // MARK: Wait

  func waitFor(_ condition: Condition, within: Double, interval: Double, consecutive: Int, id: String)
    async throws
    -> AttemptResult
  {
    let start = clock.now
    var streak = 0
    var last: [SignalReading] = []
    var samples = 0
    while true {
      let (holds, readings) = await evaluate(condition)
      samples += 1
      last = readings
      streak = holds == true ? streak + 1 : 0
      let elapsed = seconds(clock.now - start)
      say(
        "    \(id): \(readingsText(readings)) — \(condition.text) \(holds == true ? "holds" : (holds == false ? "not yet" : "unknown")) (\(streak)/\(consecutive)), \(Quantity.format(seconds: elapsed)) of \(Quantity.format(seconds: within))",
        .progress
      )
      if streak >= consecutive {
        var result = AttemptResult.ok(
          "\(condition.text) held \(consecutive)× after \(Quantity.format(seconds: elapsed)) (\(readingsText(readings)))"
        )
        result.signals = readings
        return result
      }
      if elapsed + interval > within { break }
      // Between samples, a terminal shows the time running against the budget and the last value.
      let nextSample = clock.now + .milliseconds(Int(interval * 1000))
      while clock.now < nextSample {
        let left = nextSample - clock.now
        try await Task.sleep(for: min(left, .seconds(1)))
        let now = seconds(clock.now - start)
        say(
          "    \(id): \(Quantity.format(seconds: now)) of \(Quantity.format(seconds: within)) — last \(readingsText(readings)), want \(condition.text)",
          .tick)
      }
    }
    var result = AttemptResult.fail(
      "wait for \(condition.text)",
      "\(condition.text) did not hold within \(Quantity.format(seconds: within)) (\(samples) samples); last: \(readingsText(last))"
    )
    result.signals = last
    return result
  }
}
