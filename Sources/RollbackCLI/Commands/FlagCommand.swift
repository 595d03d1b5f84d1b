import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `rollback flag`: read or change a flag directly, atomically, in every file it lives in.
struct FlagCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "flag",
    abstract: "Read or change a feature flag in every file it lives in.",
    discussion: """
      NAME may be left out when the runbook has one flag. Changes are atomic per file, keep every \
      other byte, hold STATE/lock and leave backups in STATE/backups/.
      """,
    subcommands: [
      FlagStatusCommand.self, FlagEnableCommand.self, FlagDisableCommand.self, FlagPercentCommand.self,
      FlagStepDownCommand.self,
    ])
}

/// `rollback flag status [NAME]`.
struct FlagStatusCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status", abstract: "Show the flag's value in each of its files (every flag without NAME).")

  @OptionGroup var target: FlagTarget

  @Flag(name: .long, help: "Beside each file value, the value the running process reports (pickup.http).")
  var live = false

  func run() async throws {
    if live { return try await target.flag.showLive(name: target.name) }
    try await target.perform(nil)
  }
}

/// `rollback flag enable [NAME]`.
struct FlagEnableCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "enable", abstract: "Set the flag to its enabled value in every file.")

  @OptionGroup var target: FlagTarget

  func run() async throws { try await target.perform(.enable) }
}

/// `rollback flag disable [NAME]`.
struct FlagDisableCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "disable", abstract: "Set the flag to its disabled value in every file.")

  @OptionGroup var target: FlagTarget

  func run() async throws { try await target.perform(.disable) }
}

/// `rollback flag percent N [NAME]`: N stands between the options and NAME, so it declares
/// them apart.
struct FlagPercentCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "percent", abstract: "Set the flag's percent_key to N (0 to 100) in every file.")

  @OptionGroup var flag: FlagOptions

  @Argument(help: ArgumentHelp("The percentage, from 0 to 100.", valueName: "n"))
  var percent: Int

  @OptionGroup var flagName: FlagName

  func validate() throws {
    guard (0...100).contains(percent) else {
      throw ValidationError("flag percent needs a number from 0 to 100: rollback flag percent 10 [NAME]")
    }
  }

  func run() async throws { try await flag.perform(.percent(percent), name: flagName.name) }
}

/// `rollback flag step-down [NAME]`.
struct FlagStepDownCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "step-down", abstract: "Move the flag one stage down its ladder (stages) in every file.")

  @OptionGroup var target: FlagTarget

  func run() async throws { try await target.perform(.stepDown) }
}

/// The optional NAME argument of every `rollback flag` subcommand.
struct FlagName: ParsableArguments {
  @Argument(help: ArgumentHelp("The flag.", valueName: "name"), completion: Completions.flags)
  var name: String?
}

/// What `rollback flag status|enable|disable|step-down` take: the shared options, then NAME.
struct FlagTarget: ParsableArguments {
  @OptionGroup var flag: FlagOptions
  @OptionGroup var flagName: FlagName

  /// The flag's name, nil when left out.
  var name: String? { flagName.name }

  /// Reads (`change` nil) or changes the named flag (or every flag / the only flag).
  func perform(_ change: FlagChange?) async throws { try await flag.perform(change, name: name) }
}

/// The options every `rollback flag` action shares, and the action itself.
struct FlagOptions: ParsableArguments {
  @OptionGroup var options: RunbookOptions
  @OptionGroup var variables: VariableOptions

  @Flag(name: .customLong("dry-run"), help: "Show the change as a diff; write nothing.")
  var dryRun = false

  /// Accepted, as cli.md lists it for every changing command, but flag changes ask nothing.
  @Flag(name: .long, help: .hidden)
  var yes = false

  @Option(
    name: .long,
    help: ArgumentHelp(
      "For flags on hosts: only the matching hosts (globs on host and group names, comma-separated; !PATTERN excludes).",
      valueName: "pattern[,pattern]"))
  var hosts: String?

