import Foundation
import Testing

@testable import RollbackSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Collects what a run's output callback received, with arrival times.
private final class OutputRecorder: @unchecked Sendable {
  struct Entry {
    let stream: ProcessStream
    let line: String
    let at: ContinuousClock.Instant
  }

  private let lock = NSLock()
  private var entries: [Entry] = []

  var callback: @Sendable (ProcessStream, String) -> Void {
    { [self] stream, line in
      lock.lock()
      entries.append(Entry(stream: stream, line: line, at: .now))
      lock.unlock()
    }
  }

  var all: [Entry] {
    lock.lock()
    defer { lock.unlock() }
    return entries
  }

  var lines: [String] { all.map(\.line) }

  /// Waits (polling) until `line` has arrived; false after `limit`.
  func waitFor(_ line: String, limit: Duration = .seconds(5)) async -> Bool {
    let (found, _) = await repeatUntil(for: limit, every: .milliseconds(20)) {
      self.lines.contains(line)
    } until: {
      $0
    }
    return found
  }
}

/// A fresh directory under /tmp, resolved (so `pwd` prints the same path).
private func makeTemporaryDirectory() throws -> String {
  var template = Array("/tmp/rollback-process-XXXXXX".utf8CString)
  guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
  return String(cString: made)
}

/// Reads a pid a script wrote into `path`, waiting for it to appear.
private func readPid(_ path: String) async -> pid_t? {
  let (pid, _) = await repeatUntil(for: .seconds(2), every: .milliseconds(20)) {
    (try? String(contentsOfFile: path, encoding: .utf8))
      .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
  } until: {
    $0 != nil
  }
  return pid
}

/// Whether `pid` no longer runs: no such process, or only a zombie waiting for init.
private func isGone(_ pid: pid_t) -> Bool {
  if kill(pid, 0) == -1 && errno == ESRCH { return true }
  guard let stat = ProcessStat.read(pid: pid) else { return true }
  return !stat.isAlive
}

/// This test process's children that are zombies (exited but never reaped).
private func zombieChildren() -> [pid_t] {
  let me = getpid()
  let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
  return names.compactMap { pid_t($0) }.filter { pid in
    guard let stat = ProcessStat.read(pid: pid) else { return false }
    return stat.parent == me && stat.state == "Z"
  }
}

/// Waits until no child of this process is a zombie (other suites may briefly have one
/// between a child's exit and their own reaping); returns those left after `limit`.
private func lingeringZombies() async -> [pid_t] {
  let (zombies, _) = await repeatUntil(for: .seconds(2), every: .milliseconds(50)) {
    zombieChildren()
  } until: {
    $0.isEmpty
  }
  return zombies
}

private let basePath = ["PATH": "/usr/local/bin:/usr/bin:/bin"]

@Suite("ProcessRunner", .serialized)
struct ProcessRunnerTests {
  let runner = ProcessRunner()

  // MARK: Exit status

  @Test("exit 0 is a successful outcome with the output captured")
  func exitZero() async throws {
    let outcome = try await runner.run(
      ProcessSpec(program: .argv(["echo", "hello"]), processEnvironment: basePath))

    #expect(outcome.succeeded)
    #expect(outcome.exitCode == 0)
    #expect(outcome.signal == nil)
    #expect(outcome.output == "hello\n")
    #expect(!outcome.truncated && !outcome.timedOut && !outcome.cancelled)
  }

  @Test("exit 3 is an outcome, not an error")
  func exitThree() async throws {
    let outcome = try await runner.run(
      ProcessSpec(program: .shell("echo failing; exit 3"), processEnvironment: basePath))

    #expect(!outcome.succeeded)
    #expect(outcome.exitCode == 3)
    #expect(outcome.signal == nil)
    #expect(outcome.output == "failing\n")
    #expect(outcome.description == "exit 3")
  }

  @Test("death by a signal is reported as that signal")
  func killedBySignal() async throws {
    let outcome = try await runner.run(
      ProcessSpec(program: .shell("kill -USR1 $$"), processEnvironment: basePath))

    #expect(outcome.exitCode == nil)
    #expect(outcome.signal == SIGUSR1)
    #expect(!outcome.succeeded)
  }

