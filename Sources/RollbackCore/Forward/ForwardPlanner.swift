import Foundation

/// One step of a roll-forward plan.
public enum ForwardStep: Sendable, Equatable {
  /// Change a flag (`flag: {name, set|percent}`).
  case flag(name: String, change: FlagChange)
  /// Restart a service, as the run did.
  case restart(service: String, rebuild: Bool)
  /// Wait until the condition (the lowest-severity rule not holding) holds.
  case wait(condition: String, within: Double)
  /// Ask a person before the next stage.
  case confirm(String)

  /// One line for people.
  public var summary: String {
    switch self {
    case .flag(let name, .enable): return "flag \(name) → enabled"
    case .flag(let name, .disable): return "flag \(name) → disabled"
    case .flag(let name, .percent(let value)): return "flag \(name) → \(value)%"
    case .flag(let name, .stepDown): return "flag \(name) → one stage down"
    case .restart(let service, let rebuild): return "restart \(service)\(rebuild ? " (rebuild first)" : "")"
    case .wait(let condition, let within):
      return "wait up to \(Quantity.format(seconds: within)) for \(condition)"
    case .confirm(let message): return "confirm: \(message)"
    }
  }
}

/// The plan that undoes a finished rollback carefully (see ``ForwardPlanner``).
public struct ForwardPlan: Sendable, Equatable {
  /// The run undone.
  public var runID: String
  /// The runbook's name.
  public var runbook: String
  /// The environment the run changed.
  public var environment: String
  /// `level N` or `scenario NAME` of the run.
  public var what: String
  /// The scenario name the plan is written under: `forward-RUN_ID`.
  public var scenarioName: String
  /// The steps, in order.
  public var steps: [ForwardStep]
  /// What could not be planned, and why (for example a value the journal does not hold).
  public var notes: [String]
}

/// Builds a roll-forward plan from a finished run's journal (its ``RunReport``) and the runbook.
///
/// From the flag steps' before and after values: a boolean flag goes back to its value before
/// the run; a percentage is raised again along the flag's `stages`, one stage per step. Each
/// change is followed by the restarts the run did of the flag's service and a wait on the
/// runbook's lowest-severity rule not holding (a negated comparison is unknown when its signal
/// is, so an unknown value never passes the wait), with a `confirm` gate between stages.
public enum ForwardPlanner {
  /// The wait's deadline when the run had no wait: 10 minutes.
  public static let defaultWithin: Double = 600

  /// The plan for `report` of a run of `runbook`.
  public static func plan(_ report: RunReport, runbook: Runbook) -> ForwardPlan {
    var notes: [String] = []
    let changes = runChanges(report, runSteps: stepIndex(runbook, report: report))
    let wait = recoveryCondition(runbook).map {
      ForwardStep.wait(condition: $0, within: changes.waitWithin ?? defaultWithin)
    }
    if wait == nil { notes.append("the runbook has no decision rule: no wait on recovery between stages") }

    var stages: [[ForwardStep]] = []
    for name in changes.flagOrder {
      guard let flag = runbook.flags[name], let keys = changes.values[name] else { continue }
      let after = changes.restarts.filter { $0.service == flag.service?.value }.map {
        ForwardStep.restart(service: $0.service, rebuild: $0.rebuild)
      }
      let tail = after + (wait.map { [$0] } ?? [])
      stages += flagStages(name, flag, keys: keys, tail: tail, notes: &notes)
    }
    if changes.flagOrder.isEmpty { notes.append("the run changed no flag: nothing to roll forward") }
    return ForwardPlan(
      runID: report.runID, runbook: report.runbook, environment: report.environment, what: report.what,
      scenarioName: "forward-\(report.runID)", steps: withConfirms(stages), notes: notes)
  }

  /// What a run changed, gathered from its journal.
  private struct RunChanges {
    /// The flags changed, in the order first changed.
    var flagOrder: [String] = []
    /// Per flag, per key: the first before and the last after.
    var values: [String: [String: KeyChange]] = [:]
    /// The services restarted successfully, each once.
    var restarts: [(service: String, rebuild: Bool)] = []
    /// The longest wait of the run, if it waited.
    var waitWithin: Double?
  }

  /// A key's value before the run (nil when absent) and after it.
  private typealias KeyChange = (before: String?, after: String)

