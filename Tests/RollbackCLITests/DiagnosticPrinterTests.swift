import Foundation
import RollbackCore
import Testing

@testable import RollbackCLI

@Suite("One printer for diagnostics, one enum for exit statuses")
struct DiagnosticPrinterTests {
  static let source = "version: 1\nname: demo\nlevels:\n  1: {steps: [{restart: nowhere}]}\n"

  @Test("a runbook diagnostic: FILE:LINE:COL, the source line and a caret under the column")
  func caret() {
    let diagnostic = Diagnostic(
      .error, at: SourceLocation(file: "r.yaml", line: 4, column: 25), "unknown service 'nowhere'")
    #expect(
      DiagnosticPrinter(source: Self.source).format(diagnostic)
        == "r.yaml:4:25: error: unknown service 'nowhere'\n  1: {steps: [{restart: nowhere}]}\n"
        + String(repeating: " ", count: 24) + "^")
    #expect(DiagnosticPrinter().format(diagnostic) == "r.yaml:4:25: error: unknown service 'nowhere'")
  }

  @Test("a mistake in what the command line named is shown without a place in the runbook")
  func commandLine() {
    let environment = Diagnostic(
      .error, at: SourceLocation(file: "r.yaml", line: 1, column: 1), "unknown environment 'prod'")
    let printer = DiagnosticPrinter(source: Self.source, environmentOption: "prod")
    #expect(printer.format(environment) == "error: unknown environment 'prod'")
    let level = Diagnostic(.error, at: SourceLocation(file: "r.yaml", line: 1, column: 1), "unknown level 9")
    #expect(printer.format(level) == "error: unknown level 9")
    let given = Diagnostic(.error, at: SourceLocation(file: "r.yaml", line: 3, column: 2), "bad --signal")
    #expect(DiagnosticPrinter(showsPlace: false).format(given) == "error: bad --signal")
  }

  @Test("--strict: warnings fail and the summary says why")
  func strict() {
    let warning = Diagnostic(.warning, at: SourceLocation(file: "r.yaml", line: 2, column: 1), "w")
    let error = Diagnostic(.error, at: SourceLocation(file: "r.yaml", line: 3, column: 1), "e")
    #expect(!DiagnosticPrinter().fails([warning]))
    #expect(DiagnosticPrinter(strict: true).fails([warning]))
    #expect(
      DiagnosticPrinter(strict: true).summary(file: "r.yaml", [warning]) == "r.yaml: 1 warning with --strict")
    #expect(DiagnosticPrinter().summary(file: "r.yaml", [error, warning]) == "r.yaml: 1 error, 1 warning")
    #expect(
      DiagnosticPrinter.error(file: "r.yaml", line: 2, column: 3, "not UTF-8")
        == "r.yaml:2:3: error: not UTF-8")
  }

  @Test("ExitStatus holds exactly the statuses of the manual page's EXIT STATUS table")
  func exitStatuses() throws {
    let page = try String(
      contentsOf: CLI.packageRoot.appendingPathComponent("docs/rollback.1.tail"), encoding: .utf8)
    let section =
      try #require(page.components(separatedBy: ".Sh EXIT STATUS").last)
      .components(separatedBy: ".Sh ").first ?? ""
    var documented: Set<Int32> = []
    for line in section.split(separator: "\n") where line.hasPrefix(".It ") {
      let bounds = line.dropFirst(4).split(separator: "-").compactMap { Int32($0) }
      if let low = bounds.first, let high = bounds.last { documented.formUnion(low...high) }
    }
    #expect(documented == Set(ExitStatus.allCases.map(\.rawValue)))
    #expect(ExitStatus.usage.rawValue == 2)
    #expect(ExitStatus.lockHeld.rawValue == 4)
    #expect(ExitStatus.interrupted.rawValue == 130)
  }

  @Test("assess verdicts map to their statuses")
  func verdicts() {
    #expect(ExitStatus.assess(.low) == .severityLow)
    #expect(ExitStatus.assess(.critical).rawValue == 13)
  }

  @Test("bad input through the binary exits with ExitStatus.usage and a located error")
  func usageThroughTheBinary() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try Data([0x76, 0x3A, 0x20, 0xFF, 0x0A]).write(to: directory.appendingPathComponent("rollback.yaml"))
    let result = try CLI.run(["validate"], in: directory)
    #expect(result.status == ExitStatus.usage.rawValue)
    #expect(result.stderr == "rollback.yaml:1:4: error: the file is not valid UTF-8 from here\n")
  }
}
