import Foundation
import RollbackCore

/// A command with every placeholder resolved.
struct ResolvedCommand {
  var program: ProcessSpec.Program
  var cwd: String?
  var env: [String: String]
  var display: String
}

extension Executor {
  func resolveCommand(_ command: CommandSpec) -> ResolvedCommand {
    var bag = DiagnosticBag()
    let display = resolver.describe(command, into: &bag)
    let program: ProcessSpec.Program
    switch command.program {
    case .argv(let argv): program = .argv(argv.map { resolve($0).value })
    case .shell(let line): program = .shell(interpolationContext().resolveShell(line, into: &bag).value)
    }
    var env: [String: String] = [:]
    for (name, value) in command.env { env[name] = resolve(value).value }
    return ResolvedCommand(
      program: program, cwd: command.cwd.map { resolve($0).value }, env: env, display: display)
  }

  /// The context ``resolve(_:)`` uses: the resolver's, with this run's facts.
  func interpolationContext() -> InterpolationContext {
    var context = resolver.context
    context.run = runFacts()
    return context
  }

  // MARK: Commands

  /// Runs a command on this run's host, without the runbook's secret variables in its environment.
  func runCommand(_ command: ResolvedCommand, timeout: Double, id: String) async throws -> AttemptResult {
    // On another host only the step's own `env:` goes with the command, never this machine's.
    var environment = hostName == nil ? request.processEnvironment : [:]
    for name in secretEnvironment { environment[name] = nil }
    let runner = CommandRunner(host: host, environment: environment, sayOutput: sayer(.output))
    return try await runner.run(command, timeout: timeout, id: id)
  }

  // MARK: Restart