  /// The flags, restarts and waits of the run's steps.
  private static func runChanges(_ report: RunReport, runSteps: [String: Step]) -> RunChanges {
    var changes = RunChanges()
    for entry in report.steps {
      guard let step = runSteps[entry.id] else { continue }
      switch step.kind {
      case .flag(let name, _):
        for change in entry.flagChanges where change.changed {
          if changes.values[name.value] == nil {
            changes.flagOrder.append(name.value)
            changes.values[name.value] = [:]
          }
          let first = changes.values[name.value]?[change.key]
          changes.values[name.value]?[change.key] = (first.map { $0.before } ?? change.before, change.after)
        }
      case .restart(let service, let rebuild) where entry.status == "succeeded":
        if !changes.restarts.contains(where: { $0.service == service.value }) {
          changes.restarts.append((service.value, rebuild))
        }
      case .wait(_, let within, _, _):
        changes.waitWithin = max(changes.waitWithin ?? 0, within)
      default:
        continue
      }
    }
    return changes
  }

  /// The stages that put one flag back, each its change followed by `tail` (restarts, wait); what
  /// cannot be planned goes to `notes`.
  private static func flagStages(
    _ name: String, _ flag: FeatureFlag, keys: [String: KeyChange], tail: [ForwardStep], notes: inout [String]
  ) -> [[ForwardStep]] {
    var stages: [[ForwardStep]] = []
    if let percentKey = flag.percentKey, let change = keys[percentKey] {
      guard let before = change.before else {
        notes.append(
          "\(name): the journal holds no \(percentKey) before the run (the key was absent); set it by hand")
        return stages
      }
      guard let from = Int(change.after.trimmingCharacters(in: .whitespaces)),
        let to = Int(before.trimmingCharacters(in: .whitespaces))
      else {
        notes.append(
          "\(name): \(percentKey) went from '\(before)' to '\(change.after)', not whole percentages")
        return stages
      }
      var ladder = flag.stages.filter { $0 > from && $0 <= to }.sorted()
      if ladder.last != to, to > from { ladder.append(to) }
      for value in ladder {
        stages.append([.flag(name: name, change: .percent(value))] + tail)
      }
    }
    if let change = keys[flag.key] {
      guard let before = change.before else {
        notes.append(
          "\(name): the journal holds no \(flag.key) before the run (the key was absent); set it by hand")
        return stages
      }
      guard before != change.after else { return stages }
      let target: FlagChange
      if before == flag.enabled {
        target = .enable
      } else if before == flag.disabled {
        target = .disable
      } else {
        notes.append(
          "\(name): \(flag.key) was '\(before)' before the run, neither enabled nor disabled; set it by hand"
        )
        return stages
      }
      stages.append([.flag(name: name, change: target)] + tail)
    }
    return stages
  }

  /// The stages in order, with a `confirm` gate before each stage but the first.
  private static func withConfirms(_ stages: [[ForwardStep]]) -> [ForwardStep] {
    var steps: [ForwardStep] = []
    for (index, stage) in stages.enumerated() {
      if index > 0, let done = stage.first {
        steps.append(
          .confirm("Stage \(index) of \(stages.count) done and healthy. Go on with \(done.summary)?"))
      }
      steps += stage
    }
    return steps
  }

  /// The run's steps by journal id (`INCLUDE_ID.STEP_ID` inside includes).
  static func stepIndex(_ runbook: Runbook, report: RunReport) -> [String: Step] {
    var index: [String: Step] = [:]
    func walk(_ steps: [Step], prefix: String, depth: Int) {
      guard depth < 16 else { return }
      for step in steps {
        index[prefix + step.id] = step
        if case .include(let target) = step.kind {
          walk(stepsOf(target.value, runbook), prefix: prefix + step.id + ".", depth: depth + 1)
        }
      }
    }
    if let target = report.target {
      walk(stepsOf(target, runbook), prefix: "", depth: 0)
    }
    return index
  }

  static func stepsOf(_ target: IncludeTarget, _ runbook: Runbook) -> [Step] {
    switch target {
    case .level(let number): return runbook.levels.first { $0.number == number }?.steps ?? []
    case .scenario(let name): return runbook.scenarios.first { $0.name == name }?.steps ?? []
    }
  }

