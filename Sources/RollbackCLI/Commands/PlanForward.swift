import ArgumentParser
import Foundation
import RollbackCore

/// `rollback plan --forward RUN_ID`: the plan that undoes a finished rollback.
enum PlanForward {
  /// How the plan is printed.
  enum Format: String, ExpressibleByArgument, CaseIterable {
    /// Numbered steps for people.
    case human
    /// The runbook with the plan added as scenario `forward-RUN_ID`.
    case runbook
  }

  static func run(runID: String, format: Format, options: RunbookOptions) throws {
    let state = try RunStore.state(options)
    let report = try RunStore.report(state: state, runID: runID)
    if report.dryRun {
      throw CLIError.usage("run \(runID) was a dry run: it changed nothing to roll forward")
    }
    if report.status == "in progress" {
      throw CLIError.usage("run \(runID) is still running: plan the roll-forward once it has finished")
    }
    let loaded = try LoadedRunbook.load(options, printWarnings: false)
    let runbook = try loaded.runbook()
    guard report.runbook == runbook.name else {
      throw CLIError.usage(
        "run \(runID) is of runbook '\(report.runbook)', not '\(runbook.name)' (\(loaded.path))")
    }
    let plan = ForwardPlanner.plan(report, runbook: runbook)
    switch format {
    case .human:
      Console.output(plan.human)
    case .runbook:
      for note in plan.notes { Console.error("note: \(note)") }
      do {
        FileHandle.standardOutput.write(Data(try plan.runbook(source: loaded.result.source).utf8))
      } catch {
        throw CLIError.usage("\(error.description) (run \(runID))")
      }
    }
  }
}
