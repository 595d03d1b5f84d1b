import Foundation

/// Cross-checks the fleet keys: names in groups, `hosts:` and `on:`, rolling steps,
/// `${host.…}` placement and per-host variables.
extension RunbookValidator {
  /// The step kinds a rolling step may hold: those that can run on a host.
  static let hostStepKinds = ["flag", "restart", "run", "http", "sql"]

  /// Steps with the steps of rolling steps after them, recursively.
  static func flattened(_ steps: [Step]) -> [Step] {
    steps.flatMap { step -> [Step] in
      if case .rolling(let spec) = step.kind { return [step] + flattened(spec.steps) }
      return [step]
    }
  }

  var allStepLists: [(owner: String, steps: [Step])] {
    runbook.levels.map { ("level \($0.number)", $0.steps) }
      + runbook.scenarios.map { ("scenario '\($0.name)'", $0.steps) }
  }

  /// Names a step is placed on, as written; for flag and restart those of the flag or service.
  func placement(of step: Step) -> [Located<String>] {
    switch step.kind {
    case .flag(let name, _):
      guard let flag = runbook.flags[name.value] else { return [] }
      if !flag.hosts.isEmpty { return flag.hosts }
      return flag.service.flatMap { runbook.services[$0.value]?.hosts } ?? []
    case .restart(let service, _): return runbook.services[service.value]?.hosts ?? []
    case .run, .http, .sql: return step.on
    case .rolling(let spec): return spec.on
    case .check, .assert, .wait, .notify, .confirm, .include, .silence: return []
    }
  }

  mutating func checkFleet() {
    for environment in runbook.environments { checkGroups(environment) }
    // Every name in hosts:, on: and rolling on: must be a host or group in every environment.
    var placements: [Located<String>] = []
    for service in runbook.services.values.sorted(by: { $0.location.line < $1.location.line }) {
      placements += service.hosts
    }
    for flag in runbook.flags.values.sorted(by: { $0.location.line < $1.location.line }) {
      placements += flag.hosts
    }
    for (owner, steps) in allStepLists {
      checkHostSteps(steps, owner: owner, insideRolling: false)
      for step in Self.flattened(steps) {
        placements += step.on
        if case .rolling(let spec) = step.kind { placements += spec.on }
      }
    }
    var reported = Set<String>()
    // An environment without hosts runs placed steps on the control machine (a staging or demo
    // environment beside a production fleet), unless no environment declares any host.
    let anyHosts = runbook.environments.contains { !$0.inventory.isEmpty }
    for environment in runbook.environments where !(anyHosts && environment.inventory.isEmpty) {
      let inventory = environment.inventory
      for name in placements
      where inventory.host(named: name.value) == nil && inventory.group(named: name.value) == nil {
        guard reported.insert("\(name.location)|\(environment.name)").inserted else { continue }
        let none = inventory.isEmpty ? " (it declares no hosts)" : ""
        bag.error(
          name.location,
          "unknown host or group '\(name.value)' in environment '\(environment.name)'"
            + Suggest.hint(for: name.value, in: inventory.names) + none)
      }
    }
    checkHostFieldPlacement()
    if anyHosts {
      for environment in runbook.environments where environment.inventory.isEmpty {
        checkHostFieldsWithoutHosts(environment)
      }
    }
    // ${env.NAME} in a host's variables is resolved for the selected environment, as the environment's own.
    let selected = options.selectedEnvironment ?? runbook.defaultEnvironment
    for host in runbook.environment(named: selected)?.inventory.hosts ?? [] {
      for (name, template) in host.vars where options.variableOverrides[name] == nil {
        checkEnvironmentReferences(template)
      }
    }
    for service in runbook.services.values.sorted(by: { $0.location.line < $1.location.line }) {
      if let health = service.health, health.viaHost, service.hosts.isEmpty {
        bag.error(
          health.location,
          "health of service '\(service.name)' asks for via: host, but the service has no hosts; give it hosts:"
        )
      }
    }
  }

