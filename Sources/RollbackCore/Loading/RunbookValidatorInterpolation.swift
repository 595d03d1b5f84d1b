/// Checks that interpolated values stay data where they land: commands and SQL.
extension RunbookValidator {
  mutating func checkInterpolation() {
    var steps: [Step] = []
    for level in runbook.levels { steps += level.steps }
    for scenario in runbook.scenarios { steps += scenario.steps }
    for step in Self.flattened(steps) {
      switch step.kind {
      case .run(let command): checkCommandInterpolation(command, what: "step '\(step.id)'")
      case .sql(let query, _):
        for problem in SQLInterpolation.problems(in: query) { bag.error(query.location, problem) }
      default: break
      }
    }
    for signal in runbook.signals {
      if case .postgres(let query) = signal.source {
        for problem in SQLInterpolation.problems(in: query) { bag.error(query.location, problem) }
      }
    }
    for (name, service) in runbook.services.sorted(by: { $0.key < $1.key }) {
      if let restart = service.restart { checkCommandInterpolation(restart, what: "service '\(name)'") }
      if let rebuild = service.rebuild { checkCommandInterpolation(rebuild, what: "service '\(name)'") }
    }
  }

  /// Shell placement problems are errors; a secret in the command line is a warning, since
  /// every local user can read a process's arguments (`ps`).
  mutating func checkCommandInterpolation(_ command: CommandSpec, what: String) {
    let line: [Template]
    switch command.program {
    case .argv(let argv): line = argv
    case .shell(let text):
      line = [text]
      for problem in ShellInterpolation.problems(in: text) { bag.error(text.location, problem) }
    }
    for template in line {
      for case .secret(let name) in template.parts {
        bag.warning(
          template.location,
          "${secret.\(name)} in the command line of \(what) is visible to every local user (ps); "
            + "pass it as env: {\(name): \"${secret.\(name)}\"} and read $\(name) instead")
      }
    }
  }
}
