import Foundation

extension Runbook {
  /// The host and group names a flag's files live on: its own `hosts:`, else its service's
  /// (empty: the control machine).
  public func placement(ofFlag name: String) -> [Located<String>] {
    guard let flag = flags[name] else { return [] }
    if !flag.hosts.isEmpty { return flag.hosts }
    return flag.service.flatMap { services[$0.value]?.hosts } ?? []
  }
}

/// Hosts and batches in plans.
extension Resolver {
  /// The host and group names a step is placed on, as written (empty: the control machine).
  public func placement(of step: Step) -> [Located<String>] {
    switch step.kind {
    case .flag(let name, _):
      return runbook.placement(ofFlag: name.value)
    case .restart(let service, _):
      return runbook.services[service.value]?.hosts ?? []
    case .run, .http, .sql:
      return step.on
    case .rolling(let spec):
      return spec.on
    case .check, .assert, .wait, .notify, .confirm, .include, .silence:
      return []
    }
  }

  /// The hosts a step runs on in this environment, in order, limited by `--hosts`.
  public func hosts(of step: Step) -> [Host] {
    let names = placement(of: step).map(\.value)
    guard !names.isEmpty else { return [] }
    let hosts = environment.inventory.hosts(expanding: names)
    guard let selectedHosts else { return hosts }
    return hosts.filter { selectedHosts.contains($0.name) }
  }

  /// Whether a step runs on hosts (it is placed somewhere, in an environment that declares
  /// hosts) rather than on the control machine.
  public func isHostScoped(_ step: Step) -> Bool {
    !environment.inventory.isEmpty && !placement(of: step).isEmpty
  }

  /// This resolver for steps running on `host`: its `vars` over the environment's (not over
  /// `--var`), and `${host.name|ssh|address}` filled in.
  public func on(_ host: Host) -> Resolver {
    var resolver = self
    var bag = DiagnosticBag()
    for (name, template) in host.vars where !variableOverrides.contains(name) {
      var resolved = context.resolve(template, into: &bag)
      if InterpolationContext.isSecretName(name) {
        resolved.display = "****"
        resolved.hasSecret = true
      }
      resolver.context.variables[name] = resolved
    }
    resolver.context.host = ["name": host.name, "ssh": host.ssh, "address": host.address]
    return resolver
  }

  /// Per-host details of a step, grouped by equal text; empty when every host reads the same.
  func hostDetails(of step: Step, on hosts: [Host], bag: inout DiagnosticBag) -> [(
    hosts: [String], detail: String
  )] {
    var groups: [(hosts: [String], detail: String)] = []
    for host in hosts {
      let text = on(host).detail(of: step, into: &bag)
      if let index = groups.firstIndex(where: { $0.detail == text }) {
        groups[index].hosts.append(host.name)
      } else {
        groups.append(([host.name], text))
      }
    }
    let general = detail(of: step, into: &bag)
    return groups.count == 1 && groups[0].detail == general ? [] : groups
  }

  func rollingDetail(_ spec: RollingSpec) -> String {
    var parts = [
      "on \(spec.on.map(\.value).joined(separator: ", "))",
      "batches \(spec.batches.map(\.value.description).joined(separator: ", "))",
      "max_fail \(spec.maxFail.value)",
    ]
    if spec.pause > 0 { parts.append("pause \(Quantity.format(seconds: spec.pause))") }
    if let gate = spec.gate { parts.append("gate \(gate.text)") }
    if spec.order == .shuffle { parts.append("order shuffle") }
    parts.append("\(spec.steps.count) step\(spec.steps.count == 1 ? "" : "s") per host")
    return parts.joined(separator: "; ")
  }

  func placed(_ planned: PlannedStep, bag: inout DiagnosticBag) -> PlannedStep {
    var result = planned
    let step = planned.step
    guard isHostScoped(step) else { return result }
    let hosts = hosts(of: step)
    result.hostScoped = true
    result.hosts = hosts.map(\.name)
    if case .rolling = step.kind {
    } else {
      result.hostDetails = hostDetails(of: step, on: hosts, bag: &bag)
    }
    if case .rolling(let spec) = step.kind {
      result.batches = spec.batches(of: result.hosts)
      result.pipeline = spec.steps.map { inner in
        var innerPlanned = PlannedStep(
          id: planned.id + "." + inner.id, kind: inner.kind.keyword, name: inner.name, mutates: inner.mutates,
          detail: detail(of: inner, into: &bag), note: inner.note, origin: planned.origin,
          condition: inner.when, gates: planned.gates, step: inner)
        innerPlanned.hosts = result.hosts
        innerPlanned.hostScoped = true
        innerPlanned.hostDetails = hostDetails(of: inner, on: hosts, bag: &bag)
        return innerPlanned
      }
    }
    return result
  }
}

extension Plan {
  /// The message that refuses to run a plan that cannot run in its environment: a rolling
  /// step in an environment without hosts has no hosts to roll over (placed steps there run
  /// on the control machine, but a rolling step would roll over nothing). Nil when it can run.
  public var fleetRefusal: Diagnostic? {
    guard let rolling = steps.first(where: { !$0.hostScoped && $0.step.kind.keyword == "rolling" }) else {
      return nil
    }
    return Diagnostic(
      .error, at: rolling.step.location,
      "step '\(rolling.id)' is a rolling step, and environment '\(environment)' declares no hosts to roll "
        + "over; nothing was run (run it with the environment that lists the hosts)")
  }
}