  /// Reads (`change` nil) or changes the flag `name` (or every flag / the only flag).
  func perform(_ change: FlagChange?, name: String?) async throws {
    if yes {
      Console.error("warning: --yes does nothing for rollback flag (it asks nothing) and will be removed")
    }
    let overrides = try variables.overrides()
    let loaded = try LoadedRunbook.load(options, overrides: overrides, printWarnings: false)
    let runbook = try loaded.runbook()
    var resolver = try makeResolver(runbook, options: options, overrides: overrides)
    let names = try Self.flagNames(name, change: change, in: runbook, resolver: resolver)
    let onHosts = names.filter { !resolver.placement(ofFlag: $0).isEmpty }
    if let hosts {
      guard !onHosts.isEmpty else {
        throw CLIError.usage(
          "--hosts limits flags that live on hosts; \(names.joined(separator: ", ")) "
            + "\(names.count == 1 ? "lives" : "live") on this machine in environment '\(resolver.environment.name)'"
        )
      }
      switch resolver.environment.inventory.select(hosts) {
      case .success(let selected): resolver.selectedHosts = Set(selected.map(\.name))
      case .failure(let error): throw CLIError.usage(error.description)
      }
    }
    var bag = DiagnosticBag()
    let editors = names.compactMap { name -> FlagEditor? in
      guard let flag = runbook.flags[name], !onHosts.contains(name) else { return nil }
      return FlagEditor(flag: flag, files: flag.files.map { resolver.resolve($0, into: &bag).value })
    }
    if bag.hasErrors {
      throw DiagnosticPrinter(environmentOption: options.env).fail(bag.errors)
    }
    guard let change else {
      let fleet = try await FleetFlagStatus.read(onHosts, resolver: resolver)
      try showStatus(names, editors: editors, fleet: fleet, runbook: runbook)
      return
    }
    if !editors.isEmpty { try apply(change, with: editors, runbookPath: loaded.path) }
    try await applyOnHosts(change, onHosts, runbook: runbook, resolver: resolver, runbookPath: loaded.path)
  }

  /// Changes each flag that lives on hosts in its files on every selected host (a flag on
  /// hosts lives in files there: the local files are never touched); exit 1 when a host failed.
  func applyOnHosts(
    _ change: FlagChange, _ names: [String], runbook: Runbook, resolver: Resolver, runbookPath: String
  ) async throws {
    guard !names.isEmpty else { return }
    var results: [JSONValue] = []
    var ok = true
    for name in names {
      guard let flag = runbook.flags[name] else { continue }
      let outcome = try await FleetFlagChange(
        flag: flag, change: change, resolver: resolver, dryRun: dryRun, json: options.json,
        stateDirectory: stateDirectory(options, runbookPath: runbookPath)
      ).run()
      results.append(outcome.json)
      ok = ok && outcome.ok
    }
    if options.json { Console.output(JSONValue.array(results).pretty()) }
    if !ok { throw ExitCode(.failed) }
  }

  /// The flags the action is about: `name`, else every flag (status) or the only one; a change
  /// its flag cannot take is refused before anything is read.
  static func flagNames(_ name: String?, change: FlagChange?, in runbook: Runbook, resolver: Resolver) throws
    -> [String]
  {
    let names: [String]
    if let name {
      guard runbook.flags[name] != nil else {
        throw CLIError.usage(
          "unknown flag '\(name)' (flags: \(runbook.flags.keys.sorted().joined(separator: ", ")))")
      }
      names = [name]
    } else if change == nil {
      names = runbook.flags.keys.sorted()
    } else if runbook.flags.count == 1, let only = runbook.flags.keys.first {
      names = [only]
    } else {
      throw CLIError.usage("name the flag: \(runbook.flags.keys.sorted().joined(separator: ", "))")
    }
    // The rules `validate` applies to flag steps: no percentage without percent_key (the flag's
    // own key would get the number), no step-down without a ladder.
    for name in names {
      guard let flag = runbook.flags[name] else { continue }
      if case .percent = change, flag.percentKey == nil {
        throw CLIError.usage(
          "flag '\(name)' has no percent_key; a percent change needs one (it would write the number "
            + "into \(flag.key)); nothing was changed")
      }
      if change == .stepDown, flag.stages.count < 2 {
        throw CLIError.usage(
          "flag '\(name)' has no ladder to step down; give it percent_key and stages; nothing was changed")
      }
    }
    return names
  }

  /// `flag status`: each file's value and percentage (for a flag on hosts, a row per host and
  /// file, drift marked); exit 1 when a file cannot be read or a host cannot be reached.
  func showStatus(_ names: [String], editors: [FlagEditor], fleet: FleetFlagStatus?, runbook: Runbook) throws
  {
    var report: [JSONValue] = []
    var problems = 0
    var hostProblems = 0
    for name in names {
      if let fleet, let flag = runbook.flags[name], fleet.flags.contains(name) {
        let shown = fleet.show(flag, json: options.json)
        hostProblems += shown.problems
        report.append(shown.json)
        continue
      }
      guard let editor = editors.first(where: { $0.flag.name == name }) else { continue }
      let flag = editor.flag
      Console.human(
        "\(flag.name) (\(flag.key); on = \(flag.enabled), off = \(flag.disabled))", json: options.json)
      var files: [JSONValue] = []
      for file in editor.files {
        let read = FlagStatusReader.reading(of: file, flag: flag)
        let value = read.value
        let percent = read.percent
        let state: String
        var line: String
        if let error = read.error {
          problems += 1
          state = "error"
          line = "  \(file): error: \(error)"
        } else {
          state =
            value.map { $0 == flag.enabled ? "on" : ($0 == flag.disabled ? "off" : "other") } ?? "unset"
          line = "  \(file): \(value ?? "(unset)") [\(state)]"
          if let percentKey = flag.percentKey { line += " \(percentKey)=\(percent ?? "(unset)")" }
        }
        Console.human(line, json: options.json)
        files.append(
          .object([
            ("file", .string(file)), ("value", .string(value)), ("state", .string(state)),
            ("percent", .string(percent)), ("error", .string(read.error)),
          ]))
      }
      report.append(
        .object([("flag", .string(flag.name)), ("key", .string(flag.key)), ("files", .array(files))]))
    }
    if options.json { Console.output(JSONValue.array(report).pretty()) }
    if problems > 0 {
      Console.error("error: \(problems) file\(problems == 1 ? "" : "s") could not be read; see above")
    }
    if hostProblems > 0 {
      Console.error(
        "error: \(hostProblems) problem\(hostProblems == 1 ? "" : "s") on hosts (unreachable hosts, files that "
          + "cannot be read); see above")
    }
    if problems > 0 || hostProblems > 0 { throw ExitCode(.failed) }
  }

