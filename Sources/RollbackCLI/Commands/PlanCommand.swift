import ArgumentParser
import Foundation
import RollbackCore

/// Chooses a level or a scenario.
struct TargetOptions: ParsableArguments {
  @Option(
    name: .long, help: ArgumentHelp("The rollback level.", valueName: "n"), completion: Completions.levels)
  var level: Int?

  @Option(
    name: .long, help: ArgumentHelp("The scenario.", valueName: "name"), completion: Completions.scenarios)
  var scenario: String?

  /// Refuses both `--level` and `--scenario`.
  func validate() throws {
    if level != nil, scenario != nil { throw ValidationError("give --level or --scenario, not both") }
  }

  /// Refuses neither `--level` nor `--scenario` (for the commands that need a target).
  func validateOne() throws {
    if level == nil, scenario == nil { throw ValidationError("give --level N or --scenario NAME") }
  }

  /// The chosen level or scenario (``validate()`` and ``validateOne()`` have passed).
  func target() throws -> IncludeTarget {
    switch (level, scenario) {
    case (let level?, nil): return .level(level)
    case (nil, let scenario?): return .scenario(scenario)
    case (.some, .some): throw CLIError.usage("give --level or --scenario, not both")
    case (nil, nil): throw CLIError.usage("give --level N or --scenario NAME")
    }
  }
}

/// `rollback plan`: the resolved steps in order.
struct PlanCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "plan",
    abstract: "Show the resolved steps of a level or scenario, in order, marking which mutate.",
    usage: """
      rollback plan --level <n> | --scenario <name> | --list [<options>]
      rollback plan --forward <run-id> [--format human|runbook] [<options>]
      """,
    discussion: """
      Includes are expanded and variables interpolated; secrets are shown as ****. \
      --list shows the runbook's levels and scenarios instead, with their titles and targets.
      """)

  @OptionGroup var options: RunbookOptions
  @OptionGroup var targetOptions: TargetOptions
  @OptionGroup var variables: VariableOptions

  @Flag(name: .long, help: "List the levels and scenarios, with titles and targets.")
  var list = false

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Limit host-scoped steps to matching hosts: globs on host and group names, comma-separated; !PATTERN excludes.",
      valueName: "pattern[,pattern]"))
  var hosts: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Plan the roll-forward of a finished run: its flags back, stage by stage, with restarts and waits.",
      valueName: "run-id"))
  var forward: String?

  @Option(name: .long, help: "With --forward: human, or runbook (the runbook with scenario forward-RUN_ID).")
  var format: PlanForward.Format = .human

  func validate() throws {
    if forward != nil {
      if list || targetOptions.level != nil || targetOptions.scenario != nil {
        throw ValidationError("give --forward RUN_ID, or --level/--scenario/--list, not both")
      }
      return
    }
    if format != .human { throw ValidationError("--format \(format.rawValue) goes with --forward RUN_ID") }
    if list {
      if targetOptions.level != nil || targetOptions.scenario != nil {
        throw ValidationError("give --list, or --level/--scenario, not both")
      }
    } else {
      try targetOptions.validateOne()
    }
  }

  func run() async throws {
    if let forward {
      try PlanForward.run(runID: forward, format: format, options: options)
      return
    }
    if list {
      let overrides = try variables.overrides()
      let runbook = try LoadedRunbook.load(options, overrides: overrides, printWarnings: false).runbook()
      if options.json {
        print(PlanRendering.listJSON(runbook).pretty())
      } else {
        print(PlanRendering.list(runbook))
      }
      return
    }
    let target = try targetOptions.target()
    let overrides = try variables.overrides()
    let runbook = try LoadedRunbook.load(options, overrides: overrides, printWarnings: false).runbook()
    try CommandLineChecks.check(target, in: runbook)
    var resolver = try makeResolver(runbook, options: options, overrides: overrides)
    if let hosts {
      switch resolver.environment.inventory.select(hosts) {
      case .success(let selected): resolver.selectedHosts = Set(selected.map(\.name))
      case .failure(let error):
        Console.error("error: \(error.description)")
        throw ExitCode(.usage)
      }
    }
    let plan: Plan
    do {
      plan = try resolver.plan(of: target)
    } catch {
      throw DiagnosticPrinter(environmentOption: options.env).fail(error.diagnostics)
    }
    if options.json {
      print(PlanRendering.json(plan).pretty())
    } else {
      print(PlanRendering.human(plan))
    }
  }
}

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
      ("level", .int(plan.level)),
      ("scenario", .string(plan.scenario)), ("title", .string(plan.title)),
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
    let what = plan.level.map { "level \($0)" } ?? "scenario \(plan.scenario ?? "")"
    var lines = ["Plan for \(what) — \(plan.title)"]
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

extension String {
  func rightPadded(to width: Int) -> String {
    count >= width ? self : self + String(repeating: " ", count: width - count)
  }
  func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: " ", count: width - count) + self
  }
}
