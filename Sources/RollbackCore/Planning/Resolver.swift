import Foundation

/// Resolves variables, services and steps for one environment.
public struct Resolver: Sendable {
  /// The runbook plans are made from.
  public let runbook: Runbook
  /// The environment whose values fill in the plans (`--env`).
  public let environment: Environment
  /// The interpolation context for it.
  public var context: InterpolationContext
  /// The host names `--hosts` selected; nil when every host is in.
  public var selectedHosts: Set<String>? = nil
  /// The variables set with `--var`: they win over a host's `vars` too.
  public var variableOverrides: Set<String> = []

  /// Builds the context: the environment's variables resolved, `--var` overrides applied;
  /// throws every problem found.
  public static func resolving(
    runbook: Runbook, environmentName: String?, processEnvironment: [String: String],
    overrides: [String: String], resolveSecrets: Bool
  ) throws(DiagnosticList) -> Resolver {
    let name = environmentName ?? runbook.defaultEnvironment
    guard let environment = runbook.environment(named: name) else {
      let names = runbook.environments.map(\.name)
      throw
        (DiagnosticList([
          Diagnostic(
            .error, at: SourceLocation(file: runbook.file, line: 1, column: 1),
            "unknown environment '\(name)'\(Suggest.hint(for: name, in: names)) (environments: \(names.joined(separator: ", ")))"
          )
        ]))
    }
    var bag = DiagnosticBag()
    let base = InterpolationContext(
      variables: [:], processEnvironment: processEnvironment, resolveSecrets: resolveSecrets,
      environmentName: name)
    var variables: [String: ResolvedText] = [:]
    for (varName, template) in environment.vars {
      if let override = overrides[varName] {
        let secret = InterpolationContext.isSecretName(varName)
        variables[varName] = ResolvedText(
          value: override, display: secret ? "****" : override, hasSecret: secret)
        continue
      }
      var resolved = base.resolve(template, into: &bag)
      if InterpolationContext.isSecretName(varName) {
        resolved.display = "****"
        resolved.hasSecret = true
      }
      variables[varName] = resolved
    }
    for (varName, value) in overrides where variables[varName] == nil {
      let secret = InterpolationContext.isSecretName(varName)
      variables[varName] = ResolvedText(value: value, display: secret ? "****" : value, hasSecret: secret)
    }
    if bag.hasErrors { throw DiagnosticList(bag.all) }
    var context = base
    context.variables = variables
    return Resolver(
      runbook: runbook, environment: environment, context: context, variableOverrides: Set(overrides.keys))
  }

  /// Resolves a template, collecting problems.
  public func resolve(_ template: Template, into bag: inout DiagnosticBag) -> ResolvedText {
    context.resolve(template, into: &bag)
  }

  /// The service with this environment's overrides applied.
  public func service(named name: String) -> Service? {
    guard var service = runbook.services[name] else { return nil }
    if let override = environment.serviceOverrides[name] {
      if let restart = override.restart { service.restart = restart }
      if let rebuild = override.rebuild { service.rebuild = rebuild }
      if let timeout = override.timeout { service.timeout = timeout }
      if let health = override.health { service.health = health }
      if let pickup = override.pickup { service.pickup = pickup }
    }
    return service
  }

  /// Shows an argv as a shell would read it, quoting where needed.
  public static func shellQuoted(_ argv: [String]) -> String {
    argv.map(ShellInterpolation.word).joined(separator: " ")
  }

  /// A command's display text.
  public func describe(_ command: CommandSpec, into bag: inout DiagnosticBag) -> String {
    var text: String
    switch command.program {
    case .argv(let argv): text = Self.shellQuoted(argv.map { resolve($0, into: &bag).display })
    case .shell(let line):
      text = "sh -c " + Self.shellQuoted([context.resolveShell(line, into: &bag).display])
    }
    if let cwd = command.cwd { text += " (in \(resolve(cwd, into: &bag).display))" }
    return text
  }

  /// What a step does, in one line, secrets hidden.
  public func detail(of step: Step, into bag: inout DiagnosticBag) -> String {
    switch step.kind {
    case .check(let names):
      return "read " + names.map(\.value).joined(separator: ", ")
    case .assert(let condition):
      return "require " + condition.text
    case .wait(let condition, let within, let interval, let consecutive):
      let times = consecutive > 1 ? ", \(consecutive) samples in a row" : ""
      return
        "wait up to \(Quantity.format(seconds: within)) for \(condition.text) (every \(Quantity.format(seconds: interval))\(times))"
    case .flag(let name, let change):
      return flagDetail(name.value, change, into: &bag)
    case .restart(let name, let rebuild):
      return restartDetail(name.value, rebuild: rebuild, into: &bag)
    case .run(let command):
      return describe(command, into: &bag)
    case .http(let spec):
      return httpDetail(spec, into: &bag)
    case .sql(let query, _):
      return resolve(query, into: &bag).display
    case .notify(let spec):
      let message = resolve(spec.message, into: &bag).display
      if let alert = spec.pagerDuty {
        return "PagerDuty \(alert.action) (\(alert.severity)): \(message)"
      }
      let channel = spec.channel ?? runbook.notify.slackChannel
      return (channel.map { "to \($0): " } ?? "") + message
    case .confirm(let text):
      return "ask: " + resolve(text, into: &bag).display
    case .silence(let spec):
      return
        "silence \(spec.matchers.map(\.value).joined(separator: ", ")) for \(Quantity.format(seconds: spec.duration))"
    case .include(let target):
      return "include \(target.value)"
    case .rolling(let spec):
      return rollingDetail(spec)
    }
  }