  mutating func checkGroups(_ environment: Environment) {
    let inventory = environment.inventory
    let what = "environment '\(environment.name)'"
    for group in inventory.groups {
      if inventory.host(named: group.name) != nil {
        bag.error(
          group.location, "group '\(group.name)' of \(what) has the name of a host; give it another name")
      }
      for member in group.members {
        if member.value == group.name {
          bag.error(member.location, "group '\(group.name)' names itself; list its hosts")
        } else if inventory.host(named: member.value) == nil, inventory.group(named: member.value) == nil {
          bag.error(
            member.location,
            "unknown host or group '\(member.value)' in group '\(group.name)' of \(what)"
              + Suggest.hint(for: member.value, in: inventory.names))
        }
      }
    }
    // Cycles through other groups: each cycle once, at the member that closes it.
    var reported = Set<[String]>()
    func visit(_ name: String, path: [String]) {
      guard let group = inventory.group(named: name) else { return }
      for member in group.members where member.value != group.name {
        if let start = path.firstIndex(of: member.value) {
          let cycle = Array(path[start...]) + [name]
          if reported.insert(cycle.sorted()).inserted {
            bag.error(member.location, "group cycle: \((cycle + [member.value]).joined(separator: " -> "))")
          }
          continue
        }
        visit(member.value, path: path + [name])
      }
    }
    for group in inventory.groups { visit(group.name, path: []) }
  }

  mutating func checkHostSteps(_ steps: [Step], owner: String, insideRolling: Bool) {
    for step in steps {
      if step.once, !insideRolling {
        bag.error(
          step.location,
          "once: true belongs to a step inside a rolling step; step '\(step.id)' of \(owner) is not")
      }
      guard case .rolling(let spec) = step.kind else { continue }
      let inner = "rolling step '\(step.id)' of \(owner)"
      // A rolling step inside another is refused with the kinds that cannot run on a host.
      if insideRolling { continue }
      for child in spec.steps {
        let kind = child.kind.keyword
        if !Self.hostStepKinds.contains(kind) {
          bag.error(
            child.location,
            "a \(kind) step cannot run on a host; inside \(inner) use only "
              + "flag, restart, run, http or sql steps (put it before or after the rolling step)")
          continue
        }
        if let first = child.on.first {
          bag.error(
            first.location, "'on' inside \(inner): the rolling step's on: chooses the hosts; remove it")
        }
        if kind == "flag" || kind == "restart", placement(of: child).isEmpty {
          let owned =
            if case .flag(let name, _) = child.kind { "flag '\(name.value)'" } else {
              "service '\(Self.serviceName(of: child))'"
            }
          bag.error(
            child.location,
            "\(owned) has no hosts, so step '\(child.id)' cannot run on the hosts of \(inner); give it hosts:"
          )
        }
      }
      checkHostSteps(spec.steps, owner: inner, insideRolling: true)
      checkRollingAgainstHosts(spec, what: inner)
    }
  }

  static func serviceName(of step: Step) -> String {
    if case .restart(let service, _) = step.kind { return service.value }
    return ""
  }

  /// In each environment: `max_fail` must be smaller than every batch, and the flags and
  /// services of the pipeline must live on every host the rolling step runs on.
  mutating func checkRollingAgainstHosts(_ spec: RollingSpec, what: String) {
    for environment in runbook.environments where !environment.inventory.isEmpty {
      let hosts = environment.inventory.hosts(expanding: spec.on.map(\.value)).map(\.name)
      guard !hosts.isEmpty else { continue }
      let batches = spec.batches(of: hosts)
      if let (index, batch) = batches.enumerated().first(where: {
        spec.maxFail.value.allowed(inBatchOf: $0.element.count) >= $0.element.count
      }) {
        bag.error(
          spec.maxFail.location,
          "max_fail \(spec.maxFail.value) of \(what) lets every host of batch \(index + 1) "
            + "(\(batch.joined(separator: ", "))) fail without stopping in environment '\(environment.name)'; "
            + "it must be smaller than each batch")
      }
      for child in spec.steps where child.kind.keyword == "flag" || child.kind.keyword == "restart" {
        let placed = placement(of: child).map(\.value)
        let known = Set(environment.inventory.names)
        guard !placed.isEmpty, placed.allSatisfy(known.contains) else { continue }
        let owned = Set(environment.inventory.hosts(expanding: placed).map(\.name))
        let missing = hosts.filter { !owned.contains($0) }
        if !missing.isEmpty {
          bag.error(
            child.location,
            "step '\(child.id)' of \(what) acts on \(placed.joined(separator: ", ")), which does not include "
              + "\(missing.joined(separator: ", ")) in environment '\(environment.name)'")
        }
      }
    }
  }

  // MARK: ${host.…}