  // MARK: Output

  @Test("lines reach the callback while the process still runs, in order")
  func streamsLive() async throws {
    let recorder = OutputRecorder()
    let (outcome, _) = try await timed {
      try await runner.run(
        ProcessSpec(program: .shell("echo first; sleep 1; echo second"), processEnvironment: basePath),
        onOutput: recorder.callback)
    }
    let finished = ContinuousClock.now

    #expect(outcome.succeeded)
    #expect(recorder.lines == ["first", "second"])
    let first = try #require(recorder.all.first)
    // The first line arrived about a second before the run ended, not with it.
    #expect(first.at.duration(to: finished) > .milliseconds(700))
  }

  @Test("stdout and stderr are told apart live and combined in the capture")
  func bothStreams() async throws {
    let recorder = OutputRecorder()
    let outcome = try await runner.run(
      ProcessSpec(program: .shell("echo out; sleep 0.2; echo err >&2"), processEnvironment: basePath),
      onOutput: recorder.callback)

    #expect(recorder.all.map(\.stream) == [.stdout, .stderr])
    #expect(recorder.lines == ["out", "err"])
    #expect(outcome.output == "out\nerr\n")
  }

  @Test("a megabyte of output is streamed whole and the capture keeps its tail")
  func captureKeepsTail() async throws {
    let recorder = OutputRecorder()
    let outcome = try await runner.run(
      ProcessSpec(program: .argv(["seq", "1", "200000"]), processEnvironment: basePath),
      onOutput: recorder.callback)

    let lines = recorder.lines
    #expect(lines.count == 200_000)
    #expect(lines.first == "1")
    #expect(lines.last == "200000")
    #expect(outcome.succeeded)
    #expect(outcome.truncated)
    #expect(outcome.output.utf8.count <= ProcessSpec.defaultOutputCap)
    #expect(outcome.output.utf8.count > ProcessSpec.defaultOutputCap - 8)
    #expect(outcome.output.hasSuffix("199999\n200000\n"))
    #expect(!outcome.output.hasPrefix("1\n"))
  }

  @Test("a small cap keeps exactly the last bytes, starting on a character boundary")
  func smallCap() async throws {
    let plain = try await runner.run(
      ProcessSpec(program: .shell("printf 'abcdef\\nghijkl\\n'"), processEnvironment: basePath, outputCap: 10)
    )
    #expect(plain.output == "ef\nghijkl\n")
    #expect(plain.truncated)

    let accented = try await runner.run(
      ProcessSpec(
        program: .shell("printf '\\303\\251\\303\\251\\303\\251\\n'"), processEnvironment: basePath,
        outputCap: 4))
    #expect(accented.output == "é\n")
    #expect(accented.truncated)
  }

  @Test("a last line without a newline and a line with no end at all are delivered")
  func partialAndEndlessLines() async throws {
    let recorder = OutputRecorder()
    _ = try await runner.run(
      ProcessSpec(program: .shell("printf 'no newline'"), processEnvironment: basePath),
      onOutput: recorder.callback)
    #expect(recorder.lines == ["no newline"])

    let endless = OutputRecorder()
    let outcome = try await runner.run(
      ProcessSpec(program: .shell("head -c 100000 /dev/zero | tr '\\0' x"), processEnvironment: basePath),
      onOutput: endless.callback)
    #expect(endless.lines.joined().count == 100_000)
    #expect(endless.lines.count > 1)
    #expect(outcome.output.utf8.count <= ProcessSpec.defaultOutputCap)
  }