  /// Applies `change` to every file of each flag under the state directory's lock (none for a
  /// dry run), with backups; prints the diffs and a summary per flag.
  func apply(_ change: FlagChange, with editors: [FlagEditor], runbookPath: String) throws {
    let state = stateDirectory(options, runbookPath: runbookPath)
    let runID = RunID.make()
    let lock = try StateLock.take(state, runID: "flag-\(runID)", dryRun: dryRun)
    defer { lock?.release() }
    let backups = StateDirectory(path: state).backupsPath("flag-\(runID)")
    var results: [JSONValue] = []
    for editor in editors {
      do {
        for file in editor.files {
          _ = try? AtomicFile.cleanStrayTempFiles(in: (file as NSString).deletingLastPathComponent)
        }
        let result = try editor.apply(change, backupDirectory: backups, dryRun: dryRun)
        for diff in result.diffs { Console.human(diff, json: options.json) }
        Console.human("\(editor.flag.name): \(result.summary)", json: options.json)
        results.append(
          .object([
            ("flag", .string(editor.flag.name)), ("summary", .string(result.summary)),
            (
              "files",
              .array(
                result.changes.map {
                  .object([
                    ("file", .string($0.file)), ("key", .string($0.key)), ("before", .string($0.before)),
                    ("after", .string($0.after)), ("changed", .bool($0.changed)),
                    ("backup", .string($0.backup)),
                  ])
                })
            ),
          ]))
      } catch {
        Console.error("error: \(error.description)")
        throw ExitCode(.failed)
      }
    }
    if options.json { Console.output(JSONValue.array(results).pretty()) }
  }
}

/// Reads a flag's value and rollout percentage from one file for `flag status`, or says why it
/// cannot: missing, not a regular file (checked on the open descriptor, so a FIFO never blocks),
/// unreadable, or refused by the dotenv editor.
enum FlagStatusReader {
  /// What one file shows: the values, or the reason they cannot be read.
  struct Reading {
    var value: String?
    var percent: String?
    var error: String?
  }

  static func reading(of path: String, flag: FeatureFlag) -> Reading {
    let bytes: [UInt8]
    switch readRegularFile(path) {
    case .success(let read):
      guard let read else {
        // A missing file a change would create reads as unset; otherwise it is a problem.
        return flag.create
          ? Reading() : Reading(error: "does not exist (set create: true on the flag to create it)")
      }
      bytes = read
    case .failure(let reason):
      return Reading(error: reason.message)
    }
    let document = DotEnvDocument(bytes: bytes)
    var reading = Reading()
    do { reading.value = try document.value(of: flag.key) } catch { reading.error = error.description }
    if let percentKey = flag.percentKey {
      do { reading.percent = try document.value(of: percentKey) } catch {
        reading.error = reading.error ?? error.description
      }
    }
    return reading
  }

  struct Failure: Error {
    let message: String
  }

  /// The file's bytes, `nil` when it does not exist, or why it cannot be read.
  static func readRegularFile(_ path: String) -> Result<[UInt8]?, Failure> {
    let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard descriptor >= 0 else {
      let code = errno
      if code == ENOENT { return .success(nil) }
      return .failure(Failure(message: "cannot be opened: \(String(cString: strerror(code)))"))
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
      return .failure(Failure(message: "cannot be examined: \(String(cString: strerror(errno)))"))
    }
    let type = info.st_mode & S_IFMT
    guard type == S_IFREG else {
      let kind: String
      switch type {
      case S_IFDIR: kind = "a directory"
      case S_IFIFO: kind = "a FIFO"
      case S_IFSOCK: kind = "a socket"
      case S_IFCHR: kind = "a character device"
      case S_IFBLK: kind = "a block device"
      default: kind = "not a regular file"
      }
      return .failure(Failure(message: "is \(kind), not a regular file"))
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count == 0 { break }
      if count < 0 {
        if errno == EINTR { continue }
        return .failure(Failure(message: "cannot be read: \(String(cString: strerror(errno)))"))
      }
      bytes.append(contentsOf: chunk[0..<count])
    }
    return .success(bytes)
  }
}
