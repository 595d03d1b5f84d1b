import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A `rollback` process started in the background, its output in files.
private final class Background {
  let process = Process()
  let out: URL
  let err: URL

  init(_ arguments: [String], in directory: URL, name: String) throws {
    out = directory.appendingPathComponent("\(name).out")
    err = directory.appendingPathComponent("\(name).err")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    process.executableURL = URL(fileURLWithPath: CLI.binary)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    var environment = ProcessInfo.processInfo.environment
    environment["NO_COLOR"] = "1"
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    try process.run()
  }

  var stdout: String { (try? String(contentsOf: out, encoding: .utf8)) ?? "" }
  var stderr: String { (try? String(contentsOf: err, encoding: .utf8)) ?? "" }

  /// Waits up to `seconds` for the exit; the time it took, or nil (then it is killed).
  func wait(_ seconds: Double) -> Double? {
    let start = Date()
    while process.isRunning, Date().timeIntervalSince(start) < seconds { usleep(10_000) }
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      return nil
    }
    return Date().timeIntervalSince(start)
  }
}

/// Holds the edit lock of a directory the way a running `rollback` edit does.
private func holdEditLock(_ directory: URL) -> Int32 {
  let descriptor = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
  guard descriptor >= 0, flock(descriptor, LOCK_EX) == 0 else { return -1 }
  return descriptor
}

private func runbook(_ flag: String, key: String) -> String {
  """
  version: 1
  name: \(flag)
  environments: {local: {}}
  flags:
    \(flag): {key: \(key), files: [../shared/app.env]}
  levels:
    1:
      steps:
        - {flag: {name: \(flag), set: disabled}}
  """
}