  @Test("runs in parallel do not queue behind each other or mix their output")
  func parallelRuns() async throws {
    let runner = self.runner
    let (outputs, elapsed) = try await timed {
      try await withThrowingTaskGroup(of: (Int, String).self) { group in
        for index in 0..<8 {
          group.addTask {
            let outcome = try await runner.run(
              ProcessSpec(program: .shell("sleep 0.5; echo run \(index)"), processEnvironment: basePath))
            return (index, outcome.output)
          }
        }
        var outputs: [Int: String] = [:]
        for try await (index, output) in group { outputs[index] = output }
        return outputs
      }
    }

    #expect(outputs.count == 8)
    for (index, output) in outputs { #expect(output == "run \(index)\n") }
    // Eight half-second children on a 2-core machine: together, not one after another.
    #expect(elapsed < .milliseconds(1500))
  }

  // MARK: Program, directory, environment

  @Test("the shell form runs through /bin/sh -c")
  func shellForm() async throws {
    let outcome = try await runner.run(
      ProcessSpec(
        program: .shell("x=5; echo \"value $((x * 2))\" | tr a-z A-Z"), processEnvironment: basePath))

    #expect(outcome.output == "VALUE 10\n")
  }

  @Test("cwd is honoured and the environment is exactly the spec's")
  func cwdAndEnvironment() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var environment = basePath
    environment["GREETING"] = "hello there"

    let recorder = OutputRecorder()
    let outcome = try await runner.run(
      ProcessSpec(
        program: .argv(["sh", "-c", "pwd; echo \"$GREETING\"; echo \"${HOME-unset}\""]),
        cwd: directory, processEnvironment: environment),
      onOutput: recorder.callback)

    #expect(outcome.succeeded)
    #expect(recorder.lines == [directory, "hello there", "unset"])
  }

  @Test("a relative program path is taken from cwd")
  func relativeProgram() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let script = directory + "/tool.sh"
    try "#!/bin/sh\necho \"tool $1\"\n".write(toFile: script, atomically: false, encoding: .utf8)
    chmod(script, 0o755)

    let outcome = try await runner.run(
      ProcessSpec(program: .argv(["./tool.sh", "ran"]), cwd: directory, processEnvironment: basePath))

