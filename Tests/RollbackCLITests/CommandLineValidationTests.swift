import Foundation
import Testing

/// Option mistakes are found by the argument parser (each command's `validate()`), before any
/// file is read: exit 2, `error: …` and the command's usage.
@Suite("Option checks are usage errors, made before anything is read")
struct CommandLineValidationTests {
  /// An empty directory: no runbook, so a check made after loading would say "no runbook found".
  func emptyDirectory() throws -> URL { try CLI.temporaryDirectory() }

  @Test(
    "each option mistake: exit 2, its message and the usage, no runbook looked for",
    arguments: [
      (["plan", "--level", "1", "--scenario", "x"], "error: give --level or --scenario, not both"),
      (["plan"], "error: give --level N or --scenario NAME"),
      (["plan", "--list", "--level", "1"], "error: give --list, or --level/--scenario, not both"),
      (["execute", "--yes"], "error: give --level N or --scenario NAME"),
      (["validate", "--var", "=x"], "error: --var expects NAME=VALUE, found '=x'"),
      (
        ["assess", "--watch", "soon"],
        "error: --watch expects a duration such as 10s, 500ms or 1m, found 'soon'"
      ),
      (["assess", "--watch-count", "3"], "error: --watch-count needs --watch INTERVAL"),
      (["assess", "--watch", "1s", "--watch-count", "0"], "error: --watch-count must be at least 1"),
      (["flag", "percent", "150"], "error: flag percent needs a number from 0 to 100"),
    ])
  func optionMistake(_ arguments: [String], _ message: String) throws {
    let directory = try emptyDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let result = try CLI.run(arguments, in: directory)
    #expect(result.status == 2, "\(result.stderr)")
    #expect(result.stderr.hasPrefix(message), "\(result.stderr)")
    #expect(result.stderr.contains("Usage: rollback \(arguments[0])"), "\(result.stderr)")
    #expect(!result.stderr.contains("no runbook found"), "\(result.stderr)")
    #expect(result.stdout.isEmpty)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
  }

  @Test("rollback flag: one subcommand per action, each with help; an unknown action is a usage error")
  func flagSubcommands() throws {
    let help = try CLI.run(["flag", "--help"])
    #expect(help.status == 0)
    for action in ["status", "enable", "disable", "percent", "step-down"] {
      #expect(help.stdout.contains("\n  \(action) "), "\(help.stdout)")
      let own = try CLI.run(["flag", action, "--help"])
      #expect(own.status == 0, "\(own.stderr)")
      #expect(own.stdout.contains("USAGE: rollback flag \(action)"), "\(own.stdout)")
      #expect(own.stdout.contains("--runbook"))
      #expect(!own.stdout.contains("--yes"), "--yes is hidden")
    }
    let unknown = try CLI.run(["flag", "toggle"])
    #expect(unknown.status == 2)
    #expect(unknown.stderr.hasPrefix("error: "), "\(unknown.stderr)")
  }

  @Test("rollback flag --yes is still accepted, with a warning that it does nothing")
  func flagYes() throws {
    let directory = try FlagCommandTests.project(
      flags: "  f: {key: FEATURE_X, files: [app.env]}", files: ["app.env": "FEATURE_X=true\n"])
    defer { try? FileManager.default.removeItem(at: directory) }
    let result = try CLI.run(["flag", "disable", "--yes"], in: directory)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(
      result.stderr.contains(
        "warning: --yes does nothing for rollback flag (it asks nothing) and will be removed"))
    #expect(
      try String(contentsOf: directory.appendingPathComponent("app.env"), encoding: .utf8)
        == "FEATURE_X=false\n")
  }
}
