import ArgumentParser
import Foundation
import RollbackCore

/// Renders plans for people and for programs.
enum PlanRendering {
  /// The levels and scenarios of a runbook, for programs.
  static func listJSON(_ runbook: Runbook) -> JSONValue {
    .object([
      ("runbook", .string(runbook.name)),
      (
        "levels",
        .array(
          runbook.levels.map { level in
            .object([
              ("level", .int(level.number)), ("name", .string(level.name)),
              ("description", .string(level.description)), ("target_s", .number(level.target)),
              ("steps", .int(level.steps.count)),
            ])
          })
      ),
      (
        "scenarios",
        .array(
          runbook.scenarios.map { scenario in
            .object([
              ("scenario", .string(scenario.name)), ("title", .string(scenario.title)),
              ("symptoms", .array(scenario.symptoms.map { .string($0) })),
              ("target_s", .number(scenario.target)), ("steps", .int(scenario.steps.count)),
            ])
          })
      ),
    ])
  }

  /// The levels and scenarios of a runbook, for people.
  static func list(_ runbook: Runbook) -> String {
    func target(_ seconds: Double?) -> String {
      seconds.map { "target \(Quantity.format(seconds: $0))" } ?? "no target"
    }
    func steps(_ count: Int) -> String { "\(count) step\(count == 1 ? "" : "s")" }
    var lines = ["Runbook \(runbook.name)", "", "Levels (rollback plan --level N)"]
    if runbook.levels.isEmpty { lines.append("  (none)") }
    for level in runbook.levels {
      lines.append(
        "  \(String(level.number).leftPadded(to: 2))  \(level.name) · \(target(level.target)) · \(steps(level.steps.count))"
      )
    }
    lines += ["", "Scenarios (rollback plan --scenario NAME)"]
    if runbook.scenarios.isEmpty { lines.append("  (none)") }
    let width = min(32, runbook.scenarios.map(\.name.count).max() ?? 0)
    for scenario in runbook.scenarios {
      lines.append(
        "  \(scenario.name.rightPadded(to: width))  \(scenario.title ?? scenario.name) · \(target(scenario.target)) · \(steps(scenario.steps.count))"
      )
    }
    return lines.joined(separator: "\n")
  }

  static func json(_ plan: Plan) -> JSONValue {
    .object([
      ("runbook", .string(plan.runbook)), ("environment", .string(plan.environment)),
      ("level", .int(plan.target.level)),
      ("scenario", .string(plan.target.scenario)), ("title", .string(plan.title)),
      ("target_s", .number(plan.targetSeconds)),
      (
        "steps",
        .array(
          plan.steps.map { step in
            .object(
              [
                ("id", .string(step.id)), ("kind", .string(step.kind)), ("name", .string(step.name)),
                ("mutates", .bool(step.mutates)), ("detail", .string(step.detail)),
                ("origin", .string(step.origin)),
                ("when", .string(step.condition?.text)),
                ("include_when", .array(step.gates.map { .string($0.condition.text) })),
                ("drill", .string(step.step.skipInDrill ? "skip" : "run")),
              ] + fleetFields(step))
          })
      ),
    ])
  }

  /// `hosts`, and for a rolling step `batches` and `steps`, of a host-scoped step.
  static func fleetFields(_ step: PlannedStep) -> [(String, JSONValue)] {
    guard step.hostScoped else { return [] }
    var fields: [(String, JSONValue)] = [("hosts", .array(step.hosts.map { .string($0) }))]
    if !step.hostDetails.isEmpty { fields.append(("host_details", hostDetailsJSON(step))) }
    if case .rolling(let spec) = step.step.kind {
      fields.append(
        (
          "rolling",
          .object([
            ("batches", .array(step.batches.map { .array($0.map { .string($0) }) })),
            ("batch_sizes", .array(spec.batches.map { .string($0.value.description) })),
            ("max_fail", .string(spec.maxFail.value.description)),
            ("pause_s", .number(spec.pause)),
            ("gate", .string(spec.gate?.text)),
            ("order", .string(spec.order.rawValue)),
            (
              "steps",
              .array(
                step.pipeline.map { inner in
                  .object(
                    [
                      ("id", .string(inner.id)), ("kind", .string(inner.kind)), ("name", .string(inner.name)),
                      ("mutates", .bool(inner.mutates)), ("detail", .string(inner.detail)),
                      ("once", .bool(inner.step.once)),
                    ] + (inner.hostDetails.isEmpty ? [] : [("host_details", hostDetailsJSON(inner))]))
                })
            ),
          ])
        ))
    }
    return fields
  }