  /// The lowest-severity rule's condition, negated, as written in a runbook; nil without rules.
  public static func recoveryCondition(_ runbook: Runbook) -> String? {
    guard let lowest = runbook.decision.min(by: { $0.severity < $1.severity }) else { return nil }
    return render(negate(lowest.condition))
  }

  /// The condition that holds exactly when `condition` does not (De Morgan; each comparison's
  /// operator inverted, so an unknown signal stays unknown).
  public static func negate(_ condition: Condition) -> Condition {
    switch condition {
    case .comparison(var comparison):
      let threshold = thresholdText(comparison)
      comparison.op = inverse(comparison.op)
      comparison.text = "\(comparison.signal) \(comparison.op.rawValue) \(threshold)"
      return .comparison(comparison)
    case .any(let list): return .all(list.map(negate))
    case .all(let list): return .any(list.map(negate))
    }
  }

  static func inverse(_ op: ComparisonOperator) -> ComparisonOperator {
    switch op {
    case .greater: return .lessOrEqual
    case .greaterOrEqual: return .less
    case .less: return .greaterOrEqual
    case .lessOrEqual: return .greater
    case .equal: return .notEqual
    case .notEqual: return .equal
    }
  }

  /// The threshold as written (`5%`, `2s`), from the comparison's text.
  static func thresholdText(_ comparison: Comparison) -> String {
    let text = comparison.text
    guard let signalRange = text.range(of: comparison.signal),
      let opRange = text.range(of: comparison.op.rawValue, range: signalRange.upperBound..<text.endIndex)
    else { return String(comparison.threshold) }
    return text[opRange.upperBound...].trimmingCharacters(in: .whitespaces)
  }

  /// A condition in the runbook's syntax: a comparison's text, or `{any: […]}` / `{all: […]}`.
  public static func render(_ condition: Condition) -> String {
    switch condition {
    case .comparison(let comparison): return comparison.text
    case .any(let list):
      return list.count == 1 ? render(list[0]) : "{any: [\(list.map(quoted).joined(separator: ", "))]}"
    case .all(let list):
      return list.count == 1 ? render(list[0]) : "{all: [\(list.map(quoted).joined(separator: ", "))]}"
    }
  }

  static func quoted(_ condition: Condition) -> String {
    if case .comparison(let comparison) = condition { return JSONTemplate.quote(comparison.text) }
    return render(condition)
  }
}

extension ForwardPlan {
  /// The plan for people: what it undoes, then numbered steps and any notes.
  public var human: String {
    var lines = ["Roll-forward of run \(runID) (\(what) of \(runbook) in \(environment)):"]
    if steps.isEmpty { lines.append("  nothing to do") }
    for (index, step) in steps.enumerated() { lines.append("  \(index + 1). \(step.summary)") }
    for note in notes { lines.append("note: \(note)") }
    return lines.joined(separator: "\n")
  }

  /// The steps as a scenario's `steps:` list in runbook YAML, indented by `indent` spaces.
  public func yamlSteps(indent: Int) -> String {
    let pad = String(repeating: " ", count: indent)
    var lines: [String] = []
    for (index, step) in steps.enumerated() {
      let id = "forward-\(index + 1)"
      switch step {
      case .flag(let name, let change):
        let how: String
        switch change {
        case .enable: how = "set: enabled"
        case .disable: how = "set: disabled"
        case .percent(let value): how = "percent: \(value)"
        case .stepDown: how = "step_down: true"
        }
        lines.append("\(pad)- {id: \(id), flag: {name: \(JSONTemplate.quote(name)), \(how)}}")
      case .restart(let service, let rebuild):
        lines.append(
          rebuild
            ? "\(pad)- {id: \(id), restart: {service: \(JSONTemplate.quote(service)), rebuild: true}}"
            : "\(pad)- {id: \(id), restart: \(JSONTemplate.quote(service))}")
      case .wait(let condition, let within):
        let written = condition.hasPrefix("{") ? condition : JSONTemplate.quote(condition)
        lines.append("\(pad)- {id: \(id), wait: \(written), within: \(Quantity.format(seconds: within))}")
      case .confirm(let message):
        lines.append("\(pad)- {id: \(id), confirm: \(JSONTemplate.quote(message))}")
      }
    }
    return lines.joined(separator: "\n")
  }
}
