import Foundation

/// Cross-checks a runbook; its template helpers are public for preflight checks.
public struct RunbookValidator {
  var runbook: Runbook
  let options: LoadOptions
  var bag: DiagnosticBag

  init(runbook: Runbook, options: LoadOptions, bag: DiagnosticBag) {
    self.runbook = runbook
    self.options = options
    self.bag = bag
  }

  mutating func validate() {
    checkSignals()
    checkDecision()
    for level in runbook.levels {
      if level.steps.isEmpty { continue }
      checkSteps(level.steps, owner: "level \(level.number)")
    }
    for scenario in runbook.scenarios { checkSteps(scenario.steps, owner: "scenario '\(scenario.name)'") }
    checkIncludes()
    checkFlagsAndServices()
    checkEscalations()
    checkFleet()
    checkPlaceholders()
    checkInterpolation()
    warnUnrestartedFlags()
    warnUnusedSignals()
  }

  // MARK: References

  var signalNames: [String] { runbook.signals.map(\.name) }

  mutating func checkSignal(_ name: String, at location: SourceLocation) {
    guard runbook.signal(named: name) == nil else { return }
    let known = signalNames.isEmpty ? " (the runbook declares no signals)" : ""
    bag.error(location, "unknown signal '\(name)'\(Suggest.hint(for: name, in: signalNames))\(known)")
  }

  mutating func checkCondition(_ condition: Condition) {
    for comparison in condition.comparisons { checkSignal(comparison.signal, at: comparison.location) }
  }

  mutating func checkSignals() {
    for signal in runbook.signals {
      switch signal.source {
      case .prometheus(let query):
        if signal.unit == .ratio || signal.unit == .percent, Self.isBareCounterRate(query.raw) {
          bag.warning(
            signal.location,
            "signal '\(signal.name)' has unit \(signal.unit.rawValue) but its query is a bare rate/irate/increase with no division: that is events per second (or per window), not a share of requests; divide by the total, e.g. sum(rate(errors[5m])) / sum(rate(requests[5m]))"
          )
        }
        for environment in runbook.environments where environment.prometheus == nil {
          bag.error(
            signal.location,
            "signal '\(signal.name)' reads Prometheus, but environment '\(environment.name)' has no prometheus settings"
          )
        }
      case .postgres:
        for environment in runbook.environments where environment.postgres == nil {
          bag.error(
            signal.location,
            "signal '\(signal.name)' reads Postgres, but environment '\(environment.name)' has no postgres settings"
          )
        }
      case .manual:
        break
      }
    }
  }

  /// Whether a PromQL query is a counter's rate, irate or increase with no division: a
  /// number of events, never a ratio. Quoted label values (`{path="/a/b"}`) do not count.
  static func isBareCounterRate(_ query: String) -> Bool {
    var unquoted = ""
    var quote: Character?
    var escaped = false
    for character in query {
      if let open = quote {
        if escaped {
          escaped = false
        } else if character == "\\" {
          escaped = true
        } else if character == open {
          quote = nil
        }
        continue
      }
      if character == "\"" || character == "'" || character == "`" {
        quote = character
        continue
      }
      unquoted.append(character)
    }
    if unquoted.contains("/") { return false }
    let characters = Array(unquoted)
    for function in ["rate", "irate", "increase"] {
      let name = Array(function)
      var index = 0
      while index + name.count < characters.count {
        let before = index == 0 ? " " : characters[index - 1]
        if Array(characters[index..<index + name.count]) == name,
          !(before.isLetter || before.isNumber || before == "_")
        {
          // Spaces may stand between the function and its parenthesis.
          var next = index + name.count
          while next < characters.count, characters[next] == " " { next += 1 }
          if next < characters.count, characters[next] == "(" { return true }
        }
        index += 1
      }
    }
    return false
  }

  mutating func checkDecision() {
    for rule in runbook.decision {
      for comparison in rule.any + rule.all { checkSignal(comparison.signal, at: comparison.location) }
      switch rule.action {
      case .level(let number):
        if runbook.level(number) == nil {
          bag.error(
            rule.actionLocation,
            "unknown level \(number) in the action (levels: \(runbook.levels.map { String($0.number) }.joined(separator: ", ")))"
          )
        }
      case .scenario(let name):
        if runbook.scenario(named: name) == nil {
          bag.error(
            rule.actionLocation,
            "unknown scenario '\(name)'\(Suggest.hint(for: name, in: runbook.scenarios.map(\.name)))")
        }
      case .stepDown(let name):
        checkFlagReference(name, at: rule.actionLocation, needsLadder: true)
      case .pause, .monitor, .none:
        break
      }
    }
  }

