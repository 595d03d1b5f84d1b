import ArgumentParser
import Foundation
import RollbackCore

/// `rollback validate`: parse and check the runbook.
struct ValidateCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "validate",
    abstract: "Parse and check the runbook; print FILE:LINE:COL: error: … for every problem.",
    usage: "rollback validate [--strict] [<options>]",
    discussion: "Exit 0 when the runbook is valid (warnings allowed unless --strict), 2 otherwise.")

  @OptionGroup var options: RunbookOptions
  @OptionGroup var variables: VariableOptions

  @Flag(name: .long, help: "Treat warnings as errors.")
  var strict = false

  func run() async throws {
    let loaded = try LoadedRunbook.load(options, overrides: try variables.overrides())
    let result = loaded.result
    let printer = DiagnosticPrinter(source: result.source, environmentOption: options.env, strict: strict)
    let errors = result.errors.count
    let warnings = result.warnings.count
    if options.json {
      let diagnostics = result.diagnostics.map { diagnostic -> JSONValue in
        .object([
          ("severity", .string(diagnostic.severity.rawValue)), ("file", .string(diagnostic.location.file)),
          ("line", .int(diagnostic.location.line)), ("column", .int(diagnostic.location.column)),
          ("message", .string(diagnostic.message)),
        ])
      }
      let valid = !printer.fails(result.diagnostics)
      print(
        JSONValue.object([
          ("runbook", .string(loaded.path)), ("valid", .bool(valid)), ("errors", .int(errors)),
          ("warnings", .int(warnings)), ("diagnostics", .array(diagnostics)),
        ]).pretty())
    }
    if let runbook = result.runbook {
      let summary =
        "\(loaded.path): ok — runbook '\(runbook.name)', \(runbook.levels.count) level\(runbook.levels.count == 1 ? "" : "s"), "
        + "\(runbook.scenarios.count) scenario\(runbook.scenarios.count == 1 ? "" : "s"), "
        + "\(runbook.signals.count) signal\(runbook.signals.count == 1 ? "" : "s"), "
        + "\(warnings) warning\(warnings == 1 ? "" : "s")"
      if printer.fails(result.diagnostics) {
        Console.error(printer.summary(file: loaded.path, result.diagnostics))
        throw ExitCode(.usage)
      }
      Console.human(summary, json: options.json)
    } else {
      Console.error(printer.summary(file: loaded.path, result.diagnostics))
      throw ExitCode(.usage)
    }
  }
}
