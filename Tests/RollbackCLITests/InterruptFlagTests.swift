import Foundation
import Testing

@Suite("interruption and the flag command")
struct InterruptFlagTests {
  @Test("SIGINT stops the running child, journals interrupted, releases the lock and exits 130")
  func interruptExits130() async throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let pidFile = directory.appendingPathComponent("child.pid").path
    let runbook = """
      version: 1
      name: long
      environments: {local: {}}
      levels:
        1:
          steps:
            - id: long
              run: {shell: "echo $$ > \(pidFile); exec sleep 60"}
            - {id: after, run: ["true"]}
      """
    try runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CLI.binary)
    process.arguments = ["execute", "--level", "1", "--yes"]
    process.currentDirectoryURL = directory
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline, (try? String(contentsOfFile: pidFile, encoding: .utf8)) == nil {
      try await Task.sleep(for: .milliseconds(20))
    }
    let child = try #require(
      Int32(
        try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    let sent = Date()
    kill(process.processIdentifier, SIGINT)
    process.waitUntilExit()
    let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(process.terminationStatus == 130)
    #expect(Date().timeIntervalSince(sent) < 5)
    #expect(output.contains("Rollback interrupted (level 1)"))
    // The child is gone (or a zombie waiting for init).
    let state = (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8)) ?? ""
    #expect(kill(child, 0) != 0 || state.contains(") Z "))
    // The journal says interrupted, the next step never started, and the lock is free again.
    let journal = try #require(journals(in: directory.appendingPathComponent(".rollback")).first)
    let events = try journalEvents(journal)
    #expect(events.contains { $0["event"] as? String == "interrupted" })
    #expect(events.last?["status"] as? String == "interrupted")
    #expect(!events.contains { $0["step"] as? String == "after" || $0["id"] as? String == "after" })
    let again = try CLI.run(["plan", "--level", "1"], in: directory)
    #expect(again.status == 0)
    let lockFile = directory.appendingPathComponent(".rollback/lock").path
    let flock = try Shell.run(["flock", "-n", lockFile, "true"])
    #expect(flock.status == 0, "the lock is still held")
  }

  static let fixture =
    "# app settings\r\nexport NEXT_PUBLIC_USE_BACKEND_API = \"true\"  # on since Feb\r\nOTHER='x y'\r\nEMPTY=\r\n"

  @Test("flag disable changes only the value bytes: CRLF, export, quotes and inline comments kept")
  func flagKeepsEveryOtherByte() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let single = "NEXT_PUBLIC_USE_BACKEND_API='true'\nA=1"
    try Self.fixture.write(to: directory.appendingPathComponent("a.env"), atomically: true, encoding: .utf8)
    try single.write(to: directory.appendingPathComponent("b.env"), atomically: true, encoding: .utf8)
    let runbook = """
      version: 1
      name: flags
      environments: {local: {}}
      flags:
        api: {key: NEXT_PUBLIC_USE_BACKEND_API, files: [a.env, b.env]}
      levels:
        1:
          steps:
            - {flag: {name: api, set: disabled}}
      """
    try runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let result = try CLI.run(["flag", "disable", "api"], in: directory)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("NEXT_PUBLIC_USE_BACKEND_API true -> false (changed 2 of 2 files)"))
    #expect(
      try String(contentsOf: directory.appendingPathComponent("a.env"), encoding: .utf8)
        == Self.fixture.replacingOccurrences(of: "= \"true\"", with: "= \"false\""))
    #expect(
      try String(contentsOf: directory.appendingPathComponent("b.env"), encoding: .utf8)
        == "NEXT_PUBLIC_USE_BACKEND_API='false'\nA=1")
    let status = try CLI.run(["flag", "status"], in: directory)
    #expect(status.stdout.contains("a.env: false [off]"))
    let again = try CLI.run(["flag", "disable", "api"], in: directory)
    #expect(again.stdout.contains("already false in 2 files; nothing written"))
  }

  @Test("a duplicated key or an unterminated quote is refused and no file changes")
  func flagRefusesAmbiguousFiles() throws {
    for (name, text, reason) in [
      ("duplicate", "FLAG=true\nX=1\nFLAG=true\n", "set on lines 1 and 3"),
      ("unterminated", "X=\"open\nFLAG=true\n", "is never closed"),
    ] {
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      try "FLAG=true\n".write(
        to: directory.appendingPathComponent("ok.env"), atomically: true, encoding: .utf8)
      try text.write(to: directory.appendingPathComponent("bad.env"), atomically: true, encoding: .utf8)
      let runbook = """
        version: 1
        name: refuse
        environments: {local: {}}
        flags:
          f: {key: FLAG, files: [ok.env, bad.env]}
        levels:
          1:
            steps:
              - {flag: {name: f, set: disabled}}
        """
      try runbook.write(
        to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
      let result = try CLI.run(["execute", "--level", "1", "--yes"], in: directory)
      #expect(result.status == 1, "\(name)")
      #expect(result.stdout.contains("preflight failed; nothing was changed"), "\(name)")
      #expect(result.stdout.contains(reason), "\(name): \(result.stdout)")
      #expect(
        try String(contentsOf: directory.appendingPathComponent("ok.env"), encoding: .utf8) == "FLAG=true\n")
      #expect(try String(contentsOf: directory.appendingPathComponent("bad.env"), encoding: .utf8) == text)
      let direct = try CLI.run(["flag", "disable", "f"], in: directory)
      #expect(direct.status == 1, "\(name)")
      #expect(
        try String(contentsOf: directory.appendingPathComponent("ok.env"), encoding: .utf8) == "FLAG=true\n")
    }
  }
}

@Suite("output modes")
struct OutputModeTests {
  @Test(
    "--quiet prints only the summary; piped output has no colour codes; --verbose adds the resolved detail")
  func quietAndVerbose() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let runbook = """
      version: 1
      name: modes
      environments: {local: {}}
      levels:
        1:
          target: 1m
          steps:
            - {id: hello, note: "says hello", run: [echo, hello]}
      """
    try runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let quiet = try CLI.run(["execute", "--level", "1", "--quiet"], in: directory)
    #expect(quiet.status == 0)
    #expect(!quiet.stdout.contains("hello │"))
    #expect(quiet.stdout.hasPrefix("Rolled back (level 1) in "))
    let normal = try CLI.run(["execute", "--level", "1"], in: directory, environment: ["NO_COLOR": ""])
    #expect(normal.stdout.contains("    hello │ hello"))
    #expect(!normal.stdout.contains("\u{1B}["))
    let verbose = try CLI.run(["execute", "--level", "1", "--verbose"], in: directory)
    #expect(verbose.stdout.contains("note: says hello"))
    #expect(verbose.stdout.contains("    echo hello"))
  }
}