  mutating func checkFlagReference(
    _ name: String, at location: SourceLocation, needsLadder: Bool = false, needsPercent: Bool = false
  ) {
    guard let flag = runbook.flags[name] else {
      bag.error(location, "unknown flag '\(name)'\(Suggest.hint(for: name, in: Array(runbook.flags.keys)))")
      return
    }
    if needsLadder, flag.stages.count < 2 {
      bag.error(location, "flag '\(name)' has no ladder to step down; give it percent_key and stages")
    } else if needsPercent, flag.percentKey == nil {
      bag.error(location, "flag '\(name)' has no percent_key; a percent change needs one")
    }
  }

  mutating func checkService(_ name: String, at location: SourceLocation) {
    if runbook.services[name] == nil {
      bag.error(
        location, "unknown service '\(name)'\(Suggest.hint(for: name, in: Array(runbook.services.keys)))")
    }
  }

  mutating func checkSteps(_ steps: [Step], owner: String) {
    for step in steps {
      if let when = step.when { checkCondition(when) }
      switch step.kind {
      case .check(let names):
        for name in names { checkSignal(name.value, at: name.location) }
      case .assert(let condition):
        checkCondition(condition)
      case .wait(let condition, _, _, _):
        checkCondition(condition)
      case .flag(let name, let change):
        checkFlagReference(
          name.value, at: name.location, needsLadder: change == .stepDown,
          needsPercent: { if case .percent = change { return true } else { return false } }())
      case .restart(let service, let rebuild):
        checkService(service.value, at: service.location)
        if rebuild { checkRebuild(service.value, at: service.location) }
      case .include(let target):
        checkInclude(target.value, at: target.location)
      case .rolling(let spec):
        if let gate = spec.gate { checkCondition(gate) }
        checkSteps(spec.steps, owner: "rolling step '\(step.id)' of \(owner)")
      case .silence:
        if runbook.notify.alertmanager == nil {
          bag.error(
            step.location,
            "silence step '\(step.id)' needs notify: {alertmanager: {url: …}} to post silences to")
        }
      case .notify(let spec):
        if spec.pagerDuty != nil, runbook.notify.pagerDuty == nil {
          bag.error(
            step.location,
            "notify step '\(step.id)' sends a PagerDuty event but notify: has no pagerduty: {routing_key_env: …}"
          )
        }
      case .run, .http, .sql, .confirm:
        break
      }
      if case .sql = step.kind, runbook.environments.contains(where: { $0.postgres == nil }) {
        let missing = runbook.environments.filter { $0.postgres == nil }.map(\.name)
        bag.error(
          step.location,
          "sql step '\(step.id)' needs postgres settings, missing in environment \(missing.joined(separator: ", "))"
        )
      }
    }
  }

  /// A `restart` step with `rebuild: true` needs a rebuild command, in the service or in every
  /// environment's override of it.
  private mutating func checkRebuild(_ service: String, at location: SourceLocation) {
    guard let definition = runbook.services[service], definition.rebuild == nil else { return }
    let overridden = runbook.environments.allSatisfy {
      $0.serviceOverrides[service]?.rebuild != nil
    }
    if !overridden {
      bag.error(
        location,
        "service '\(service)' has no rebuild command, but this step asks for rebuild: true")
    }
  }

  /// An `include` names a level or scenario of the runbook.
  private mutating func checkInclude(_ target: IncludeTarget, at location: SourceLocation) {
    switch target {
    case .level(let number):
      if runbook.level(number) == nil {
        bag.error(
          location,
          "unknown level \(number) (levels: \(runbook.levels.map { String($0.number) }.joined(separator: ", ")))"
        )
      }
    case .scenario(let name):
      if runbook.scenario(named: name) == nil {
        bag.error(
          location,
          "unknown scenario '\(name)'\(Suggest.hint(for: name, in: runbook.scenarios.map(\.name)))")
      }
    }
  }

  func steps(of target: IncludeTarget) -> [Step]? {
    switch target {
    case .level(let number): return runbook.level(number)?.steps
    case .scenario(let name): return runbook.scenario(named: name)?.steps
    }
  }

  mutating func checkIncludes() {
    var reported = Set<SourceLocation>()
    func visit(_ target: IncludeTarget, path: [IncludeTarget]) {
      guard let steps = steps(of: target) else { return }
      for step in steps {
        guard case .include(let next) = step.kind else { continue }
        if next.value == path.first || path.contains(next.value) || next.value == target {
          if reported.insert(next.location).inserted {
            let cycle = (path + [target, next.value]).map(\.description).joined(separator: " -> ")
            bag.error(next.location, "include cycle: \(cycle)")
          }
          continue
        }
        visit(next.value, path: path + [target])
      }
    }
    for level in runbook.levels { visit(.level(level.number), path: []) }
    for scenario in runbook.scenarios { visit(.scenario(scenario.name), path: []) }
  }

