import ArgumentParser
import Foundation
import RollbackCore

/// The one printer of runbook diagnostics on stderr. It owns the format —
/// `FILE:LINE:COL: error: message`, then the source line and a caret under the column when
/// the source is at hand — and `--strict`, which makes warnings fail. A mistake in what the
/// command line named (`--env`, `--level`, `--scenario`) is printed as `error: message`,
/// without a place in the runbook.
struct DiagnosticPrinter {
  /// The runbook's text, for the line and the caret; nil prints the first line only.
  var source: String?
  /// The `--env` given, to tell its mistakes from the runbook's.
  var environmentOption: String?
  /// Whether warnings fail, as errors do (`validate --strict`).
  var strict = false
  /// Whether the place is shown; false for what was given on the command line (`--signal`).
  var showsPlace = true

  /// The text printed for `diagnostic`.
  func format(_ diagnostic: Diagnostic) -> String {
    if !showsPlace || Self.isCommandLineMistake(diagnostic, environment: environmentOption) {
      return "error: \(diagnostic.message)"
    }
    return diagnostic.rendered(source: source)
  }

  /// Prints one diagnostic.
  func print(_ diagnostic: Diagnostic) {
    Console.error(format(diagnostic))
  }

  /// Prints each diagnostic, in order.
  func print(_ diagnostics: [Diagnostic]) {
    diagnostics.forEach { print($0) }
  }

  /// Prints each diagnostic and stops the command with bad input (exit 2).
  func fail(_ diagnostics: [Diagnostic]) -> ExitCode {
    print(diagnostics)
    return ExitCode(.usage)
  }

  /// Whether the diagnostics fail the command: any error, or with `--strict` any warning.
  func fails(_ diagnostics: [Diagnostic]) -> Bool {
    diagnostics.contains { $0.severity == .error || (strict && $0.severity == .warning) }
  }

  /// The closing line: `FILE: N errors, M warnings`, or with `--strict` and warnings only
  /// `FILE: M warnings with --strict`.
  func summary(file: String, _ diagnostics: [Diagnostic]) -> String {
    let errors = diagnostics.filter { $0.severity == .error }.count
    let warnings = diagnostics.count - errors
    let warningText = "\(warnings) warning\(warnings == 1 ? "" : "s")"
    if errors == 0, strict { return "\(file): \(warningText) with --strict" }
    return "\(file): \(errors) error\(errors == 1 ? "" : "s"), \(warningText)"
  }

  /// `FILE:LINE:COL: error: message` for a problem found before the runbook could be parsed
  /// (not UTF-8, not a runbook, too large): the same format as every other diagnostic.
  static func error(file: String, line: Int = 1, column: Int = 1, _ message: String) -> String {
    Diagnostic(.error, at: SourceLocation(file: file, line: line, column: column), message).description
  }

  /// Whether the diagnostic is about what the command line named (`--env`, `--level`,
  /// `--scenario`), not about a place in the runbook: then it is shown without a location.
  static func isCommandLineMistake(_ diagnostic: Diagnostic, environment: String?) -> Bool {
    // The loader and the planner place them at 1:1; a runbook's own mistakes have their place.
    guard diagnostic.location.line == 1, diagnostic.location.column == 1 else { return false }
    if let environment, diagnostic.message.hasPrefix("unknown environment '\(environment)'") { return true }
    return diagnostic.message.hasPrefix("unknown level ")
      || diagnostic.message.hasPrefix("unknown scenario '")
  }
}