    #expect(outcome.output == "tool ran\n")
  }

  @Test("stdin is /dev/null, so a command that reads it does not hang")
  func stdinIsDevNull() async throws {
    let outcome = try await runner.run(
      ProcessSpec(program: .shell("cat; echo done"), processEnvironment: basePath, timeout: .seconds(5)))

    #expect(outcome.output == "done\n")
    #expect(!outcome.timedOut)
  }

  @Test("the child leads its own session and process group")
  func ownSession() async throws {
    let recorder = OutputRecorder()
    _ = try await runner.run(
      ProcessSpec(program: .shell("echo $$; cut -d' ' -f5,6 /proc/$$/stat"), processEnvironment: basePath),
      onOutput: recorder.callback)

    let lines = recorder.lines
    try #require(lines.count == 2)
    #expect(lines[1] == "\(lines[0]) \(lines[0])")
    #expect(lines[0] != String(getpgrp()))
  }

  @Test("ignored or blocked signals in rollback do not leak into the child")
  func cleanSignalState() async throws {
    SignalTrap.ignoreSIGPIPE()
    let recorder = OutputRecorder()
    _ = try await runner.run(
      ProcessSpec(
        program: .argv(["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]), processEnvironment: basePath),
      onOutput: recorder.callback)

    let masks = recorder.lines.compactMap { line -> (String, UInt64)? in
      let parts = line.split(separator: "\t")
      guard parts.count == 2, let mask = UInt64(parts[1], radix: 16) else { return nil }
      return (String(parts[0]), mask)
    }
    #expect(masks.map(\.0) == ["SigBlk:", "SigIgn:"])
    // Signals 1-31; glibc's posix_spawn keeps its two internal real-time signals ignored.
    let standardSignals: UInt64 = 0x7FFF_FFFF
    for (name, mask) in masks {
      #expect(mask & standardSignals == 0, "\(name) \(String(mask, radix: 16))")
    }
  }

  // MARK: Failure to start

  @Test("an unknown executable throws before anything runs")
  func executableNotFound() async throws {
    let recorder = OutputRecorder()
    let (error, elapsed) = await timedError { () async throws(ProcessError) in
      _ = try await runner.run(
        ProcessSpec(program: .argv(["rollback-no-such-program", "x"]), processEnvironment: basePath),
        onOutput: recorder.callback)
    }

    #expect(error == .executableNotFound(name: "rollback-no-such-program"))
    #expect(recorder.lines.isEmpty)
    #expect(elapsed < .seconds(2))
    #expect(error?.description.hasPrefix("executable not found: rollback-no-such-program") == true)
  }

  @Test("the program is looked up in the spec's PATH, not rollback's")
  func lookupUsesSpecPath() async throws {
    let (error, _) = await timedError { () async throws(ProcessError) in
      _ = try await runner.run(
        ProcessSpec(program: .argv(["sh", "-c", "true"]), processEnvironment: ["PATH": "/nonexistent"]))
    }

    #expect(error == .executableNotFound(name: "sh"))
  }

  @Test("a file without execute permission, a missing cwd and an empty argv are start errors")
  func otherStartErrors() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let plain = directory + "/plain.sh"
    try "echo never\n".write(toFile: plain, atomically: false, encoding: .utf8)
    chmod(plain, 0o644)

    let (notExecutable, _) = await timedError { () async throws(ProcessError) in
      _ = try await runner.run(ProcessSpec(program: .argv([plain]), processEnvironment: basePath))
    }
    #expect(notExecutable == .notExecutable(path: plain))

    let (missingCwd, _) = await timedError { () async throws(ProcessError) in
      _ = try await runner.run(
        ProcessSpec(program: .argv(["true"]), cwd: directory + "/gone", processEnvironment: basePath))
    }
    #expect(missingCwd == .cwdMissing(path: directory + "/gone"))
    #expect(missingCwd?.description.contains("working directory missing") == true)

    let (empty, _) = await timedError { () async throws(ProcessError) in
      _ = try await runner.run(ProcessSpec(program: .argv([]), processEnvironment: basePath))
    }
    #expect(empty == .executableNotFound(name: ""))
  }

  @Test("resolveExecutable finds programs on a PATH for preflight")
  func resolveExecutable() throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let plain = directory + "/plain"
    try "data\n".write(toFile: plain, atomically: false, encoding: .utf8)
    chmod(plain, 0o644)

    let found = ProcessRunner.resolveExecutable("sh", path: "::/nonexistent:/usr/bin:/bin")
    #expect(found?.hasSuffix("/sh") == true)
    #expect(ProcessRunner.resolveExecutable("/bin/sh", path: nil) == "/bin/sh")
    #expect(ProcessRunner.resolveExecutable("rollback-no-such-program", path: "/usr/bin:/bin") == nil)
    #expect(ProcessRunner.resolveExecutable("sh", path: "/nonexistent") == nil)
    #expect(ProcessRunner.resolveExecutable(plain, path: nil) == nil)
    #expect(ProcessRunner.resolveExecutable("plain", path: directory) == nil)
    #expect(ProcessRunner.resolveExecutable(directory, path: nil) == nil)
  }

  @Test("resolveExecutable takes relative names and PATH entries from the step's cwd, as a run does")
  func resolveExecutableFromCwd() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
    let tool = directory + "/bin/tool"
    try "#!/bin/sh\necho ran\n".write(toFile: tool, atomically: false, encoding: .utf8)
    chmod(tool, 0o755)

    #expect(ProcessRunner.resolveExecutable("tool", path: "bin", cwd: directory) == tool)
    #expect(ProcessRunner.resolveExecutable("bin/tool", path: nil, cwd: directory) == tool)
    #expect(ProcessRunner.resolveExecutable("tool", path: "bin", cwd: "/") == nil)
    let outcome = try await ProcessRunner().run(
      ProcessSpec(program: .argv(["tool"]), cwd: directory, processEnvironment: ["PATH": "bin"]))
    #expect(outcome.exitCode == 0)
  }

  // MARK: Teardown

  @Test("a timeout takes down the child and its grandchild, and nothing is left")
  func timeoutKillsGrandchildren() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let script = "sleep 300 & echo $! > '\(directory)/grandchild'; echo $$ > '\(directory)/child'; sleep 300"

    let (outcome, elapsed) = try await timed {
      try await runner.run(
        ProcessSpec(
          program: .shell(script), processEnvironment: basePath, timeout: .seconds(1), grace: .seconds(3)))
    }

    #expect(outcome.timedOut)
    #expect(!outcome.succeeded)
    #expect(outcome.signal == SIGTERM)
    #expect(elapsed < .seconds(1 + 3 + 1))
    #expect(elapsed < .milliseconds(1500), "SIGTERM is enough here: no need to wait for the grace")
    let child = try #require(await readPid(directory + "/child"))
    let grandchild = try #require(await readPid(directory + "/grandchild"))
    #expect(isGone(child))
    #expect(isGone(grandchild))
    #expect(await lingeringZombies().isEmpty)
  }

  @Test("a group that ignores SIGTERM is SIGKILLed once the grace is over")
  func sigkillAfterGrace() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let script = """
      trap '' TERM; sleep 300 & echo $! > '\(directory)/grandchild'; echo $$ > '\(directory)/child'; sleep 300
      """

    let (outcome, elapsed) = try await timed {
      try await runner.run(
        ProcessSpec(
          program: .shell(script), processEnvironment: basePath, timeout: .seconds(1), grace: .seconds(1)))
    }

    #expect(outcome.timedOut)
    #expect(outcome.signal == SIGKILL)
    #expect(elapsed >= .milliseconds(1900), "the grace is honoured before SIGKILL")
    #expect(elapsed < .seconds(1 + 1 + 1))
    let child = try #require(await readPid(directory + "/child"))
    let grandchild = try #require(await readPid(directory + "/grandchild"))
    #expect(isGone(child))
    #expect(isGone(grandchild))
    #expect(await lingeringZombies().isEmpty)
  }

  @Test("cancelling the awaiting task tears the group down and reports cancelled")
  func cancellationTearsDown() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let script = """
      sleep 300 & echo $! > '\(directory)/grandchild'; echo $$ > '\(directory)/child'; echo started; sleep 300
      """
    let recorder = OutputRecorder()
    let runner = self.runner
    let task = Task {
      try await runner.run(
        ProcessSpec(program: .shell(script), processEnvironment: basePath, grace: .seconds(3)),
        onOutput: recorder.callback)
    }
    try #require(await recorder.waitFor("started"))

    let cancelledAt = ContinuousClock.now
    task.cancel()
    let outcome = try await task.value
    let teardown = cancelledAt.duration(to: .now)

    #expect(outcome.cancelled)
    #expect(!outcome.timedOut)
    #expect(!outcome.succeeded)
    #expect(outcome.signal == SIGTERM)
    #expect(teardown < .milliseconds(500))
    let child = try #require(await readPid(directory + "/child"))
    let grandchild = try #require(await readPid(directory + "/grandchild"))
    #expect(isGone(child))
    #expect(isGone(grandchild))
    #expect(await lingeringZombies().isEmpty)
  }

  @Test("a task cancelled before the start runs nothing")
  func cancelledBeforeStart() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let marker = directory + "/ran"
    let runner = self.runner
    let task = Task {
      withUnsafeCurrentTask { $0?.cancel() }
      return try await runner.run(
        ProcessSpec(program: .argv(["touch", marker]), processEnvironment: basePath))
    }
    let outcome = try await task.value

    #expect(outcome.cancelled)
    #expect(outcome.exitCode == nil)
    #expect(!FileManager.default.fileExists(atPath: marker))
  }

  @Test("a background grandchild holding the pipes does not keep the run waiting")
  func backgroundHolderDoesNotHang() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let script = "sleep 30 & echo $! > '\(directory)/grandchild'; echo done"

    let (outcome, elapsed) = try await timed {
      try await runner.run(
        ProcessSpec(program: .shell(script), processEnvironment: basePath, timeout: .seconds(10)))
    }
    let grandchild = await readPid(directory + "/grandchild")
    if let grandchild { kill(grandchild, SIGKILL) }

    #expect(outcome.succeeded)
    #expect(outcome.output == "done\n")
    #expect(elapsed < .seconds(2))
    #expect(await lingeringZombies().isEmpty)
  }
}
