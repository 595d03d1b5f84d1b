import Foundation
import RollbackCore

/// Runs a `restart` step: the service's rebuild (when asked) and restart commands on the host,
/// then its health URL polled until it answers, then (after this run changed one of its flags)
/// the proof that the new process took the change.
struct RestartRunner {
  /// Runs the service's commands on the host.
  var commands: CommandRunner
  /// Sends the health polls.
  var http: @Sendable (HTTPRequest) async throws(HTTPError) -> HTTPResponse
  /// Sends a health poll from the host itself (`health: {via: host}`): `curl` there over ssh;
  /// nil on the control machine, where such a check is sent by ``http``.
  var fromHost: (@Sendable (HTTPRequest) async throws(HTTPError) -> HTTPResponse)? = nil
  /// Measures the health budget and sleeps between polls.
  var clock: any ExecutionClock
  /// Resolves a template with the run's variables and facts.
  var resolve: (Template) -> ResolvedText
  /// Resolves a command with the run's variables and facts.
  var resolveCommand: (CommandSpec) -> ResolvedCommand
  /// Says a line of the given kind.
  var say: (String, OutputKind) -> Void
  /// Says the level's live budget line.
  var sayBudget: () -> Void

  /// Restarts `name` (its `service` as this environment has it, nil when unknown) for step
  /// `id`, within the step's timeout; `prover` when a flag of the service changed in this run.
  func run(
    _ name: String, service: Service?, rebuild: Bool, prover: PickupProver?, id: String, stepTimeout: Double?
  ) async throws -> AttemptResult {
    guard let service else { return .fail("restart \(name)", "unknown service \(name)") }
    // A restart after this run changed the service's flag must prove the new process took it:
    // its pid is read before the restart to compare with the one after.
    let pidBefore = try await prover?.pidNow()
    let (parts, output): ([String], String)
    switch try await runCommands(service, named: name, rebuild: rebuild, id: id) {
    case .failure(let failed): return failed.result
    case .success(let ran): (parts, output) = ran
    }
    var result: AttemptResult
    if let health = service.health {
      result = try await pollHealth(
        health, service: name, parts: parts, output: output, id: id, stepTimeout: stepTimeout)
    } else {
      result = AttemptResult.ok("\(name) " + parts.joined(separator: ", "))
      result.output = output
    }
    guard result.status == .succeeded, let prover else { return result }
    let (proved, text) = try await prover.prove(pidBefore: pidBefore, within: min(10, stepTimeout ?? 10))
    say("    \(text)", proved ? .detail : .failure)
    if proved {
      result.detail += "; " + text
    } else {
      result.status = .failed
      result.error = text
    }
    return result
  }

  /// A failed rebuild or restart command, as the step's result.
  struct CommandFailed: Error {
    var result: AttemptResult
  }

  /// Rebuilds first when asked, then restarts; either failing stops the step. What was done
  /// (`rebuilt`, `restarted`) and the commands' output.
  func runCommands(_ service: Service, named name: String, rebuild: Bool, id: String) async throws
    -> Result<(parts: [String], output: String), CommandFailed>
  {
    var parts: [String] = []
    var output = ""
    let commands: [(label: String, done: String, command: CommandSpec?)] = [
      ("rebuild", "rebuilt", rebuild ? service.rebuild : nil), ("restart", "restarted", service.restart),
    ]
    for (label, done, command) in commands {
      guard let command else { continue }
      let resolved = resolveCommand(command)
      say("    \(label): \(resolved.display)", .detail)
      let result = try await self.commands.run(resolved, timeout: service.timeout, id: id)
      output += result.output ?? ""
      guard result.status == .succeeded else {
        var failed = AttemptResult.fail(
          "\(label) \(name)", "\(label) command failed: \(result.error ?? "")")
        failed.output = output
        return .failure(CommandFailed(result: failed))
      }
      parts.append(done)
    }
    return .success((parts, output))
  }

