import Foundation
import Testing

/// What the CLI says matches what happened: no success without work, advice that runs when pasted,
/// runs told apart in history and reports.
@Suite("truthful output: command-line mistakes, pasteable advice, history and reports")
struct TruthfulOutputTests {
  static let atom = "runbooks/frontend-backend-migration.yaml"

  /// Files in `runs/` of a state directory (none when it does not exist).
  func runFiles(_ state: URL) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: state.appendingPathComponent("runs").path)) ?? []
  }

  @Test("an unknown --from step is exit 2 before anything runs, naming it and the level's ids")
  func unknownFromStep() throws {
    let state = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: state) }
    let result = try CLI.run([
      "execute", "--runbook", Self.atom, "--env", "local", "--level", "3", "--from", "restart", "--yes",
      "--state-dir", state.path,
    ])
    #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
    #expect(result.stderr.contains("no step 'restart' in level 3; did you mean 'restart-frontend'?"))
    #expect(result.stderr.contains("identify-issue, disable-flag, restart-frontend"))
    #expect(!result.stdout.contains("Rolled back"))
    #expect(runFiles(state).isEmpty, "a run was recorded: \(runFiles(state))")
  }

  @Test("an unknown level or scenario names the ones there are, not line 1 of the runbook")
  func unknownTarget() throws {
    let level = try CLI.run(["execute", "--runbook", Self.atom, "--env", "local", "--level", "4"])
    #expect(level.status == 2)
    #expect(level.stderr.contains("unknown level 4 (levels: 1, 2, 3)"), "\(level.stderr)")
    #expect(!level.stderr.contains(":1:1:"))
    #expect(!level.stdout.contains("scenario"))
    let scenario = try CLI.run(["execute", "--runbook", Self.atom, "--env", "local", "--scenario", "nope"])
    #expect(scenario.status == 2)
    #expect(scenario.stderr.contains("unknown scenario 'nope'"), "\(scenario.stderr)")
  }

  /// A runbook whose level 1 fails until `marker` exists, in a folder holding a second runbook.
  func failingUntilMarker(in directory: URL, marker: URL) throws -> URL {
    let folder = directory.appendingPathComponent("runbooks")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let runbook = """
      version: 1
      name: paste
      environments:
        production: {}
        staging: {}
      levels:
        1:
          target: 5m
          steps:
            - id: prepare
              run: [true]
            - id: needs-marker
              run: {shell: "test -f '\(marker.path)'"}
            - id: after
              run: [true]
      """
    let file = folder.appendingPathComponent("paste.yaml")
    try runbook.write(to: file, atomically: true, encoding: .utf8)
    try "version: 1\nname: other\nenvironments: {p: {}}\nlevels:\n  1:\n    steps:\n      - run: [true]\n"
      .write(to: folder.appendingPathComponent("other.yaml"), atomically: true, encoding: .utf8)
    return file
  }

  @Test("the command printed after a failure runs verbatim from another directory")
  func pasteableAdvice() throws {
    let directory = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let marker = directory.appendingPathComponent("marker")
    _ = try failingUntilMarker(in: directory, marker: marker)
    let state = directory.appendingPathComponent("state dir")
    let failed = try CLI.run(
      [
        "execute", "--runbook", "runbooks/paste.yaml", "--env", "staging", "--level", "1", "--yes", "--json",
        "--state-dir", "state dir",
      ], in: directory)
    #expect(failed.status == 1, "\(failed.stderr)")
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(failed.stdout.utf8)) as? [String: Any])
    let command = try #require(json["next_command"] as? String)
    let advice = try #require(json["advice"] as? String)
    #expect(advice.contains(command))
    #expect(failed.stderr.contains(command))
    #expect(command.contains("--env staging"))
    #expect(command.contains("'\(state.path)'"), "\(command)")
    #expect(json["within_target"] is NSNull, "a failed run is not timed: \(json["within_target"] ?? "")")

    try Data().write(to: marker)
    let elsewhere = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: elsewhere) }
    let shell = Process()
    shell.executableURL = URL(fileURLWithPath: "/bin/sh")
    let bin = (CLI.binary as NSString).deletingLastPathComponent
    shell.arguments = ["-c", command]
    shell.currentDirectoryURL = elsewhere
    var environment = ProcessInfo.processInfo.environment
    environment["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
    environment["NO_COLOR"] = "1"
    shell.environment = environment
    let output = Pipe()
    shell.standardOutput = output
    shell.standardError = output
    try shell.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    shell.waitUntilExit()
    #expect(shell.terminationStatus == 0, "\(command)\n\(text)")
    #expect(text.contains("Rolled back (level 1)"), "\(text)")
    // Still one run: the pasted command continued it.
    #expect(runFiles(state).count == 1, "\(runFiles(state))")
  }
}
