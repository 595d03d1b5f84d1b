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
      Actions: status [NAME], enable [NAME], disable [NAME], percent N [NAME], step-down [NAME].
      NAME may be left out when the runbook has one flag. Changes are atomic per file, keep every
      other byte, hold STATE/lock and leave backups in STATE/backups/.
      """)

  @OptionGroup var options: RunbookOptions
  @OptionGroup var variables: VariableOptions

  @Argument(help: ArgumentHelp("status, enable, disable, percent, step-down", valueName: "action"))
  var action: String

  @Argument(
    help: ArgumentHelp("For percent: N, then the flag's name; otherwise the flag's name.", valueName: "args"))
  var arguments: [String] = []

  @Flag(name: .long, help: "Accepted for symmetry with other changing commands; flag changes ask nothing.")
  var yes = false

  @Flag(name: .customLong("dry-run"), help: "Show the change as a diff; write nothing.")
  var dryRun = false

  func run() async throws {
    var rest = arguments
    let change: FlagChange?
    switch action {
    case "status": change = nil
    case "enable": change = .enable
    case "disable": change = .disable
    case "step-down": change = .stepDown
    case "percent":
      guard let first = rest.first, let value = Int(first), (0...100).contains(value) else {
        throw CLIError.usage("flag percent needs a number from 0 to 100: rollback flag percent 10 [NAME]")
      }
      rest.removeFirst()
      change = .percent(value)
    default:
      throw CLIError.usage(
        "unknown flag action '\(action)'; use status, enable, disable, percent N or step-down")
    }
    guard rest.count <= 1 else { throw CLIError.usage("too many arguments: \(rest.joined(separator: " "))") }
    let overrides = try variables.overrides()
    let loaded = try LoadedRunbook.load(options, overrides: overrides, printWarnings: false)
    let runbook = try loaded.runbook()
    let resolver = try makeResolver(runbook, options: options, overrides: overrides)
    let names: [String]
    if let name = rest.first {
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
    var bag = DiagnosticBag()
    let editors = names.compactMap { name -> FlagEditor? in
      guard let flag = runbook.flags[name] else { return nil }
      return FlagEditor(flag: flag, files: flag.files.map { resolver.resolve($0, into: &bag).value })
    }
    if bag.hasErrors {
      bag.errors.forEach { Console.error($0.description) }
      throw ExitCode(2)
    }
    guard let change else {
      var report: [JSONValue] = []
      for editor in editors {
        let flag = editor.flag
        Console.human(
          "\(flag.name) (\(flag.key); on = \(flag.enabled), off = \(flag.disabled))", json: options.json)
        var files: [JSONValue] = []
        // Each file's percentage read once, not every file again for each file.
        let percents = flag.percentKey.map { editor.values(of: $0) }
        for (index, (file, value)) in editor.values(of: flag.key).enumerated() {
          let percent = percents?[index].value
          let state =
            value.map { $0 == flag.enabled ? "on" : ($0 == flag.disabled ? "off" : "other") } ?? "unset"
          var line = "  \(file): \(value ?? "(unset)") [\(state)]"
          if let percentKey = flag.percentKey { line += " \(percentKey)=\(percent ?? "(unset)")" }
          Console.human(line, json: options.json)
          files.append(
            .object([
              ("file", .string(file)), ("value", .string(value)), ("state", .string(state)),
              ("percent", .string(percent)),
            ]))
        }
        report.append(
          .object([("flag", .string(flag.name)), ("key", .string(flag.key)), ("files", .array(files))]))
      }
      if options.json { Console.output(JSONValue.array(report).pretty()) }
      return
    }
    let state = stateDirectory(options, runbookPath: loaded.path)
    let runID = RunID.make()
    var lock: FileLock?
    if !dryRun {
      do {
        lock = try FileLock.acquire(
          at: (state as NSString).appendingPathComponent("lock"), runID: "flag-\(runID)")
        if let warning = lock?.warning { Console.error("warning: \(warning)") }
      } catch {
        Console.error(error.description)
        throw ExitCode(4)
      }
    }
    defer { lock?.release() }
    let backups = ((state as NSString).appendingPathComponent("backups") as NSString).appendingPathComponent(
      "flag-\(runID)")
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
        throw ExitCode(1)
      }
    }
    if options.json { Console.output(JSONValue.array(results).pretty()) }
  }
}