  /// A poll's reason as a tick; a plain line only when the reason changed or a second passed.
  func sayWaiting(
    _ line: String, reason: String, elapsed: Double, within: Double,
    lastSaid: inout (reason: String, at: Double)?
  ) {
    let line = line + ", \(Quantity.format(seconds: elapsed)) of \(Quantity.format(seconds: within))"
    if let said = lastSaid, said.reason == reason, elapsed - said.at < 1 {
      say(line, .tick)
    } else {
      lastSaid = (reason, elapsed)
      say(line, .progress)
    }
    sayBudget()
  }

  /// The restart's result once its service answered healthy: what was done, and the output.
  func healthy(_ name: String, _ parts: [String], _ output: String) -> AttemptResult {
    var result = AttemptResult.ok("\(name) " + parts.joined(separator: ", "))
    result.output = output
    return result
  }

  /// ` from the host` when the check is asked from the host itself, else nothing.
  func checkedFrom(_ health: HealthCheck) -> String {
    health.viaHost && fromHost != nil ? " from the host" : ""
  }

  /// Polls a restarted service's health URL until it answers as expected, within its budget.
  func pollHealth(
    _ health: HealthCheck, service name: String, parts: [String], output: String, id: String,
    stepTimeout: Double?
  ) async throws -> AttemptResult {
    let url = resolve(health.url)
    let expectBody = health.expectBody.map { resolve($0).value }
    let start = clock.now
    var last = "no answer yet"
    var polls = 0
    let within = min(health.within, stepTimeout ?? health.within)
    // A restarted service is usually up within a fraction of a second: poll every 10 ms for
    // the first two seconds (a loopback request costs well under a millisecond), then back
    // off to the configured interval. Every poll's reason is a tick; a plain line is said
    // only when the reason changes or a second has passed, so logs stay short.
    let quickPolling = 2.0
    var pause = min(0.01, health.interval)
    var lastSaid: (reason: String, at: Double)?
    func waiting(_ reason: String) {
      let line = "    \(id): waiting for \(name) to be healthy — \(reason)"
      sayWaiting(
        line, reason: reason, elapsed: (clock.now - start).doubleSeconds, within: within, lastSaid: &lastSaid)
    }
    while true {
      polls += 1
      let request = HTTPRequest(
        method: "GET", url: url.value, timeout: .milliseconds(Int(min(5, max(1, health.interval)) * 1000)))
      do {
        let response = try await (health.viaHost ? fromHost ?? http : http)(request)
        let statusOK = health.expectStatus.contains(response.status)
        let bodyOK = expectBody.map { response.bodyText.contains($0) } ?? true
        if statusOK, bodyOK {
          let elapsed = Quantity.format(seconds: (clock.now - start).doubleSeconds)
          return healthy(
            name, parts + ["healthy after \(elapsed) (HTTP \(response.status)\(checkedFrom(health)))"], output
          )
        }
        last = "HTTP \(response.status)" + (statusOK ? " without \"\(expectBody ?? "")\" in the body" : "")
        waiting(last)
      } catch {
        if case .cancelled = error { throw CancellationError() }
        last = error.description
        waiting(last)
      }
      try Task.checkCancellation()
      // The last poll is at the deadline itself: the service gets all of `within`.
      let elapsed = (clock.now - start).doubleSeconds
      if elapsed >= within { break }
      let nap = min(pause, within - elapsed)
      try await clock.sleep(for: .milliseconds(max(1, Int((nap * 1000).rounded(.up)))))
      if elapsed + pause >= quickPolling { pause = min(max(pause * 2, 0.1), health.interval) }
    }
    var result = AttemptResult.fail(
      "\(name) " + parts.joined(separator: ", "),
      "\(name) did not become healthy within \(Quantity.format(seconds: within)) at \(url.display) (\(polls) polls; last: \(last))"
    )
    result.output = output
    return result
  }
}
