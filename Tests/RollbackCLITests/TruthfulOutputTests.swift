import Foundation
import Testing

@testable import RollbackCLI

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
    defer { CLI.removeTemporaryDirectory(state) }
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
        production: {vars: {greeting: hi}}
        staging: {vars: {greeting: hi}}
      levels:
        1:
          target: 5m
          steps:
            - id: prepare
              run: [true]
            - id: needs-marker
              run: {shell: "test -f '\(marker.path)'"}
            - id: after
              run: {shell: "test \\"${greeting}\\" = 'hello world'"}
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
    defer { CLI.removeTemporaryDirectory(directory) }
    let marker = directory.appendingPathComponent("marker")
    _ = try failingUntilMarker(in: directory, marker: marker)
    let state = directory.appendingPathComponent("state dir")
    let failed = try CLI.run(
      [
        "execute", "--runbook", "runbooks/paste.yaml", "--env", "staging", "--level", "1", "--yes", "--json",
        "--state-dir", "state dir", "--var", "greeting=hello world",
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
    defer { CLI.removeTemporaryDirectory(elsewhere) }
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

    // The other way on, `execute --from`, carries the run's --var too.
    let from = try #require(advice.range(of: "(or ").map { String(advice[$0.upperBound...].dropLast()) })
    #expect(from.contains("--from needs-marker") && from.contains("'greeting=hello world'"), "\(from)")
    let again = try runPasted(from, in: elsewhere)
    #expect(again.status == 0, "\(from)\n\(again.output)")
    #expect(runFiles(state).count == 2, "\(runFiles(state))")
  }

  /// Two runbooks sharing `runbooks/.rollback/`: alpha (level 1 over a 1 ms target, level 2 refused
  /// by preflight) and beta.
  func twoRunbooks(in directory: URL) throws {
    let folder = directory.appendingPathComponent("runbooks")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try """
    version: 1
    name: alpha
    environments: {p: {}}
    levels:
      1:
        target: 1ms
        steps:
          - run: [sleep, "0.01"]
      2:
        target: 1ms
        steps:
          - run: [no-such-command-rollback-test]
    """.write(to: folder.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
    try """
    version: 1
    name: beta
    environments: {p: {}}
    levels:
      1:
        target: 5m
        steps:
          - run: [true]
    """.write(to: folder.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
  }

  @Test("history and report tell real, dry, refused runs and runbooks apart")
  func historyAndReportTellRunsApart() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try twoRunbooks(in: directory)
    let alpha = ["--runbook", "runbooks/a.yaml"]
    let beta = ["--runbook", "runbooks/b.yaml"]
    #expect(try CLI.run(["execute", "--level", "1"] + alpha, in: directory).status == 0)
    #expect(try CLI.run(["execute", "--level", "1", "--dry-run"] + alpha, in: directory).status == 0)
    let refused = try CLI.run(["execute", "--level", "2"] + alpha, in: directory)
    #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
    let betaDry = try CLI.run(["execute", "--level", "1", "--dry-run", "--json"] + beta, in: directory)
    #expect(betaDry.status == 0, "\(betaDry.stderr)")
    let betaRun = try #require(
      try JSONSerialization.jsonObject(with: Data(betaDry.stdout.utf8)) as? [String: Any])
    let betaID = try #require(betaRun["run_id"] as? String)

    // alpha's history: its three runs, none of beta's; only the finished rollback has a time mark.
    let history = try CLI.run(["history"] + alpha, in: directory)
    #expect(history.status == 0)
    let rows = history.stdout.split(separator: "\n").dropFirst().map(String.init)
    #expect(rows.count == 3, "\(history.stdout)")
    // Newest first, though the three runs may share the second their ids name.
    #expect(rows.first?.contains("level 2") == true, "\(history.stdout)")
    #expect(!history.stdout.contains(betaID))
    let dryRow = try #require(rows.first { $0.contains("dry-run") })
    let refusedRow = try #require(rows.first { $0.contains("level 2") })
    let realRow = try #require(rows.first { $0.contains("succeeded") })
    #expect(!dryRow.contains("✗") && !dryRow.contains("✓"), "\(dryRow)")
    #expect(refusedRow.contains("aborted") && !refusedRow.contains("✗"), "\(refusedRow)")
    #expect(realRow.hasSuffix("1ms ✗"), "\(realRow)")

    // The refused attempt's record names the problem.
    let refusedReport = try CLI.run(["report", "--message"] + alpha, in: directory)
    #expect(refusedReport.status == 0)
    #expect(refusedReport.stdout.contains("ROLLBACK ABORTED: alpha level 2"), "\(refusedReport.stdout)")
    #expect(refusedReport.stdout.contains("no-such-command-rollback-test"))

    // beta has only a dry run: report without an id does not pick alpha's runs or call it complete.
    let betaLatest = try CLI.run(["report", "--message"] + beta, in: directory)
    #expect(betaLatest.status == 2)
    #expect(betaLatest.stderr.contains("other than dry runs"), "\(betaLatest.stderr)")
    #expect(!betaLatest.stdout.contains("ROLLBACK COMPLETE"))
    let betaMessage = try CLI.run(["report", betaID, "--message"] + beta, in: directory)
    #expect(
      betaMessage.stdout.hasPrefix("🧪 DRY RUN ONLY, NOTHING WAS ROLLED BACK: beta"), "\(betaMessage.stdout)")
    #expect(!betaMessage.stdout.contains("COMPLETE"))
    let betaMarkdown = try CLI.run(["report", betaID] + beta, in: directory)
    #expect(betaMarkdown.stdout.hasPrefix("# Dry run (nothing was changed): beta level 1"))
  }

  @Test("a state directory that cannot be written is exit 1 with its reason, not 4 (lock held)")
  func unwritableStateIsNotLockHeld() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try twoRunbooks(in: directory)
    let notADirectory = directory.appendingPathComponent("plain-file")
    try Data("x".utf8).write(to: notADirectory)
    let result = try CLI.run(
      ["execute", "--runbook", "runbooks/b.yaml", "--level", "1", "--state-dir", notADirectory.path],
      in: directory)
    #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
    #expect(result.stdout.contains("not a directory"), "\(result.stdout)")
    #expect(!result.stdout.contains("another execution holds the lock"))
    #expect(try String(contentsOf: notADirectory, encoding: .utf8) == "x")
  }

  /// `rollback ARGS` on a pseudo-terminal (util-linux `script`), with NO_COLOR as given.
  func onTerminal(_ arguments: [String], noColor: String?) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    let command = ([CLI.binary] + arguments).map { "'" + $0 + "'" }.joined(separator: " ")
    process.arguments = ["-qec", command, "/dev/null"]
    process.currentDirectoryURL = CLI.packageRoot
    var environment = ProcessInfo.processInfo.environment
    environment["NO_COLOR"] = noColor
    environment["TERM"] = "xterm"
    environment["ROLLBACK_PROM_URL"] = "http://127.0.0.1:9"
    environment["DATABASE_URL"] = ""
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }

  @Test("assess paints its verdict on a terminal, like execute, and not with NO_COLOR")
  func assessColour() throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let arguments = ["assess", "--runbook", Self.atom, "--env", "local", "--state-dir", state.path]
    let painted = try onTerminal(arguments, noColor: nil)
    #expect(painted.contains("Verdict:"), "\(painted)")
    #expect(painted.contains("\u{1B}[1;31mVerdict: HIGH"), "\(painted)")
    #expect(painted.contains("\u{1B}[1mSignals\u{1B}[0m"))
    let plain = try onTerminal(arguments, noColor: "1")
    #expect(plain.contains("Verdict: HIGH"), "\(plain)")
    #expect(!plain.contains("\u{1B}["), "\(plain)")
  }

  @Test("a file that is not a runbook (a .env) is refused without echoing any of its lines")
  func notARunbookIsNotEchoed() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let secret = "pg-pass-8812734"
    let file = directory.appendingPathComponent(".env")
    try "DATABASE_URL=postgres://app:\(secret)@db/app\nAPI_KEY=key-\(secret)\n".write(
      to: file, atomically: true, encoding: .utf8)
    for command in [["validate"], ["plan", "--level", "1"], ["execute", "--level", "1"], ["assess"]] {
      let result = try CLI.run(command + ["--runbook", file.path])
      #expect(result.status == 2, "\(command)")
      #expect(result.stderr.contains("not a runbook"), "\(command): \(result.stderr)")
      #expect(
        !result.stderr.contains(secret) && !result.stdout.contains(secret), "\(command): \(result.stderr)")
      #expect(!result.stderr.contains("DATABASE_URL"), "\(command): \(result.stderr)")
    }
  }

  @Test("a misspelt top-level key is one error with its did-you-mean, not its consequences")
  func misspeltTopLevelKey() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let original = try String(
      contentsOf: CLI.packageRoot.appendingPathComponent(Self.atom), encoding: .utf8)
    let misspelt = original.replacingOccurrences(of: "\nflags:", with: "\nflgas:")
    #expect(misspelt != original)
    let file = directory.appendingPathComponent("rollback.yaml")
    try misspelt.write(to: file, atomically: true, encoding: .utf8)
    let result = try CLI.run(["validate", "--runbook", file.path])
    #expect(result.status == 2)
    let errors = result.stderr.split(separator: "\n").filter { $0.contains("error:") }
    #expect(errors.count == 1, "\(result.stderr)")
    #expect(errors.first?.contains("unknown key 'flgas' in the runbook; did you mean 'flags'?") == true)
    #expect(!result.stderr.contains("unknown flag"), "\(result.stderr)")
  }

  @Test("a command-line mistake is not reported at line 1 of the runbook")
  func commandLineMistakesHaveNoRunbookLocation() throws {
    for arguments in [
      ["plan", "--env", "prod", "--level", "3"], ["plan", "--level", "7"],
      ["execute", "--env", "prod", "--level", "3"], ["assess", "--env", "prod"],
    ] {
      let result = try CLI.run(arguments + ["--runbook", Self.atom])
      #expect(result.status == 2, "\(arguments)")
      #expect(!result.stderr.contains(":1:1:"), "\(arguments): \(result.stderr)")
      #expect(!result.stderr.contains("yaml-language-server"), "\(arguments): \(result.stderr)")
      #expect(result.stderr.hasPrefix("error: unknown "), "\(arguments): \(result.stderr)")
    }
  }

  @Test("a run in which no step ran is not a success: not in the summary, history or report")
  func nothingRanIsNotSucceeded() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try """
    version: 1
    name: cond
    environments: {p: {}}
    signals:
      complaints:
        manual: true
    levels:
      1:
        target: 5m
        steps:
          - id: only-if-bad
            when: "complaints > 5"
            run: [true]
    """.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let result = try CLI.run(["execute", "--level", "1", "--signal", "complaints=1"], in: directory)
    #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
    #expect(!result.stdout.contains("Rolled back"), "\(result.stdout)")
    #expect(result.stdout.contains("no step of level 1 ran; nothing was changed"), "\(result.stdout)")
    let history = try CLI.run(["history"], in: directory)
    #expect(history.stdout.contains("aborted") && !history.stdout.contains("succeeded"), "\(history.stdout)")
    let message = try CLI.run(["report", "--message"], in: directory)
    #expect(message.stdout.hasPrefix("🚨 ROLLBACK ABORTED: cond level 1"), "\(message.stdout)")
  }

  @Test("the summary box wraps a long line at spaces and drops nothing")
  func summaryBoxWraps() {
    let line =
      "Next: step needs-marker failed: exit 1. Fix the cause, then continue with: rollback resume "
      + "20261201T205730Z-b86e --runbook /srv/runbooks/a-very-long-directory-name/paste.yaml --env staging"
    for width in [20, 40, 76, 196] {
      let pieces = TerminalPrinter.wrap(line, width: width)
      #expect(pieces.allSatisfy { $0.count <= width }, "\(width): \(pieces)")
      #expect(pieces.joined().filter { $0 != " " } == line.filter { $0 != " " }, "\(width): \(pieces)")
      if width >= 60 { #expect(pieces.joined(separator: " ") == line, "\(width): \(pieces)") }
    }
    let unbroken = String(repeating: "x", count: 50)
    #expect(
      TerminalPrinter.wrap(unbroken, width: 20) == [
        String(repeating: "x", count: 20), String(repeating: "x", count: 20),
        String(repeating: "x", count: 10),
      ])
  }

  @Test("on a 60-column terminal the summary box wraps the advice and keeps all of it")
  func summaryBoxOnTerminal() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let marker = directory.appendingPathComponent("marker")
    _ = try failingUntilMarker(in: directory, marker: marker)
    let state = directory.appendingPathComponent("state dir")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    let command = [
      CLI.binary, "execute", "--runbook", "runbooks/paste.yaml", "--level", "1", "--state-dir", state.path,
    ]
    .map { "'" + $0 + "'" }.joined(separator: " ")
    process.arguments = ["-qec", "stty cols 60; " + command, "/dev/null"]
    process.currentDirectoryURL = directory
    var environment = ProcessInfo.processInfo.environment
    environment["NO_COLOR"] = "1"
    environment["TERM"] = "xterm"
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let box = text.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map(String.init)
      .filter { $0.hasPrefix("│ ") }
    #expect(box.count > 3, "\(text)")
    #expect(box.allSatisfy { $0.count <= 60 }, "\(box)")
    let content = box.map { String($0.dropFirst(2).dropLast(2)).trimmingCharacters(in: .whitespaces) }
      .joined(separator: " ")
    #expect(content.contains("continue with: rollback resume "), "\(content)")
    // Words longer than the box are split: compare without spaces.
    let squeezed = content.filter { $0 != " " }
    #expect(squeezed.contains("--state-dir'\(state.path.filter { $0 != " " })'"), "\(content)")
    #expect(content.contains("--from needs-marker"), "\(content)")
  }

  @Test(
    "help reads well at 80 columns: no line wider, paragraphs not broken mid-sentence",
    arguments: [
      [], ["validate"], ["plan"], ["assess"], ["execute"], ["resume"], ["drill"], ["history"], ["report"],
    ])
  func helpAt80Columns(command: [String]) throws {
    let result = try CLI.run(command + ["--help"], environment: ["COLUMNS": "80"])
    #expect(result.status == 0)
    let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    let wide = lines.filter { $0.count > 80 }
    #expect(wide.isEmpty, "\(command): \(wide)")
    // A paragraph's line is filled before the next starts: none stops short, then goes on.
    for (index, line) in lines.enumerated().dropLast() where !line.isEmpty && !line.hasPrefix(" ") {
      let next = lines[index + 1]
      guard !next.isEmpty, !next.hasPrefix(" "), let word = next.split(separator: " ").first else { continue }
      #expect(line.count + 1 + word.count > 79, "\(command): ragged line \"\(line)\" before \"\(next)\"")
    }
  }

  /// What `rollback ---completion` (the call the generated shell scripts make) offers for the
  /// last word of `line`.
  func complete(_ path: [String], _ argument: String, _ line: [String], in directory: URL) throws -> [String]
  {
    let word = line.last ?? ""
    let result = try CLI.run(
      ["---completion"] + path + ["--", argument, String(line.count - 1), String(word.count)] + line,
      in: directory)
    #expect(result.status == 0, "\(result.stderr)")
    return result.stdout.split(separator: "\n").map(String.init)
  }

  @Test("completions offer the runbook's levels, scenarios, environments, flag names, step ids and run ids")
  func completions() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try twoRunbooks(in: directory)
    let alpha = ["rollback", "execute", "--runbook", "runbooks/a.yaml"]
    #expect(try complete(["execute"], "--level", alpha + ["--level", ""], in: directory) == ["1", "2"])
    let atom = CLI.packageRoot.appendingPathComponent(Self.atom).path
    let atomLine = ["rollback", "execute", "--runbook", atom]
    #expect(
      try complete(["execute"], "--scenario", atomLine + ["--scenario", "backend-"], in: directory)
        == ["backend-down"])
    #expect(
      try complete(["plan"], "--env", ["rollback", "plan", "--runbook", atom, "--env", "st"], in: directory)
        == ["staging"])
    #expect(
      try complete(
        ["flag", "status"], "positional@0", ["rollback", "flag", "status", "--runbook", atom, "back"],
        in: directory)
        == ["backend-api"])
    #expect(
      try complete(["execute"], "--from", atomLine + ["--level", "3", "--from", "ve"], in: directory)
        == ["verify-flag-served", "verify-register"])
    #expect(
      try complete(
        ["drill"], "--level", ["rollback", "drill", "--runbook", atom, "--level", ""], in: directory) == [
          "1", "2", "3",
        ])

    #expect(
      try CLI.run(["execute", "--runbook", "runbooks/b.yaml", "--level", "1"], in: directory).status == 0)
    let runs = runFiles(directory.appendingPathComponent("runbooks/.rollback")).map { String($0.dropLast(6)) }
    #expect(runs.count == 1)
    #expect(
      try complete(
        ["report"], "positional@0", ["rollback", "report", "--runbook", "runbooks/b.yaml", ""], in: directory)
        == runs)
    #expect(
      try complete(
        ["resume"], "positional@0", ["rollback", "resume", "--runbook", "runbooks/b.yaml", "2"], in: directory
      )
        == runs)
  }

  /// Runs `command` with `sh -c` in `directory`, with the built binary first on PATH.
  func runPasted(_ command: String, in directory: URL) throws -> (status: Int32, output: String) {
    try CLI.pasted(command, in: directory)
  }

  @Test("the lock's advice about a holder that died names complete commands that work pasted")
  func staleLockAdvice() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try twoRunbooks(in: directory)
    let state = directory.appendingPathComponent("runbooks/.rollback")
    try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
    let dead = "20260101T000000Z-dead"
    try
      #"{"pid":999999,"host":"elsewhere","user":"u","run_id":"\#(dead)","started_at":"2026-01-01T00:00:00Z"}"#
      .write(to: state.appendingPathComponent("lock"), atomically: true, encoding: .utf8)
    let result = try CLI.run(["execute", "--runbook", "runbooks/b.yaml", "--level", "1"], in: directory)
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    let warning = try #require(
      result.stdout.split(separator: "\n").first { $0.hasPrefix("warning: the previous holder") },
      "\(result.stdout)")
    let commands = warning.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map {
      String($0.element)
    }
    let runbook = directory.appendingPathComponent("runbooks/b.yaml").path
    #expect(commands.count == 2, "\(warning)")
    #expect(commands.allSatisfy { $0.contains("--runbook \(runbook) --env p") }, "\(commands)")
    #expect(commands.last?.hasPrefix("rollback resume \(dead) ") == true, "\(commands)")
    let history = try #require(commands.first)
    let elsewhere = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(elsewhere) }
    let pasted = try runPasted(history, in: elsewhere)
    #expect(pasted.status == 0, "\(history)\n\(pasted.output)")
    #expect(pasted.output.contains("succeeded"), "\(pasted.output)")
  }

  @Test("an unknown --signal name is exit 2 listing the runbook's signals")
  func unknownSignalListsSignals() throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let result = try CLI.run([
      "execute", "--runbook", Self.atom, "--env", "local", "--level", "3", "--signal", "complaint=3",
      "--state-dir", state.path,
    ])
    #expect(result.status == 2)
    #expect(result.stderr.contains("unknown signal 'complaint' (signals: error_rate, "), "\(result.stderr)")
    #expect(result.stderr.contains("complaints_per_hour"))
    #expect(runFiles(state).isEmpty)
  }

  @Test("a runbook's own unknown level or environment keeps its place in the file")
  func runbookMistakesKeepTheirPlace() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try """
    version: 1
    name: placed
    default_environment: prod
    environments: {production: {}}
    levels:
      1:
        steps:
          - include: level 3
    """.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let result = try CLI.run(["validate"], in: directory)
    #expect(result.status == 2)
    let errors = result.stderr.split(separator: "\n").filter { $0.contains("error: ") }
    #expect(errors.count >= 2, "\(result.stderr)")
    #expect(
      errors.allSatisfy { $0.hasPrefix("rollback.yaml:") && !$0.hasPrefix("rollback.yaml:1:1:") }, "\(errors)"
    )
  }
}
