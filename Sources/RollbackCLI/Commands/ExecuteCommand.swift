import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// Where runs, the lock and backups live: `--state-dir`, else `ROLLBACK_STATE_DIR`, else `.rollback/` beside the runbook.
func stateDirectory(_ options: RunbookOptions, runbookPath: @autoclosure () throws -> String) rethrows
  -> String
{
  try StateDirectory(
    option: options.stateDir, processEnvironment: ProcessInfo.processInfo.environment,
    runbookPath: try runbookPath()
  ).path
}

/// Runs an executor with SIGINT/SIGTERM wired to cancellation, and prints its result.
func perform(_ request: ExecutionRequest, options: RunbookOptions) async throws -> RunResult {
  SignalTrap.ignoreSIGPIPE()
  ProcessRunner.adoptOrphans()
  let json = options.json
  let printer = TerminalPrinter(json: json, quiet: options.quiet, verbose: options.verbose)
  let executor: Executor
  do {
    executor = try Executor(request: request) { line in printer.print(line) }
  } catch {
    error.diagnostics.forEach { Console.error($0.description) }
    throw ExitCode(.usage)
  }
  let task = Task { await executor.run() }
  let trap = SignalTrap.install { _ in task.cancel() }
  let result = await task.value
  trap.cancel()
  if json {
    Console.output(RunRendering.json(result).pretty())
  }
  if !options.quiet { printer.print(OutputLine(.detail, "")) }
  printer.print(OutputLine(.summary, RunRendering.summary(result)))
  return result
}

/// `rollback execute`: run a level's or scenario's steps.
struct ExecuteCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "execute",
    abstract: "Run a level's or scenario's steps; journal each; report the time against the target.",
    usage: "rollback execute --level <n> | --scenario <name> [<options>]",
    discussion: """
      Preflight checks every file, command and variable before the first change. The run holds \
      STATE/lock; a second execution exits 4. Every step is journalled in STATE/runs/RUN_ID.jsonl; \
      an interrupted run (exit 130) continues with `rollback resume`.
      """)

  @OptionGroup var options: RunbookOptions
  @OptionGroup var targetOptions: TargetOptions
  @OptionGroup var variables: VariableOptions

  @Flag(
    name: .customLong("dry-run"),
    help: "Rehearse: run the reads before the first change, describe every change, change nothing.")
  var dryRun = false

  @Flag(name: .long, help: "Answer yes to every confirm gate.")
  var yes = false

  @Option(
    name: .long, help: ArgumentHelp("Start at this step id, skipping the ones before.", valueName: "step"),
    completion: Completions.steps)
  var from: String?

  @Option(
    name: .customLong("signal"),
    help: ArgumentHelp(
      "Set a signal's value by hand (repeatable), e.g. complaints_per_hour=7.", valueName: "name=value"))
  var signals: [String] = []

  @OptionGroup var hostLimit: HostLimitOption

  func validate() throws {
    try targetOptions.validateOne()
  }

  func run() async throws {
    let target = try targetOptions.target()
    let overrides = try variables.overrides()
    let loaded = try LoadedRunbook.load(options, overrides: overrides, printWarnings: false)
    let runbook = try loaded.runbook()
    try CommandLineChecks.check(target, in: runbook)
    let limit = try hostLimit.select(runbook: runbook, options: options, overrides: overrides)
    if let from {
      // An unknown step is a mistake of the command line: refuse before anything runs.
      // A runbook that cannot be planned is reported by the run itself, with every problem.
      if let plan = try? Resolver.resolving(
        runbook: runbook, environmentName: options.env,
        processEnvironment: ProcessInfo.processInfo.environment, overrides: overrides,
        resolveSecrets: false
      ).plan(of: target) {
        try CommandLineChecks.check(step: from, option: "--from", in: plan)
      }
    }
    let manual: ManualValues
    do { manual = try ManualValues(parsing: signals, runbook: runbook) } catch {
      error.diagnostics.forEach { Console.error("error: \($0.message)") }
      throw ExitCode(.usage)
    }
    var request = ExecutionRequest(
      runbook: runbook, runbookPath: loaded.path,
      runbookHash: ContentHash.of(Array(loaded.result.source.utf8)),
      target: target, environmentName: options.env, overrides: overrides,
      processEnvironment: ProcessInfo.processInfo.environment, manual: manual, dryRun: dryRun, assumeYes: yes,
      canPrompt: isatty(STDIN_FILENO) == 1, stateDirectory: stateDirectory(options, runbookPath: loaded.path),
      fromStep: from)
    request.hostLimit = limit
    let result = try await perform(request, options: options)
    if result.exitCode != 0 { throw ExitCode(result.exitCode) }
  }
}
