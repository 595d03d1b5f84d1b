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