  /// A flag step's detail: the key, its new value and the files.
  func flagDetail(_ name: String, _ change: FlagChange, into bag: inout DiagnosticBag) -> String {
    guard let flag = runbook.flags[name] else { return "flag \(name)" }
    let files = flag.files.map { resolve($0, into: &bag).display }.joined(separator: ", ")
    switch change {
    case .enable: return "\(flag.key) -> \(flag.enabled) in \(files)"
    case .disable: return "\(flag.key) -> \(flag.disabled) in \(files)"
    case .percent(let value): return "\(flag.percentKey ?? flag.key) -> \(value) in \(files)"
    case .stepDown:
      let ladder = flag.stages.map(String.init).joined(separator: " → ")
      return "\(flag.percentKey ?? flag.key) one stage down the ladder (\(ladder)) in \(files)"
    }
  }

  /// A restart step's detail: its commands, then the health poll.
  func restartDetail(_ name: String, rebuild: Bool, into bag: inout DiagnosticBag) -> String {
    guard let service = service(named: name) else { return "restart \(name)" }
    var parts: [String] = []
    if rebuild, let command = service.rebuild { parts.append("rebuild: " + describe(command, into: &bag)) }
    if let command = service.restart { parts.append("restart: " + describe(command, into: &bag)) }
    if let health = service.health {
      let statuses = health.expectStatus.map(String.init).joined(separator: "/")
      parts.append(
        "then poll \(resolve(health.url, into: &bag).display) for \(statuses) within \(Quantity.format(seconds: health.within))"
      )
    }
    return "\(name): " + parts.joined(separator: "; ")
  }

  /// An http step's detail: method, URL and what it expects.
  func httpDetail(_ spec: HTTPStepSpec, into bag: inout DiagnosticBag) -> String {
    var text = "\(spec.method) \(resolve(spec.url, into: &bag).display)"
    let expected =
      spec.expectStatus.isEmpty ? "2xx" : spec.expectStatus.map(String.init).joined(separator: "/")
    text += ", expect \(expected)"
    if let body = spec.expectBody {
      text += " and body containing \"\(resolve(body, into: &bag).display)\""
    }
    return text
  }

  /// The plan of a level or scenario; throws every problem found.
  public func plan(of target: IncludeTarget) throws(DiagnosticList) -> Plan {
    var bag = DiagnosticBag()
    let title: String
    let targetSeconds: Double?
    let steps: [Step]
    switch target {
    case .level(let number):
      guard let level = runbook.level(number) else {
        let numbers = runbook.levels.map { String($0.number) }.joined(separator: ", ")
        throw
          (DiagnosticList([
            Diagnostic(
              .error, at: SourceLocation(file: runbook.file, line: 1, column: 1),
              "unknown level \(number) (levels: \(numbers))")
          ]))
      }
      (title, targetSeconds, steps) = (level.name, level.target, level.steps)
    case .scenario(let name):
      guard let scenario = runbook.scenario(named: name) else {
        let names = runbook.scenarios.map(\.name)
        throw
          (DiagnosticList([
            Diagnostic(
              .error, at: SourceLocation(file: runbook.file, line: 1, column: 1),
              "unknown scenario '\(name)'\(Suggest.hint(for: name, in: names)) (scenarios: \(names.joined(separator: ", ")))"
            )
          ]))
      }
      (title, targetSeconds, steps) = (scenario.title ?? name, scenario.target, scenario.steps)
    }
    var planned: [PlannedStep] = []
    expand(
      steps, origin: target, prefix: "", gates: [], path: [target], skipInDrill: false, into: &planned,
      bag: &bag)
    if bag.hasErrors { throw DiagnosticList(bag.all) }
    return Plan(
      runbook: runbook.name, environment: environment.name, target: target, title: title,
      targetSeconds: targetSeconds, steps: planned)
  }

  private func expand(
    _ steps: [Step], origin: IncludeTarget, prefix: String, gates: [IncludeGate], path: [IncludeTarget],
    skipInDrill: Bool, into planned: inout [PlannedStep], bag: inout DiagnosticBag
  ) {
    for written in steps {
      // An include with `drill: skip` skips every step it brings in.
      var step = written
      if skipInDrill { step.skipInDrill = true }
      if case .include(let target) = step.kind {
        guard !path.contains(target.value) else {
          bag.error(target.location, "include cycle through \(target.value)")
          continue
        }
        let inner: [Step]
        switch target.value {
        case .level(let number): inner = runbook.level(number)?.steps ?? []
        case .scenario(let name): inner = runbook.scenario(named: name)?.steps ?? []
        }
        expand(
          inner, origin: target.value, prefix: prefix + step.id + ".",
          gates: gates + (step.when.map { [IncludeGate(id: prefix + step.id, condition: $0)] } ?? []),
          path: path + [target.value], skipInDrill: step.skipInDrill,
          into: &planned, bag: &bag)
        continue
      }
      planned.append(
        placed(
          PlannedStep(
            id: prefix + step.id, kind: step.kind.keyword, name: step.name, mutates: step.mutates,
            detail: detail(of: step, into: &bag), note: step.note, origin: origin.description,
            condition: step.when,
            gates: gates,
            step: step), bag: &bag))
    }
  }
}