  /// `[{hosts: [...], detail}]`: what a step does on each group of hosts.
  static func hostDetailsJSON(_ step: PlannedStep) -> JSONValue {
    .array(
      step.hostDetails.map { entry in
        .object([("hosts", .array(entry.hosts.map { .string($0) })), ("detail", .string(entry.detail))])
      })
  }

  /// `web-1 web-3: DETAIL` lines, when a step differs between its hosts.
  static func hostDetailLines(_ step: PlannedStep, indent: String) -> [String] {
    step.hostDetails.map { indent + "\($0.hosts.joined(separator: " ")): \($0.detail)" }
  }

  /// The lines under a host-scoped step: its hosts, or a rolling step's batches and pipeline.
  static func fleetLines(_ step: PlannedStep) -> [String] {
    guard step.hostScoped else { return [] }
    let indent = String(repeating: " ", count: 5)
    guard case .rolling = step.step.kind else {
      let hosts = step.hosts.isEmpty ? "(no host selected)" : step.hosts.joined(separator: " ")
      return [indent + "on hosts: \(hosts)"] + hostDetailLines(step, indent: indent + "  ")
    }
    var lines: [String] = []
    if step.batches.isEmpty { lines.append(indent + "batches: (no host selected)") }
    for (index, batch) in step.batches.enumerated() {
      lines.append(indent + "batch \(index + 1)/\(step.batches.count): \(batch.joined(separator: " "))")
    }
    lines.append(indent + "on each host, in order:")
    for (index, inner) in step.pipeline.enumerated() {
      let marker = inner.mutates ? "MUTATES  " : "read-only"
      let once = inner.step.once ? " (once per run)" : ""
      lines.append(
        indent + "  \(index + 1). \(inner.step.id)  \(inner.kind)  \(marker)  \(inner.detail)\(once)")
      lines += hostDetailLines(inner, indent: indent + "       ")
    }
    return lines
  }

  static func human(_ plan: Plan) -> String {
    var lines = ["Plan for \(plan.target) — \(plan.title)"]
    var facts = ["runbook \(plan.runbook)", "environment \(plan.environment)"]
    if let target = plan.targetSeconds { facts.append("target \(Quantity.format(seconds: target))") }
    let mutating = plan.steps.filter(\.mutates).count
    facts.append("\(plan.steps.count) steps, \(mutating) mutating")
    lines.append(facts.joined(separator: " · "))
    lines.append("")
    let width = min(32, plan.steps.map(\.id.count).max() ?? 0)
    for (index, step) in plan.steps.enumerated() {
      let number = String(index + 1).leftPadded(to: 3)
      let marker = step.mutates ? "MUTATES  " : "read-only"
      var line =
        "\(number). \(step.id.rightPadded(to: width))  \(step.kind.rightPadded(to: 7))  \(marker)  \(step.detail)"
      if let name = step.name { line += "\n" + String(repeating: " ", count: 5) + "— \(name)" }
      if let condition = step.condition {
        line += "\n" + String(repeating: " ", count: 5) + "only when \(condition.text)"
      }
      if step.step.skipInDrill {
        line += "\n" + String(repeating: " ", count: 5) + "drill: skipped in a drill (drill: skip)"
      }
      for fleetLine in fleetLines(step) { line += "\n" + fleetLine }
      if let gate = step.gates.last, step.id.hasPrefix(gate.id + "."),
        index == 0 || !(plan.steps[index - 1].id.hasPrefix(gate.id + "."))
      {
        line =
          String(repeating: " ", count: 5)
          + "[\(gate.id): only when \(gate.condition.text), decided once here]\n" + line
      }
      if let note = step.note { line += "\n" + String(repeating: " ", count: 5) + "note: \(note)" }
      lines.append(line)
    }
    return lines.joined(separator: "\n")
  }
}