@Suite("concurrent and hostile edits through the CLI")
struct FileEditCLITests {
  /// `base/one` and `base/two` each hold a runbook (with its own state directory beside it)
  /// whose flag lives in the same `base/shared/app.env`.
  private func twoRunbooks() throws -> (base: URL, file: URL) {
    let base = try CLI.temporaryDirectory()
    for (name, key) in [("one", "A"), ("two", "B")] {
      let directory = base.appendingPathComponent(name)
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      try runbook(name, key: key).write(
        to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    }
    let shared = base.appendingPathComponent("shared")
    try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
    let file = shared.appendingPathComponent("app.env")
    try "A=true\nB=true\n".write(to: file, atomically: true, encoding: .utf8)
    return (base, file)
  }

  @Test("two rollback processes with different state directories editing one file: both changes kept")
  func twoEditorsNoLostUpdate() throws {
    let (base, file) = try twoRunbooks()
    defer { try? FileManager.default.removeItem(at: base) }
    // Both start while the file's edit lock is held, so both have to queue behind it (the
    // interleaving that lost one change before); then it is released.
    let held = holdEditLock(file.deletingLastPathComponent())
    #expect(held >= 0)
    let one = try Background(["flag", "disable", "one"], in: base.appendingPathComponent("one"), name: "one")
    let two = try Background(["flag", "disable", "two"], in: base.appendingPathComponent("two"), name: "two")
    usleep(700_000)
    #expect(one.process.isRunning && two.process.isRunning, "an edit did not wait for the edit lock")
    #expect(try String(contentsOf: file, encoding: .utf8) == "A=true\nB=true\n")
    close(held)
    #expect(one.wait(10) != nil)
    #expect(two.wait(10) != nil)
    #expect(one.process.terminationStatus == 0, "\(one.stderr)")
    #expect(two.process.terminationStatus == 0, "\(two.stderr)")
    #expect(try String(contentsOf: file, encoding: .utf8) == "A=false\nB=false\n")
  }

  @Test("an outside writer's change made while rollback waits for the file is kept, and rollback's on top")
  func outsideWriterWhileWaiting() throws {
    let (base, file) = try twoRunbooks()
    defer { try? FileManager.default.removeItem(at: base) }
    let held = holdEditLock(file.deletingLastPathComponent())
    #expect(held >= 0)
    let one = try Background(["flag", "disable", "one"], in: base.appendingPathComponent("one"), name: "one")
    usleep(500_000)
    #expect(one.process.isRunning, "the edit did not wait for the edit lock")
    // Not rollback: an editor saving the file by a rename, without any lock.
    let saved = file.deletingLastPathComponent().appendingPathComponent("app.env.swp")
    try "A=true\nB=true\nC=added by hand\n".write(to: saved, atomically: false, encoding: .utf8)
    #expect(rename(saved.path, file.path) == 0)
    close(held)
    #expect(one.wait(10) != nil)
    #expect(one.process.terminationStatus == 0, "\(one.stderr)")
    #expect(try String(contentsOf: file, encoding: .utf8) == "A=false\nB=true\nC=added by hand\n")
  }

  @Test(
    "SIGINT or SIGTERM ends flag and execute within 2 s while they wait on the file",
    arguments: [SIGINT, SIGTERM])
  func signalEndsWaitingCommand(_ signal: Int32) throws {
    let (base, file) = try twoRunbooks()
    defer { try? FileManager.default.removeItem(at: base) }
    let held = holdEditLock(file.deletingLastPathComponent())
    defer { close(held) }
    let directory = base.appendingPathComponent("one")
    let flag = try Background(["flag", "disable", "one"], in: directory, name: "flag")
    let execute = try Background(
      ["execute", "--level", "1", "--yes", "--state-dir", base.appendingPathComponent("state").path],
      in: directory, name: "execute")
    usleep(1_000_000)
    #expect(flag.process.isRunning && execute.process.isRunning)
    kill(flag.process.processIdentifier, signal)
    kill(execute.process.processIdentifier, signal)
    let flagTime = flag.wait(5)
    let executeTime = execute.wait(5)
    #expect(flagTime.map { $0 < 2 } == true, "flag took \(flagTime.map { "\($0) s" } ?? "forever")")
    #expect(executeTime.map { $0 < 2 } == true, "execute took \(executeTime.map { "\($0) s" } ?? "forever")")
    #expect(execute.process.terminationStatus == 130, "\(execute.stdout)")
    #expect(try String(contentsOf: file, encoding: .utf8) == "A=true\nB=true\n")
  }

  @Test("a FIFO in place of the .env: flag and execute refuse it by name at once, nothing hangs")
  func fifoRefusedByCommands() throws {
    let (base, file) = try twoRunbooks()
    defer { try? FileManager.default.removeItem(at: base) }
    #expect(unlink(file.path) == 0)
    #expect(mkfifo(file.path, 0o644) == 0)
    let directory = base.appendingPathComponent("one")
    let flag = try Background(["flag", "disable", "one"], in: directory, name: "flag")
    let flagTime = flag.wait(5)
    #expect(flagTime.map { $0 < 2 } == true)
    #expect(flag.process.terminationStatus == 1)
    #expect(flag.stderr.contains("app.env: it is a FIFO (named pipe), not a regular file; nothing written"))
    let execute = try Background(["execute", "--level", "1", "--yes"], in: directory, name: "execute")
    let executeTime = execute.wait(5)
    #expect(executeTime.map { $0 < 2 } == true)
    #expect(execute.process.terminationStatus != 0)
    #expect(execute.stdout.contains("app.env: it is a FIFO (named pipe), not a regular file"))
  }

  @Test("Ctrl-C while a step's child ignores SIGTERM: execute still ends within 2 s, exit 130")
  func interruptWithStubbornChild() throws {
    let base = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(base) }
    let marker = base.appendingPathComponent("started")
    let text = """
      version: 1
      name: stubborn
      environments: {local: {}}
      levels:
        1:
          steps:
            - id: stubborn
              timeout: 1m
              run: {shell: "trap '' TERM; touch \(marker.path); while :; do sleep 0.1; done"}
      """
    try text.write(to: base.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let execute = try Background(["execute", "--level", "1", "--yes"], in: base, name: "execute")
    var waited = 0
    while !FileManager.default.fileExists(atPath: marker.path), waited < 500 {
      usleep(10_000)
      waited += 1
    }
    #expect(FileManager.default.fileExists(atPath: marker.path), "the step never started: \(execute.stderr)")
    kill(execute.process.processIdentifier, SIGINT)
    let took = execute.wait(5)
    #expect(took.map { $0 < 2 } == true, "execute took \(took.map { "\($0) s" } ?? "forever") after SIGINT")
    #expect(execute.process.terminationStatus == 130, "\(execute.stdout)\(execute.stderr)")
  }
}
