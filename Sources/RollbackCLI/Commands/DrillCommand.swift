import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `rollback drill`: the seed's rollback test, scripted.
struct DrillCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "drill",
    abstract:
      "Rehearse a level for real: flag on, restart and verify, execute the level, verify again, time it.",
    usage: "rollback drill --level <n> [--junit <file>] [--yes] [--page] [<options>]",
    discussion: """
      Meant for staging and CI. Exit 0 only when every step passed and the rollback (the level's \
      own steps) finished within the level's target. --junit writes one test case per step.
      """)

  @OptionGroup var options: RunbookOptions
  @OptionGroup var variables: VariableOptions

  @Option(
    name: .long, help: ArgumentHelp("The level to drill.", valueName: "n"), completion: Completions.levels)
  var level: Int

  @Option(name: .long, help: ArgumentHelp("Write a JUnit XML report here.", valueName: "file"))
  var junit: String?

  @Flag(name: .long, help: "Answer yes to every confirm gate.")
  var yes = false

  @Flag(name: .long, help: "Send PagerDuty alert events too (a drill sends only change events by default).")
  var page = false

  @OptionGroup var hostLimit: HostLimitOption

  func run() async throws {
    let overrides = try variables.overrides()
    let loaded = try LoadedRunbook.load(options, overrides: overrides, printWarnings: false)
    let runbook = try loaded.runbook()
    try CommandLineChecks.check(.level(level), in: runbook)
    let limit = try hostLimit.select(runbook: runbook, options: options, overrides: overrides)
    var request = ExecutionRequest(
      runbook: runbook, runbookPath: loaded.path,
      runbookHash: ContentHash.of(Array(loaded.result.source.utf8)),
      target: .level(level), environmentName: options.env, overrides: overrides,
      processEnvironment: ProcessInfo.processInfo.environment, manual: ManualValues(), dryRun: false,
      assumeYes: yes,
      canPrompt: isatty(STDIN_FILENO) == 1, stateDirectory: stateDirectory(options, runbookPath: loaded.path),
      kind: .drill)
    request.page = page
    request.hostLimit = limit
    let result = try await perform(request, options: options)
    if let junit {
      do {
        try JUnitReport.xml(result).write(toFile: junit, atomically: true, encoding: .utf8)
      } catch {
        Console.error("error: cannot write \(junit): \(error.localizedDescription)")
        throw ExitCode(.failed)
      }
    }
    if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    if result.withinTarget == false {
      Console.error("drill failed: the rollback took longer than the level's target")
      throw ExitCode(.failed)
    }
  }
}
