import Foundation
import RollbackCore

/// The rehearsal around a level: put its flags forward, restart and verify, run the level, verify again.
public enum DrillPlanner {
  /// Ids of the steps the drill adds start with this.
  public static let prefix = "drill."

  /// The level's plan wrapped in the drill's own steps.
  public static func wrap(_ plan: Plan, resolver: Resolver) -> Plan {
    let runbook = resolver.runbook
    let origin = SourceLocation(file: runbook.file, line: 1, column: 1)
    var bag = DiagnosticBag()
    // A drill's own steps are placed like the level's: on their flag's or service's hosts
    // (limited by `--hosts`), so a fleet's rehearsal acts on the hosts.
    func planned(_ step: Step) -> PlannedStep {
      let made = PlannedStep(
        id: step.id, kind: step.kind.keyword, name: step.name, mutates: step.mutates,
        detail: resolver.detail(of: step, into: &bag), note: nil, origin: "drill", condition: nil, gates: [],
        step: step)
      return resolver.placed(made, bag: &bag)
    }
    var before: [PlannedStep] = []
    var flagNames: [String] = []
    var percentFlags = Set<String>()
    // The level's flag steps, those inside its rolling steps too.
    for step in plan.steps.flatMap({ [$0] + $0.pipeline }) {
      guard case .flag(let name, let change) = step.step.kind else { continue }
      if !flagNames.contains(name.value) { flagNames.append(name.value) }
      if change == .stepDown { percentFlags.insert(name.value) }
      if case .percent = change { percentFlags.insert(name.value) }
    }
    var services: [(String, Bool)] = []
    for name in flagNames {
      guard let flag = runbook.flags[name] else { continue }
      let located = Located(name, at: origin)
      before.append(
        planned(
          Step(
            id: "\(prefix)forward-\(name)", name: "Drill: turn \(name) on",
            kind: .flag(name: located, change: .enable), location: origin)))
      if percentFlags.contains(name), flag.percentKey != nil {
        let top = flag.stages.max() ?? 100
        before.append(
          planned(
            Step(
              id: "\(prefix)forward-\(name)-percent", name: "Drill: roll \(name) out to \(top) %",
              kind: .flag(name: located, change: .percent(top)), location: origin)))
      }
      if let service = flag.service?.value, !services.contains(where: { $0.0 == service }) {
        services.append((service, flag.buildTime && resolver.service(named: service)?.rebuild != nil))
      }
    }
    for (service, rebuild) in services {
      before.append(
        planned(
          Step(
            id: "\(prefix)restart-\(service)", name: "Drill: restart \(service) with the flag on",
            kind: .restart(service: Located(service, at: origin), rebuild: rebuild), location: origin)))
    }
    let after = verifyAgain(plan, services: services.map(\.0), resolver: resolver, planned: planned)
    var wrapped = plan
    wrapped.steps = before + plan.steps + after
    return wrapped
  }

  /// After the level: its read-only checks again, then each service's health.
  static func verifyAgain(
    _ plan: Plan, services: [String], resolver: Resolver, planned: (Step) -> PlannedStep
  ) -> [PlannedStep] {
    let origin = SourceLocation(file: resolver.runbook.file, line: 1, column: 1)
    var after: [PlannedStep] = []
    // Verify again after the level: its read-only checks, then each service's health.
    for step in plan.steps {
      switch step.step.kind {
      case .http where !step.mutates, .assert:
        var copy = step.step
        copy.id = "\(prefix)verify-again.\(step.id)"
        copy.name = "Drill: verify again — \(step.name ?? step.id)"
        copy.when = nil
        after.append(planned(copy))
      default:
        continue
      }
    }
    for service in services {
      guard let found = resolver.service(named: service), let health = found.health else { continue }
      var spec = HTTPStepSpec(
        method: "GET", url: health.url, expectStatus: health.expectStatus, expectBody: health.expectBody)
      // Asked where the service's own health check is asked: from its hosts with `via: host`.
      spec.fromHost = health.viaHost
      var step = Step(
        id: "\(prefix)health-after-\(service)", name: "Drill: \(service) healthy after the rollback",
        kind: .http(spec),
        retries: 3, retryDelay: 1, location: origin)
      // A service on hosts is checked on each of them (its URL may name `${host.address}`).
      step.on = found.hosts
      after.append(planned(step))
    }
    return after
  }
}
