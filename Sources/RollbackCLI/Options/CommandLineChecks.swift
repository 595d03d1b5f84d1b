import Foundation
import RollbackCore

/// Checks of what the command line names (a level, a scenario, a step) against the runbook,
/// made before anything runs; a mistake is exit 2 naming what exists.
enum CommandLineChecks {
  /// Throws a usage error when the runbook has no such level or scenario.
  static func check(_ target: IncludeTarget, in runbook: Runbook) throws {
    switch target {
    case .level(let number):
      guard runbook.level(number) == nil else { return }
      let numbers = runbook.levels.map { String($0.number) }.joined(separator: ", ")
      throw CLIError.usage("unknown level \(number) (levels: \(numbers.isEmpty ? "none" : numbers))")
    case .scenario(let name):
      guard runbook.scenario(named: name) == nil else { return }
      let names = runbook.scenarios.map(\.name)
      throw CLIError.usage(
        "unknown scenario '\(name)'\(suggestion(for: name, in: names)) (scenarios: \(names.isEmpty ? "none" : names.joined(separator: ", ")))"
      )
    }
  }

  /// Throws a usage error when `step` (given to `option`) is not a step id of the plan.
  static func check(step: String, option: String, in plan: Plan) throws {
    let ids = plan.steps.map(\.id)
    guard !ids.contains(step) else { return }
    throw CLIError.usage(
      "\(option): no step '\(step)' in \(plan.target)\(suggestion(for: step, in: ids)) (steps: \(ids.joined(separator: ", ")))"
    )
  }

  /// `; did you mean 'x'?`: the nearest spelling, else the one id that contains the word.
  static func suggestion(for word: String, in candidates: [String]) -> String {
    if let close = Suggest.closest(to: word, in: candidates) { return "; did you mean '\(close)'?" }
    let containing = candidates.filter { $0.lowercased().contains(word.lowercased()) }
    if containing.count == 1, let only = containing.first { return "; did you mean '\(only)'?" }
    return ""
  }
}
