import Foundation
import Testing

/// `rollback flag` keeps to the runbook's rules, and `flag status` says when a file cannot be read.
@Suite("rollback flag: the runbook's rules and status problems")
struct FlagCommandTests {
  /// Runs `rollback ARGS` in `directory` under `timeout` (and `setpriv` when `asNobody`), so that
  /// a hang fails the test instead of stopping the suite.
  static func run(_ arguments: [String], in directory: URL, asNobody: Bool = false) throws -> CLIResult {
    var argv = ["20"]
    if asNobody { argv += ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] }
    argv += [CLI.binary] + arguments
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
    process.arguments = argv
    process.currentDirectoryURL = directory
    var environment = ProcessInfo.processInfo.environment
    environment["NO_COLOR"] = "1"
    process.environment = environment
    return try CLI.capture(process)
  }

  /// A directory with `rollback.yaml` holding `flags` (YAML lines under `flags:`) and `files`.
  static func project(flags: String, files: [String: String]) throws -> URL {
    let directory = try CLI.temporaryDirectory()
    for (name, text) in files {
      try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    let runbook = """
      version: 1
      name: flags
      environments: {local: {}}
      flags:
      \(flags)
      levels:
        1:
          steps:
            - {flag: {name: f, set: disabled}}
      """
    try runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    return directory
  }

  @Test("percent and step-down on a flag without percent_key or stages: exit 2, file untouched")
  func percentWithoutPercentKey() throws {
    let text = "# app\nFEATURE_X=true\n"
    let directory = try Self.project(
      flags: "  f: {key: FEATURE_X, files: [app.env]}", files: ["app.env": text])
    defer { try? FileManager.default.removeItem(at: directory) }
    let percent = try Self.run(["flag", "percent", "10"], in: directory)
    #expect(percent.status == 2, "\(percent.stderr)")
    #expect(
      percent.stderr.contains("flag 'f' has no percent_key; a percent change needs one"), "\(percent.stderr)")
    let stepDown = try Self.run(["flag", "step-down", "f"], in: directory)
    #expect(stepDown.status == 2, "\(stepDown.stderr)")
    #expect(stepDown.stderr.contains("flag 'f' has no ladder to step down"), "\(stepDown.stderr)")
    let dryRun = try Self.run(["flag", "percent", "0", "f", "--dry-run"], in: directory)
    #expect(dryRun.status == 2)
    #expect(try String(contentsOf: directory.appendingPathComponent("app.env"), encoding: .utf8) == text)
    // With percent_key the same command writes the percentage there, not into the flag's key.
    let ladder = try Self.project(
      flags: "  f: {key: FEATURE_X, percent_key: FEATURE_X_PERCENT, stages: [0, 10, 100], files: [app.env]}",
      files: ["app.env": text + "FEATURE_X_PERCENT=100\n"])
    defer { try? FileManager.default.removeItem(at: ladder) }
    let allowed = try Self.run(["flag", "step-down"], in: ladder)
    #expect(allowed.status == 0, "\(allowed.stderr)")
    #expect(
      try String(contentsOf: ladder.appendingPathComponent("app.env"), encoding: .utf8)
        == text + "FEATURE_X_PERCENT=10\n")
  }

  @Test("validate refuses flag keys and values the editor would refuse, each at its place")
  func validateRefusesBadKeysAndValues() throws {
    let flags = """
        f: {key: "FEATURE X", files: [app.env]}
        g: {key: "A=B", files: [app.env], percent_key: "P#1"}
        h:
          key: OK_KEY
          files: [app.env]
          enabled: "on\\nnow"
          disabled: "off\\r"
      """
    let directory = try Self.project(flags: flags, files: ["app.env": "FEATURE_X=true\n"])
    defer { try? FileManager.default.removeItem(at: directory) }
    let result = try Self.run(["validate"], in: directory)
    #expect(result.status == 2)
    let output = result.stdout + result.stderr
    for expected in [
      "rollback.yaml:5:12: error: key of flag 'f' is not a dotenv key",
      "rollback.yaml:6:12: error: key of flag 'g' is not a dotenv key",
      "rollback.yaml:6:50: error: percent_key of flag 'g' is not a dotenv key",
      "rollback.yaml:10:14: error: enabled of flag 'h' contains a line break",
      "rollback.yaml:11:15: error: disabled of flag 'h' contains a line break",
    ] {
      #expect(output.contains(expected), "\(expected) in \(output)")
    }
    #expect(
      try String(contentsOf: directory.appendingPathComponent("app.env"), encoding: .utf8)
        == "FEATURE_X=true\n")
  }

  @Test("flag status shows each file's problem and exits 1; --json gives an error per file")
  func statusReportsProblems() throws {
    let files = [
      "ok.env": "FLAG=true\nFLAG_PERCENT=50\n",
      "dup.env": "FLAG=true\nX=1\nFLAG=false\nFLAG_PERCENT=5\n",
      "open.env": "FLAG_PERCENT=5\nX=\"never closed\nFLAG=true\n",
      "plain": "not a directory\n",
      "secret.env": "FLAG=true\nFLAG_PERCENT=1\n",
    ]
    let list =
      "[ok.env, missing.env, dup.env, open.env, latin.env, fifo.env, dir.env, plain/x.env, secret.env]"
    let directory = try Self.project(
      flags: "  f: {key: FLAG, percent_key: FLAG_PERCENT, stages: [0, 50, 100], files: \(list)}", files: files
    )
    defer { try? FileManager.default.removeItem(at: directory) }
    try Data("FLAG=caf".utf8 + [0xE9, 0x0A]).write(to: directory.appendingPathComponent("latin.env"))
    #expect(mkfifo(directory.appendingPathComponent("fifo.env").path, 0o644) == 0)
    try FileManager.default.createDirectory(
      at: directory.appendingPathComponent("dir.env"), withIntermediateDirectories: false)
    #expect(chmod(directory.appendingPathComponent("secret.env").path, 0) == 0)

    let human = try Self.run(["flag", "status"], in: directory, asNobody: true)
    #expect(human.status == 1, "\(human.stdout)\(human.stderr)")
    for expected in [
      "/ok.env: true [on] FLAG_PERCENT=50",
      "/missing.env: error: does not exist",
      "/dup.env: error: FLAG is set on lines 1 and 3",
      "/open.env: error: the value of X opened with \" on line 2 is never closed",
      "/latin.env: error: the value of FLAG on line 1 is not valid UTF-8",
      "/fifo.env: error: is a FIFO, not a regular file",
      "/dir.env: error: is a directory, not a regular file",
      "/plain/x.env: error: cannot be opened: Not a directory",
      "/secret.env: error: cannot be opened: Permission denied",
    ] {
      #expect(human.stdout.contains(expected), "\(expected) in \(human.stdout)")
    }
    #expect(!human.stdout.contains("(unset)"))
    #expect(human.stderr.contains("8 files could not be read"), "\(human.stderr)")

    let json = try Self.run(["flag", "status", "--json"], in: directory, asNobody: true)
    #expect(json.status == 1)
    let report = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
    let entries = try #require(report.first?["files"] as? [[String: Any]])
    #expect(entries.count == 9)
    for entry in entries {
      let file = entry["file"] as? String ?? ""
      if file.hasSuffix("/ok.env") {
        #expect(entry["error"] is NSNull)
        #expect(entry["value"] as? String == "true" && entry["state"] as? String == "on")
        #expect(entry["percent"] as? String == "50")
      } else {
        #expect((entry["error"] as? String)?.isEmpty == false, "\(file): \(entry)")
        #expect(entry["state"] as? String == "error", "\(file)")
      }
    }
    // Nothing was changed by looking.
    #expect(
      try String(contentsOf: directory.appendingPathComponent("dup.env"), encoding: .utf8) == files["dup.env"]
    )
  }

  @Test("a missing file of a flag with create: true reads as unset, exit 0")
  func statusMissingFileThatWouldBeCreated() throws {
    let directory = try Self.project(
      flags: "  f: {key: FLAG, files: [ok.env, new.env], create: true}", files: ["ok.env": "FLAG=false\n"])
    defer { try? FileManager.default.removeItem(at: directory) }
    let result = try Self.run(["flag", "status"], in: directory)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("/new.env: (unset) [unset]"), "\(result.stdout)")
  }

  @Test("a multi-line value opened by a `KEY: \"` line: flag disable refuses and changes nothing")
  func colonMultilineValueRefused() throws {
    let text = "CERT: \"line1\nFLAG=true\nline3\"\nOTHER=1\n"
    let directory = try Self.project(flags: "  f: {key: FLAG, files: [app.env]}", files: ["app.env": text])
    defer { try? FileManager.default.removeItem(at: directory) }
    let result = try Self.run(["flag", "disable"], in: directory)
    #expect(result.status == 1)
    #expect(
      result.stderr.contains(
        "FLAG appears on line 2 inside the multi-line value of CERT that starts on line 1"),
      "\(result.stderr)")
    #expect(try String(contentsOf: directory.appendingPathComponent("app.env"), encoding: .utf8) == text)
    let cr = try Self.project(
      flags: "  f: {key: FLAG, files: [mac.env]}", files: ["mac.env": "A=1\rFLAG=true\r"])
    defer { try? FileManager.default.removeItem(at: cr) }
    let refused = try Self.run(["flag", "disable"], in: cr)
    #expect(refused.status == 1)
    #expect(refused.stderr.contains("line 1 ends with a carriage return alone"), "\(refused.stderr)")
    #expect(
      try String(contentsOf: cr.appendingPathComponent("mac.env"), encoding: .utf8) == "A=1\rFLAG=true\r")
  }
}