  mutating func checkFlagsAndServices() {
    for flag in runbook.flags.values.sorted(by: { $0.location.line < $1.location.line }) {
      if let service = flag.service { checkService(service.value, at: service.location) }
    }
    for environment in runbook.environments {
      for (name, override) in environment.serviceOverrides where runbook.services[name] == nil {
        bag.error(
          override.location,
          "environment '\(environment.name)' overrides unknown service '\(name)'"
            + Suggest.hint(for: name, in: Array(runbook.services.keys)))
      }
    }
  }

  // MARK: Placeholders

  /// Every template a step holds.
  static func templates(of step: Step) -> [Template] {
    switch step.kind {
    case .check, .assert, .wait, .flag, .restart, .include, .silence: return []
    case .run(let command): return templates(of: command)
    case .http(let spec):
      var list = [spec.url] + spec.headers.map(\.value)
      switch spec.body {
      case .text(let text): list.append(text)
      case .json(let json): list += json.templates
      case nil: break
      }
      if let body = spec.expectBody { list.append(body) }
      return list
    case .sql(let query, _): return [query]
    case .notify(let spec): return [spec.message]
    case .confirm(let text): return [text]
    case .rolling(let spec): return spec.steps.flatMap(templates(of:))
    }
  }

  /// Every template a step holds (for preflight checks).
  public static func templatesOfStep(_ step: Step) -> [Template] { templates(of: step) }

  /// Every template a command holds (for preflight checks).
  public static func templatesOfCommand(_ command: CommandSpec) -> [Template] { templates(of: command) }

  static func templates(of command: CommandSpec) -> [Template] {
    var list: [Template]
    switch command.program {
    case .argv(let argv): list = argv
    case .shell(let line): list = [line]
    }
    if let cwd = command.cwd { list.append(cwd) }
    return list + command.env.map(\.value)
  }

  static func templates(of health: HealthCheck) -> [Template] {
    [health.url] + (health.expectBody.map { [$0] } ?? [])
  }

  /// Templates shared by every environment (not inside an environment's own section).
  var sharedTemplates: [Template] {
    var list: [Template] = []
    for flag in runbook.flags.values { list += flag.files }
    for service in runbook.services.values {
      if let restart = service.restart { list += Self.templates(of: restart) }
      if let rebuild = service.rebuild { list += Self.templates(of: rebuild) }
      if let health = service.health { list += Self.templates(of: health) }
      if let pickup = service.pickup { list += pickup.templates }
    }
    for signal in runbook.signals {
      switch signal.source {
      case .prometheus(let query), .postgres(let query): list.append(query)
      case .manual: break
      }
    }
    for level in runbook.levels { list += level.steps.flatMap(Self.templates(of:)) }
    for scenario in runbook.scenarios { list += scenario.steps.flatMap(Self.templates(of:)) }
    list += runbook.templates.values
    return list
  }

  mutating func checkPlaceholders() {
    let selected = options.selectedEnvironment ?? runbook.defaultEnvironment
    if options.selectedEnvironment != nil, runbook.environment(named: selected) == nil {
      bag.error(
        SourceLocation(file: runbook.file, line: 1, column: 1),
        "unknown environment '\(selected)'\(Suggest.hint(for: selected, in: runbook.environments.map(\.name)))"
          + " (environments: \(runbook.environments.map(\.name).joined(separator: ", ")))")
    }
    let shared = sharedTemplates
    var reported = Set<String>()
    for environment in runbook.environments {
      let names = Set(environment.vars.map(\.name)).union(options.variableOverrides.keys)
      var own: [Template] = environment.prometheus.map { [$0.url] } ?? []
      for override in environment.serviceOverrides.values {
        if let restart = override.restart { own += Self.templates(of: restart) }
        if let rebuild = override.rebuild { own += Self.templates(of: rebuild) }
        if let health = override.health { own += Self.templates(of: health) }
        if let pickup = override.pickup { own += pickup.templates }
      }
      for template in shared + own {
        for name in template.variables where !names.contains(name) {
          if definedOnEveryHost(name, of: template, in: environment) { continue }
          let key = "\(template.location)|\(name)|\(environment.name)"
          guard reported.insert(key).inserted else { continue }
          bag.error(
            template.location,
            "unknown variable '\(name)' in environment '\(environment.name)'"
              + Suggest.hint(for: name, in: Array(names)))
        }
      }
      // ${env.NAME} in this environment's own variables is resolved only for the selected environment.
      if environment.name == selected {
        for (name, template) in environment.vars where options.variableOverrides[name] == nil {
          checkEnvironmentReferences(template)
        }
        for template in own { checkEnvironmentReferences(template) }
      }
    }
    for template in shared { checkEnvironmentReferences(template) }
  }