  /// Templates that run on hosts, with the host and group names they run on.
  var hostScopedTemplates: [(template: Template, names: [String])] {
    var list: [(Template, [String])] = []
    for service in runbook.services.values where !service.hosts.isEmpty {
      let names = service.hosts.map(\.value)
      var templates: [Template] = []
      if let restart = service.restart { templates += Self.templates(of: restart) }
      if let rebuild = service.rebuild { templates += Self.templates(of: rebuild) }
      if let health = service.health { templates += Self.templates(of: health) }
      if let pickup = service.pickup { templates += pickup.templates }
      for environment in runbook.environments {
        if let override = environment.serviceOverrides[service.name] {
          if let restart = override.restart { templates += Self.templates(of: restart) }
          if let rebuild = override.rebuild { templates += Self.templates(of: rebuild) }
          if let health = override.health { templates += Self.templates(of: health) }
          if let pickup = override.pickup { templates += pickup.templates }
        }
      }
      list += templates.map { ($0, names) }
    }
    for flag in runbook.flags.values {
      let names =
        flag.hosts.isEmpty
        ? (flag.service.flatMap { runbook.services[$0.value]?.hosts } ?? []).map(\.value)
        : flag.hosts.map(\.value)
      if !names.isEmpty { list += flag.files.map { ($0, names) } }
    }
    for (_, steps) in allStepLists {
      for step in steps {
        if case .rolling(let spec) = step.kind {
          let names = spec.on.map(\.value)
          list += spec.steps.flatMap(Self.templates(of:)).map { ($0, names) }
        } else if !step.on.isEmpty {
          list += Self.templates(of: step).map { ($0, step.on.map(\.value)) }
        }
      }
    }
    return list
  }

  /// Whether `name` is a variable of every host `template` runs on (and it runs on some).
  func definedOnEveryHost(_ name: String, of template: Template, in environment: Environment) -> Bool {
    let scoped = hostScopedTemplates.filter { $0.template.location == template.location }
    guard !scoped.isEmpty else { return false }
    return scoped.allSatisfy { entry in
      let hosts = environment.inventory.hosts(expanding: entry.names)
      return !hosts.isEmpty && hosts.allSatisfy { host in host.vars.contains { $0.name == name } }
    }
  }

  /// In an environment without hosts, placed templates run on the control machine, where
  /// `${host.…}` names nothing: an error at the template (unless the environment overrides it).
  mutating func checkHostFieldsWithoutHosts(_ environment: Environment) {
    var templates: [Template] = []
    for service in runbook.services.values.sorted(by: { $0.location.line < $1.location.line })
    where !service.hosts.isEmpty {
      let override = environment.serviceOverrides[service.name]
      if override?.restart == nil, let restart = service.restart { templates += Self.templates(of: restart) }
      if override?.rebuild == nil, let rebuild = service.rebuild { templates += Self.templates(of: rebuild) }
      if override?.health == nil, let health = service.health { templates += Self.templates(of: health) }
      if override?.pickup == nil, let pickup = service.pickup { templates += pickup.templates }
    }
    for flag in runbook.flags.values.sorted(by: { $0.location.line < $1.location.line })
    where !runbook.placement(ofFlag: flag.name).isEmpty {
      templates += flag.files
    }
    // A rolling step is refused there before it runs, so only `on:` steps count.
    for (_, steps) in allStepLists {
      for step in steps where !step.on.isEmpty {
        templates += Self.templates(of: step)
      }
    }
    var reported = Set<SourceLocation>()
    for template in templates {
      guard let field = template.hostFieldsUsed.first, reported.insert(template.location).inserted else {
        continue
      }
      bag.error(
        template.location,
        "${host.\(field)} names no host in environment '\(environment.name)', which declares no hosts "
          + "(its placed steps run on the control machine); override it in that environment's services, "
          + "or give the environment hosts")
    }
  }

  mutating func checkHostFieldPlacement() {
    let scoped = Set(hostScopedTemplates.map { $0.template.location })
    var candidates: [Template] = sharedTemplates
    for environment in runbook.environments {
      candidates += environment.vars.map(\.value)
      if let prometheus = environment.prometheus { candidates.append(prometheus.url) }
      for override in environment.serviceOverrides.values {
        if let restart = override.restart { candidates += Self.templates(of: restart) }
        if let rebuild = override.rebuild { candidates += Self.templates(of: rebuild) }
        if let health = override.health { candidates += Self.templates(of: health) }
        if let pickup = override.pickup { candidates += pickup.templates }
      }
    }
    var reported = Set<SourceLocation>()
    for template in candidates where !scoped.contains(template.location) {
      guard let field = template.hostFieldsUsed.first, reported.insert(template.location).inserted else {
        continue
      }
      bag.error(
        template.location,
        "${host.\(field)} is available only in steps that run on hosts "
          + "(a service or flag with hosts:, a run/http/sql step with on:, or a step inside rolling)")
    }
  }
}
