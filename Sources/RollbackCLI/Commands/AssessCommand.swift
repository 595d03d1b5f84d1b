import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `rollback assess`: read every signal in parallel, run the decision matrix, explain it.
struct AssessCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "assess",
    abstract: "Read every signal in parallel, run the decision matrix and recommend an action.",
    usage: "rollback assess [--signal <name=value>] [--watch <interval>] [<options>]",

    discussion: """
      Prints each signal's value (or why it is unknown), each rule of the decision matrix \
      with the comparisons that held, and the verdict: its severity, how soon to respond, \
      and the action in words with the exact command to run. A signal that cannot be read \
      is unknown, and unknown is never healthy.

      The assessment is also saved as STATE/assessments/TIMESTAMP.json (the --json document).

      Exit status: 0 healthy, 3 inconclusive, 10 low, 11 medium, 12 high, 13 critical, \
      2 bad input. With --watch it re-assesses every INTERVAL, prints only what changed \
      (with --json: one JSON document per line for each assessment that changed), stops on \
      SIGINT or SIGTERM, and exits with the status of the last assessment.
      """)

  @OptionGroup var options: RunbookOptions
  @OptionGroup var variables: VariableOptions

  @Option(
    name: .customLong("signal"),
    help: ArgumentHelp(
      "Give a signal's value by hand, e.g. complaints_per_hour=7 or error_rate=2% (repeatable).",
      discussion: "Sets manual signals and overrides measured ones; shown as \"set by hand\".",
      valueName: "name=value"))
  var handValues: [String] = []

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Re-assess every INTERVAL (e.g. 10s, 1m) until interrupted, printing only changes.",
      valueName: "interval"))
  var watch: String?

  @Option(name: .customLong("watch-count"), help: .hidden)
  var watchCount: Int?

  func run() async throws {
    let overrides = try variables.overrides()
    let loaded = try LoadedRunbook.load(options, overrides: overrides, printWarnings: false)
    let runbook = try loaded.runbook()
    let manual: ManualValues
    do {
      manual = try ManualValues(parsing: handValues, runbook: runbook)
    } catch {
      throw DiagnosticPrinter(showsPlace: false).fail(error.diagnostics)
    }
    let interval = try watchInterval()
    let processEnvironment = ProcessInfo.processInfo.environment
    let stateDirectory = StateDirectory(
      option: options.stateDir, processEnvironment: processEnvironment, runbookPath: loaded.path
    ).path
    let resolver = try makeResolver(runbook, options: options, overrides: overrides, resolveSecrets: true)
    // A signal whose connection variable is unset is read as unknown ("DATABASE_URL is not set"):
    // the others are still shown, and the decision rules treat the unknown ones as unknown.
    let assessor = Assessor(
      runbook: runbook, environmentName: resolver.environment.name, manual: manual,
      reader: LiveSignalReader(resolver: resolver, processEnvironment: processEnvironment),
      invocation: invocationSuffix(
        runbookPath: loaded.path, environment: resolver.environment.name,
        stateDirectory: stateDirectory))

    if let interval {
      let status = await WatchLoop(
        assessor: assessor, interval: interval, limit: watchCount, json: options.json,
        stateDirectory: stateDirectory
      ).run()
      if status != .success { throw ExitCode(status) }
      return
    }

    let assessment = await assessor.assess()
    let document = AssessRendering.json(assessment)
    let saved = AssessmentStore.save(document, at: assessment.assessedAt, stateDirectory: stateDirectory)
    if options.json {
      Output.write(document.pretty())
      Console.error(AssessRendering.human(assessment))
    } else {
      let text = AssessRendering.human(assessment)
      Output.write(
        AssessRendering.wantsColour(STDOUT_FILENO, processEnvironment: processEnvironment)
          ? AssessRendering.coloured(text, assessment: assessment) : text)
    }
    switch saved {
    case .saved(let path): Console.human("Saved to \(path)", json: options.json, write: Output.write)
    case .failed(let problem): Console.error("warning: \(problem)")
    }
    let status = assessment.verdict.exitStatus
    if status != .success { throw ExitCode(status) }
  }

  /// Refuses `--watch-count` without `--watch`, a count below 1 and a bad interval.
  func validate() throws {
    _ = try watchInterval()
  }

  /// The `--watch` interval in seconds, nil without `--watch`.
  func watchInterval() throws(ValidationError) -> Double? {
    if watchCount != nil, watch == nil { throw ValidationError("--watch-count needs --watch INTERVAL") }
    if let count = watchCount, count < 1 { throw ValidationError("--watch-count must be at least 1") }
    guard let watch else { return nil }
    guard let seconds = Quantity.seconds(watch), seconds > 0 else {
      throw ValidationError("--watch expects a duration such as 10s, 500ms or 1m, found '\(watch)'")
    }
    guard seconds <= Quantity.maximumSeconds else {
      throw ValidationError("--watch \(watch) is too long; at most 168h (7 days)")
    }
    return seconds
  }

  /// The options that make the recommended command act on the same runbook, environment, state
  /// directory and variables, from any directory.
  func invocationSuffix(runbookPath: String, environment: String, stateDirectory: String) -> [String] {
    let runbook = AdviceCommand.absolute(runbookPath)
    // The recommended command names the environment itself (`--env NAME`).
    var words = ["--runbook", runbook]
    let state = AdviceCommand.absolute(stateDirectory)
    if state != AdviceCommand.absolute(StateDirectory.defaultPath(forRunbook: runbook)) {
      words += ["--state-dir", state]
    }
    for item in variables.vars {
      // A secret never reaches the output: a secret variable's value, or a URL's password, is masked.
      guard let equals = item.firstIndex(of: "=") else { continue }
      let name = String(item[..<equals])
      let value = String(item[item.index(after: equals)...])
      let shown = InterpolationContext.isSecretName(name) ? "****" : Redaction.text(value)
      words += ["--var", "\(name)=\(shown)"]
    }
    return words
  }
}

/// Writes to stdout without buffering, so a watcher sees each change at once.
enum Output {
  static func write(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
  }
}

extension Console {
  /// Human text: `write` normally, stderr when stdout carries JSON.
  static func human(_ text: String, json: Bool, write: (String) -> Void) {
    if json { error(text) } else { write(text) }
  }
}