  func restart(_ name: String, rebuild: Bool, id: String, stepTimeout: Double?) async throws -> AttemptResult
  {
    guard let service = resolver.service(named: name) else {
      return .fail("restart \(name)", "unknown service \(name)")
    }
    var parts: [String] = []
    var output = ""
    // A restart after this run changed the service's flag must prove the new process took it:
    // its pid is read before the restart to compare with the one after.
    let proof = service.pickup.flatMap { pickup in flagWrites[name].map { (pickup, $0) } }
    var pidBefore: Int32?
    if let (pickup, _) = proof, case .success(let pid) = try await pickupProbe().pid(pickupSource(pickup.pid))
    {
      pidBefore = pid
    }
    // Rebuild first when asked, then restart; either failing stops the step.
    let commands: [(label: String, done: String, command: CommandSpec?)] = [
      ("rebuild", "rebuilt", rebuild ? service.rebuild : nil), ("restart", "restarted", service.restart),
    ]
    for (label, done, command) in commands {
      guard let command else { continue }
      let resolved = resolveCommand(command)
      say("    \(label): \(resolved.display)")
      let result = try await runCommand(resolved, timeout: service.timeout, id: id)
      output += result.output ?? ""
      guard result.status == .succeeded else {
        var failed = AttemptResult.fail("\(label) \(name)", "\(label) command failed: \(result.error ?? "")")
        failed.output = output
        return failed
      }
      parts.append(done)
    }
    var result: AttemptResult
    if let health = service.health {
      result = try await pollHealth(
        health, service: name, parts: parts, output: output, id: id, stepTimeout: stepTimeout)
    } else {
      result = AttemptResult.ok("\(name) " + parts.joined(separator: ", "))
      result.output = output
    }
    guard result.status == .succeeded, let (pickup, write) = proof else { return result }
    let (proved, text) = try await provePickup(
      pickup, service: name, write: write, pidBefore: pidBefore, within: min(10, stepTimeout ?? 10))
    say("    \(text)", proved ? .detail : .failure)
    if proved {
      result.detail += "; " + text
    } else {
      result.status = .failed
      result.error = text
    }
    return result
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

  /// Polls a restarted service's health URL until it answers as expected, within its budget.
  func pollHealth(
    _ health: HealthCheck, service name: String, parts: [String], output: String, id: String,
    stepTimeout: Double?
  ) async throws -> AttemptResult {
    var parts = parts
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
        line, reason: reason, elapsed: seconds(clock.now - start), within: within, lastSaid: &lastSaid)
    }
    while true {
      polls += 1
      let request = HTTPRequest(
        method: "GET", url: url.value, timeout: .milliseconds(Int(min(5, max(1, health.interval)) * 1000)))
      do {
        let response = try await effects.http(request)
        let statusOK = health.expectStatus.contains(response.status)
        let bodyOK = expectBody.map { response.bodyText.contains($0) } ?? true
        if statusOK, bodyOK {
          let elapsed = seconds(clock.now - start)
          parts.append("healthy after \(Quantity.format(seconds: elapsed)) (HTTP \(response.status))")
          var result = AttemptResult.ok("\(name) " + parts.joined(separator: ", "))
          result.output = output
          return result
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
      let elapsed = seconds(clock.now - start)
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

  // MARK: HTTP

  /// An http step's headers and body, as sent and as shown (secret headers masked).
  func httpParts(_ spec: HTTPStepSpec) -> (
    headers: [HTTPHeader], displayHeaders: [String], body: Data?, displayBody: String?
  ) {
    var headers = spec.headers.map { HTTPHeader(name: $0.name, value: resolve($0.value).value) }
    var displayHeaders = spec.headers.map {
      "\($0.name): \(SecretName.isSecretHeader($0.name) ? Redaction.mask : resolve($0.value).display)"
    }
    var body: Data?
    var displayBody: String?
    switch spec.body {
    case .text(let template):
      let text = resolve(template)
      body = Data(text.value.utf8)
      displayBody = text.display
    case .json(let json):
      body = Data(json.render { self.resolve($0).value }.utf8)
      displayBody = json.render { self.resolve($0).display }
      if !headers.contains(where: { $0.name.lowercased() == "content-type" }) {
        headers.append(HTTPHeader(name: "Content-Type", value: "application/json"))
        displayHeaders.append("Content-Type: application/json")
      }
    case nil:
      break
    }
    return (headers, displayHeaders, body, displayBody)
  }

  func http(_ spec: HTTPStepSpec, phase: DryRunPhase, timeout: Double) async throws -> AttemptResult {
    let url = resolve(spec.url)
    let (headers, displayHeaders, body, displayBody) = httpParts(spec)
    let expected =
      spec.expectStatus.isEmpty ? "2xx" : spec.expectStatus.map(String.init).joined(separator: "/")
    let summary = "\(spec.method) \(Redaction.urls(in: url.display))"
    if phase == .wouldRun {
      var text = "would send \(summary)"
      if !displayHeaders.isEmpty { text += " with \(displayHeaders.joined(separator: "; "))" }
      if let displayBody { text += " body \(displayBody)" }
      return AttemptResult(status: .wouldRun, detail: text + ", expecting \(expected)")
    }
    let request = HTTPRequest(
      method: spec.method, url: url.value, headers: headers, body: body,
      timeout: .milliseconds(Int(timeout * 1000)))
    let response: HTTPResponse
    do {
      response = try await effects.http(request)
    } catch {
      if case .cancelled = error { throw CancellationError() }
      let result = AttemptResult.fail(summary, error.description)
      if phase == .sampled {
        return AttemptResult(status: .sampled, detail: "\(summary): now \(error.description)")
      }
      return result
    }
    let statusOK =
      spec.expectStatus.isEmpty ? response.isSuccess : spec.expectStatus.contains(response.status)
    let wanted = spec.expectBody.map { resolve($0) }
    let bodyOK = wanted.map { response.bodyText.contains($0.value) } ?? true
    let excerpt = String(response.bodyText.prefix(300))
    if phase == .sampled {
      return AttemptResult(
        status: .sampled,
        detail: "\(summary): now HTTP \(response.status)\(statusOK && bodyOK ? " (as expected)" : "")")
    }
    if !statusOK {
      var result = AttemptResult.fail(summary, "HTTP \(response.status), expected \(expected)")
      result.output = excerpt
      return result
    }
    if !bodyOK {
      var result = AttemptResult.fail(
        summary, "HTTP \(response.status) but the body does not contain \"\(wanted?.display ?? "")\"")
      result.output = excerpt
      return result
    }
    var result = AttemptResult.ok(
      "\(summary) → HTTP \(response.status) in \(RunRendering.duration(seconds(response.totalTime)))")
    result.output = excerpt
    return result
  }

  // MARK: SQL

  /// Runs a statement on the environment's database.
  func sql(_ query: ParameterizedSQL, readOnly: Bool, timeout: Double, id: String) async throws
    -> AttemptResult
  {
    let dsnEnv = resolver.environment.postgres?.dsnEnv
    let runner = SQLRunner(
      postgres: effects.postgres, dsn: dsnEnv.flatMap { request.processEnvironment[$0] }, dsnEnv: dsnEnv,
      say: { self.say($0) })
    return try await runner.run(query, readOnly: readOnly, timeout: timeout)
  }

  // MARK: Notify

  /// Sends a notification where the runbook says.
  func notify(_ written: ResolvedText, channel: String?) async -> AttemptResult {
    let settings = request.runbook.notify
    let runner = NotifyRunner(
      http: effects.http, settings: settings,
      webhook: settings.slackWebhookEnv.flatMap { request.processEnvironment[$0] },
      isDrill: request.kind == .drill, say: { self.say($0, $1) })
    return await runner.run(written, channel: channel)
  }
}
