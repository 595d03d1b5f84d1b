import ArgumentParser
import Foundation
import RollbackCore

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

  @OptionGroup var hostLimit: HostLimitOption

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
    if let hosts = hostLimit.hosts {
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

extension String {
  func rightPadded(to width: Int) -> String {
    count >= width ? self : self + String(repeating: " ", count: width - count)
  }
  func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: " ", count: width - count) + self
  }
}