  mutating func checkEnvironmentReferences(_ template: Template) {
    for part in template.parts {
      guard case .environment(let name, let fallback) = part, fallback == nil,
        options.processEnvironment[name] == nil
      else {
        continue
      }
      bag.error(
        template.location,
        "environment variable \(name) is not set; set it or write '${env.\(name):-default}'")
    }
  }

  // MARK: Warnings

  /// The steps a list runs, with includes expanded (cycles cut).
  func expanded(_ steps: [Step], path: [IncludeTarget] = []) -> [Step] {
    var result: [Step] = []
    for step in steps {
      if case .include(let target) = step.kind {
        guard !path.contains(target.value), let inner = self.steps(of: target.value) else { continue }
        result += expanded(inner, path: path + [target.value])
      } else if case .rolling(let spec) = step.kind {
        result += spec.steps
      } else {
        result.append(step)
      }
    }
    return result
  }

  mutating func warnUnrestartedFlags() {
    var lists: [(String, [Step], IncludeTarget)] = runbook.levels.map {
      ("level \($0.number)", $0.steps, .level($0.number))
    }
    lists += runbook.scenarios.map { ("scenario '\($0.name)'", $0.steps, .scenario($0.name)) }
    var reported = Set<String>()
    for (owner, steps, target) in lists {
      let flat = expanded(steps, path: [target])
      for (index, step) in flat.enumerated() {
        guard case .flag(let name, _) = step.kind, let flag = runbook.flags[name.value],
          let service = flag.service
        else { continue }
        let later = flat[(index + 1)...]
        let restarts = later.compactMap { step -> Bool? in
          if case .restart(let name, let rebuild) = step.kind, name.value == service.value { return rebuild }
          return nil
        }
        var message: String?
        if restarts.isEmpty {
          message =
            "flag '\(flag.name)' is read by service '\(service.value)', which \(owner) never restarts after this step;"
            + " the change will not reach users"
        } else if flag.buildTime, !restarts.contains(true) {
          message =
            "flag '\(flag.name)' is inlined at build time, but \(owner) never restarts '\(service.value)' with"
            + " rebuild: true after this step; the old value stays in the build"
        }
        if let message, reported.insert("\(step.location)|\(message)").inserted {
          bag.warning(step.location, message)
        }
      }
    }
  }

  mutating func warnUnusedSignals() {
    var used = Set<String>()
    for rule in runbook.decision { used.formUnion((rule.any + rule.all).map(\.signal)) }
    let allSteps = Self.flattened(runbook.levels.flatMap(\.steps) + runbook.scenarios.flatMap(\.steps))
    for step in allSteps {
      if let when = step.when { used.formUnion(when.comparisons.map(\.signal)) }
      switch step.kind {
      case .check(let names): used.formUnion(names.map(\.value))
      case .assert(let condition), .wait(let condition, _, _, _):
        used.formUnion(condition.comparisons.map(\.signal))
      case .rolling(let spec):
        used.formUnion(spec.gate?.comparisons.map(\.signal) ?? [])
      default: break
      }
    }
    for signal in runbook.signals where !used.contains(signal.name) {
      bag.warning(signal.location, "signal '\(signal.name)' is not used by any rule or step")
    }
  }
}

extension RunbookValidator {
  /// `escalate`: `to` names an existing level stronger (higher) than its own; `after` is a
  /// positive duration.
  mutating func checkEscalations() {
    let numbers = runbook.levels.map(\.number)
    for level in runbook.levels {
      guard let escalate = level.escalate else { continue }
      if escalate.after <= 0 {
        bag.error(escalate.location, "after of escalate of level \(level.number) must be a positive duration")
      }
      if !numbers.contains(escalate.to) {
        bag.error(
          escalate.location,
          "escalate of level \(level.number) names level \(escalate.to), which does not exist (levels: \(numbers.map(String.init).joined(separator: ", ")))"
        )
      } else if escalate.to <= level.number {
        bag.error(
          escalate.location,
          "escalate of level \(level.number) must name a stronger (higher) level, found \(escalate.to)")
      }
    }
  }
}
