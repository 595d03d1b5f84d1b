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

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Limit host-scoped steps to matching hosts (not available yet: fleet execution needs the ssh transport).",
      valueName: "pattern[,pattern]"))
  var hosts: String?

  func validate() throws {
    try targetOptions.validateOne()
  }

  func run() async throws {
    if hosts != nil {
      Console.error(
        "error: --hosts: fleet execution is not available yet; nothing was run "
          + "(`rollback plan --hosts` shows the hosts and batches)")
      throw ExitCode(.usage)
    }
    let target = try targetOptions.target()
    let overrides = try variables.overrides()
    let loaded = try LoadedRunbook.load(options, overrides: overrides, printWarnings: false)
    let runbook = try loaded.runbook()
    try CommandLineChecks.check(target, in: runbook)
    if let from {
      // An unknown step is a mistake of the command line: refuse before anything runs.
      if case .success(let resolver) = Resolver.make(
        runbook: runbook, environmentName: options.env,
        processEnvironment: ProcessInfo.processInfo.environment, overrides: overrides,
        resolveSecrets: false),
        case .success(let plan) = resolver.plan(target)
      {
        try CommandLineChecks.check(step: from, option: "--from", in: plan)
      }
    }
    let manual: ManualValues
    switch ManualValues.parse(signals, runbook: runbook) {
    case .success(let values): manual = values
    case .failure(let list):
      list.diagnostics.forEach { Console.error("error: \($0.message)") }
      throw ExitCode(.usage)
    }
    let request = ExecutionRequest(
      runbook: runbook, runbookPath: loaded.path,
      runbookHash: ContentHash.of(Array(loaded.result.source.utf8)),
      target: target, environmentName: options.env, overrides: overrides,
      processEnvironment: ProcessInfo.processInfo.environment, manual: manual, dryRun: dryRun, assumeYes: yes,
      canPrompt: isatty(STDIN_FILENO) == 1, stateDirectory: stateDirectory(options, runbookPath: loaded.path),
      fromStep: from)
    let result = try await perform(request, options: options)
    if result.exitCode != 0 { throw ExitCode(result.exitCode) }
  }
}

/// `rollback resume`: continue an interrupted run.
struct ResumeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resume",
    abstract: "Continue an interrupted run from the first step not journalled as done.",
    usage: "rollback resume [<run-id>] [--yes] [--force] [<options>]",
    discussion: """
      Steps journalled as finished are not run again. A step that started but did not finish is \
      run again when it is idempotent (flag set/percent, check, assert, wait, GET/HEAD, read-only SQL); \
      otherwise you are asked (or --yes answers). A runbook that changed since the run started is \
      refused unless --force. Overrides given to the run are used again; a secret one is not \
      journalled, so pass it again with --var NAME=VALUE.
      """)

  @OptionGroup var options: RunbookOptions
  @OptionGroup var variables: VariableOptions

  @Argument(
    help: ArgumentHelp("The run to continue (default: the latest).", valueName: "run-id"),
    completion: Completions.runIDs)
  var runID: String?

  @Flag(name: .long, help: "Answer yes to every confirm gate and to repeating unfinished steps.")
  var yes = false

  @Flag(name: .long, help: "Resume even though the runbook changed since the run started.")
  var force = false

  func run() async throws {
    let path = try options.runbookPath()
    let state = stateDirectory(options, runbookPath: path)
    let ids = JournalReader.runIDs(stateDirectory: state)
    guard let id = runID ?? ids.last else {
      Console.error("error: no runs in \(state)/runs; nothing to resume")
      throw ExitCode(.usage)
    }
    let events: [JournalEvent]
    do {
      events = try JournalReader.events(at: JournalReader.path(stateDirectory: state, runID: id))
    } catch {
      Console.error("error: \(error.description)")
      throw ExitCode(.usage)
    }
    guard let progress = JournalProgress(events) else {
      Console.error("error: journal of run \(id) has no run-started event")
      throw ExitCode(.usage)
    }
    let started = progress.start
    if let status = progress.finalStatus, status == .succeeded || status == .dryRun {
      Console.human("run \(id) already finished (\(status.rawValue)); nothing to resume", json: options.json)
      return
    }
    if started.dryRun == true {
      Console.error("error: run \(id) was a dry run; start a new one with rollback execute")
      throw ExitCode(.usage)
    }
    let overrides = try Self.overrides(journalled: started, given: try variables.overrides(), runID: id)
    var runbookOptions = options
    if runbookOptions.runbook == nil { runbookOptions.runbook = started.runbookPath }
    if runbookOptions.env == nil { runbookOptions.env = started.environment }
    let loaded = try LoadedRunbook.load(runbookOptions, overrides: overrides, printWarnings: false)
    let runbook = try loaded.runbook()
    let hash = ContentHash.of(Array(loaded.result.source.utf8))
    if let recorded = started.runbookHash, recorded != hash, !force {
      Console.error(
        "error: \(loaded.path) changed since run \(id) started; resuming could run different steps. Check it, then rerun with --force"
      )
      throw ExitCode(.usage)
    }
    let target: IncludeTarget
    if let level = started.level {
      target = .level(level)
    } else if let scenario = started.scenario {
      target = .scenario(scenario)
    } else {
      Console.error("error: journal of run \(id) names no level or scenario")
      throw ExitCode(.usage)
    }
    let request = ExecutionRequest(
      runbook: runbook, runbookPath: loaded.path, runbookHash: hash, target: target,
      environmentName: runbookOptions.env, overrides: overrides,
      processEnvironment: ProcessInfo.processInfo.environment,
      manual: ManualValues(), dryRun: false, assumeYes: yes, canPrompt: isatty(STDIN_FILENO) == 1,
      stateDirectory: state,
      resume: ResumePoint(runID: id, progress: progress),
      kind: .resume)
    let result = try await perform(request, options: options)
    if result.exitCode != 0 { throw ExitCode(result.exitCode) }
  }
}

extension ResumeCommand {
  /// The run's overrides: those journalled, with `--var` on top. A secret override was
  /// journalled by name only (or, in older journals, masked): it must be given again, never
  /// replaced by the default or `****`. A different value for a journalled one is a warning.
  static func overrides(journalled started: RunStartedEvent, given: [String: String], runID: String) throws
    -> [String: String]
  {
    var overrides: [String: String] = [:]
    var needed: [String] = started.secretVars
    for (name, text) in started.vars {
      if text.contains(Redaction.mask) {
        needed.append(name)
      } else {
        overrides[name] = text
      }
    }
    for (name, value) in given.sorted(by: { $0.key < $1.key }) {
      if let original = overrides[name], original != value {
        Console.error(
          "warning: --var \(name)=\(value) differs from run \(runID)'s \(name)=\(original); using \(value)")
      }
      overrides[name] = value
    }
    let missing = Set(needed).subtracting(given.keys).sorted()
    guard missing.isEmpty else {
      let flags = missing.map { "--var \($0)=…" }.joined(separator: " ")
      Console.error(
        "error: run \(runID) was started with secret variable\(missing.count == 1 ? "" : "s") "
          + "\(missing.joined(separator: ", ")), which the journal does not keep; resume with \(flags)")
      throw ExitCode(.usage)
    }
    return overrides
  }
}
