import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

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

  @Flag(
    name: .customLong("only-failed"),
    help: "Re-run just the failed hosts of the failed host-scoped step, and nothing after it.")
  var onlyFailed = false

  func run() async throws {
    let path = try options.runbookPath()
    let state = stateDirectory(options, runbookPath: path)
    let (id, events, progress) = try Self.journal(runID, stateDirectory: state)
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
    // A run limited with --hosts goes on with the hosts it selected.
    let limit = started.hostLimit.map { HostLimit(pattern: $0, hosts: Set(started.limitedHosts)) }
    var request = ExecutionRequest(
      runbook: runbook, runbookPath: loaded.path, runbookHash: hash, target: try Self.target(of: started, id),
      environmentName: runbookOptions.env, overrides: overrides,
      processEnvironment: ProcessInfo.processInfo.environment,
      manual: ManualValues(), dryRun: false, assumeYes: yes, canPrompt: isatty(STDIN_FILENO) == 1,
      stateDirectory: state,
      resume: try resumePoint(id, progress, events),
      kind: .resume)
    request.hostLimit = limit
    let result = try await perform(request, options: options)
    if result.exitCode != 0 { throw ExitCode(result.exitCode) }
  }
}

extension ResumeCommand {
  /// The run `runID` (default: the latest) in `state`: its id, journal events and progress.
  static func journal(_ runID: String?, stateDirectory state: String) throws -> (
    String, [JournalEvent], JournalProgress
  ) {
    guard let id = runID ?? JournalReader.runIDs(stateDirectory: state).last else {
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
    return (id, events, progress)
  }

  /// The level or scenario the run was started for.
  static func target(of started: RunStartedEvent, _ id: String) throws -> IncludeTarget {
    if let level = started.level { return .level(level) }
    if let scenario = started.scenario { return .scenario(scenario) }
    Console.error("error: journal of run \(id) names no level or scenario")
    throw ExitCode(.usage)
  }

  /// Where the run stands, with the flag writes it journalled (for the pickup proof of a
  /// restart still to run); with `--only-failed`, its failed step's failed hosts (an error
  /// when it has none).
  func resumePoint(_ id: String, _ progress: JournalProgress, _ events: [JournalEvent]) throws -> ResumePoint
  {
    var point = ResumePoint(runID: id, progress: progress)
    point.flagSteps = events.compactMap { event in
      guard case .stepFinished(let step) = event, step.flagChanges.contains(where: { $0.changed == true })
      else { return nil }
      return step
    }
    guard onlyFailed else { return point }
    guard let step = progress.lastFailedStep, let hosts = progress.hostsFailed[step], !hosts.isEmpty else {
      Console.error(
        "error: --only-failed: run \(id) has no host-scoped step that failed on some hosts; "
          + "use `rollback resume \(id)` to continue it")
      throw ExitCode(2)
    }
    point.onlyFailed = (step, hosts)
    return point
  }

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
