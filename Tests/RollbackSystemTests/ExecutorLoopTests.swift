import Foundation
import RollbackCore
import RollbackSystem
import Synchronization
import Testing

/// A world the executor acts on in memory. Every effect a test did not script fails the test.
private final class FakeWorld: Sendable {
  struct State {
    var commands: [[String]] = []
    var exitCodes: [Int32] = []
    var cancelCommands = false
    var outcomes: [ProcessOutcome] = []
    /// SIGINT as the first command finishes: the run's task is cancelled between steps.
    var cancelAfterCommand = false
    /// Flag files the host may read and edit (on this machine, for real); any other is unexpected.
    var flagFiles: Set<String> = []
    var sqlResults: [PostgresQueryResult] = []
    var statements: [PostgresStatement] = []
    var httpStatuses: [Int] = []
    var requests: [HTTPRequest] = []
    var flagEdits: [(files: [String], dryRun: Bool)] = []
    var signalValues: [String: Double] = [:]
    var signalReads: [[String]] = []
    var sleeps: [Duration] = []
    var elapsed: Duration = .zero
  }
  let state = Mutex(State())
  let start = ContinuousClock.now

  var effects: ExecutionEffects {
    ExecutionEffects(
      host: FakeHost(world: self),
      http: { (request) throws(HTTPError) in
        let status = self.state.withLock { state -> Int? in
          state.requests.append(request)
          return state.httpStatuses.isEmpty ? nil : state.httpStatuses.removeFirst()
        }
        guard let status else {
          Issue.record("unexpected HTTP request \(request.method) \(request.url)")
          throw HTTPError.cancelled
        }
        return HTTPResponse(status: status, headers: [], body: Data("ok".utf8), totalTime: .milliseconds(3))
      },
      postgres: { (statement) throws(PostgresError) in
        let scripted = self.state.withLock { state -> PostgresQueryResult? in
          state.statements.append(statement)
          return state.sqlResults.isEmpty ? nil : state.sqlResults.removeFirst()
        }
        guard let scripted else {
          Issue.record("unexpected SQL \(statement.query)")
          throw PostgresError.cancelled
        }
        return scripted
      },
      signalReader: { _, _ in FakeReader(world: self) },
      clock: FakeClock(world: self),
      confirmer: Executor.Confirmer { question in
        Issue.record("unexpected question \(question)")
        return nil
      })
  }
}

private struct FakeHost: HostEffects {
  let world: FakeWorld

  func run(command spec: ProcessSpec, onOutput: @escaping @Sendable (ProcessStream, String) -> Void)
    async throws(ProcessError) -> ProcessOutcome
  {
    let argv: [String]
    switch spec.program {
    case .argv(let words): argv = words
    case .shell(let line): argv = ["sh", "-c", line]
    }
    if world.state.withLock({ $0.cancelAfterCommand }) { withUnsafeCurrentTask { $0?.cancel() } }
    return world.state.withLock { state in
      state.commands.append(argv)
      if state.cancelCommands { return ProcessOutcome(exitCode: nil, cancelled: true) }
      if !state.outcomes.isEmpty { return state.outcomes.removeFirst() }
      let code = state.exitCodes.isEmpty ? 0 : state.exitCodes.removeFirst()
      return ProcessOutcome(exitCode: code, output: "ran \(argv.joined(separator: " "))\n")
    }
  }

  func readFlagFile(_ path: String) throws(FileError) -> [UInt8] {
    guard world.state.withLock({ $0.flagFiles.contains(path) }) else {
      Issue.record("unexpected read of \(path)")
      return []
    }
    return try AtomicFile.read(path)
  }

  func applyFlag(_ editor: FlagEditor, _ change: FlagChange, backupDirectory: String, dryRun: Bool)
    throws(FlagEditor.EditError) -> FlagEditor.Result
  {
    let allowed = world.state.withLock { state in
      state.flagEdits.append((editor.files, dryRun))
      return Set(editor.files).isSubset(of: state.flagFiles)
    }
    guard allowed else {
      Issue.record("unexpected flag change to \(editor.files)")
      throw .missing(editor.files.first ?? "")
    }
    return try editor.apply(change, backupDirectory: backupDirectory, dryRun: dryRun)
  }
}

private struct FakeReader: SignalReader {
  let world: FakeWorld

  func read(_ signals: [Signal]) async -> [SignalReading] {
    world.state.withLock { state in
      state.signalReads.append(signals.map(\.name))
      return signals.map { signal in
        let value = state.signalValues[signal.name]
        return SignalReading(
          name: signal.name, source: signal.sourceName, unit: signal.unit, value: value,
          error: value == nil ? "timeout after 5s" : nil)
      }
    }
  }
}

/// Time that moves only when the executor sleeps.
private struct FakeClock: ExecutionClock {
  let world: FakeWorld
  var now: ContinuousClock.Instant { world.start + world.state.withLock { $0.elapsed } }
  func sleep(for duration: Duration) async throws {
    try Task.checkCancellation()
    world.state.withLock { state in
      state.sleeps.append(duration)
      state.elapsed += duration
    }
  }
}

/// Lines the executor says, kept in order.
private final class Lines: Sendable {
  let lines = Mutex<[OutputLine]>([])
  var texts: [String] { lines.withLock { $0.map(\.text) } }
  var all: String { texts.joined(separator: "\n") }
}

private func source(flagFile: String) -> String {
  """
  version: 1
  name: loop
  notify:
    slack: {webhook_env: LOOP_SLACK, channel: "#ops"}
    stdout: true
  flags:
    api:
      key: USE_API
      files: ["\(flagFile)"]
  environments:
    test:
      prometheus:
        url: http://127.0.0.1:9
      postgres:
        dsn_env: LOOP_DSN
  signals:
    errors:
      prometheus: errors
      unit: count
  levels:
    1:
      name: Retry
      steps:
        - id: flaky
          run: ["true", flaky]
          retries: 2
          retry_delay: 5s
        - id: after
          check: [errors]
    2:
      name: Gates
      steps:
        - id: inc
          include: level 3
          when: "errors > 5"
        - id: last
          run: ["true", last]
    3:
      name: Inner
      steps:
        - id: a
          run: ["true", a]
        - id: b
          run: ["true", b]
    4:
      name: Dry
      steps:
        - id: before
          check: [errors]
        - id: change
          run: ["true", change]
        - id: later
          check: [errors]
    5:
      name: Unknown
      steps:
        - id: maybe
          run: ["true", maybe]
          when: "errors > 5"
    6:
      name: Gate
      steps:
        - id: ask
          confirm: "Go on?"
    7:
      name: Flag
      steps:
        - id: off
          flag: {name: api, set: disabled}
    8:
      name: Query
      steps:
        - id: count
          sql: "SELECT count(*) AS n FROM users"
          mutates: false
    9:
      name: Tell
      steps:
        - id: tell
          notify: "rolled back"
  """
}

/// Runs one level in memory against the fake world.
private func run(
  level: Int, world: FakeWorld, dryRun: Bool = false, from: String? = nil, resume: ResumePoint? = nil,
  kind: RunKind = .execute, flagFile: String = "/nonexistent/loop.env"
) async throws -> (RunResult, Lines, URL) {
  let loaded = RunbookLoader.load(source: source(flagFile: flagFile), file: "loop.yaml")
  let runbook = try #require(loaded.runbook, "\(loaded.errors.map(\.description))")
  let state = FileManager.default.temporaryDirectory.appendingPathComponent("loop-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
  let request = ExecutionRequest(
    runbook: runbook, runbookPath: "loop.yaml", runbookHash: "h", target: .level(level), environmentName: nil,
    overrides: [:],
    processEnvironment: [
      "PATH": "/usr/bin:/bin", "LOOP_DSN": "postgresql://app:hunter22@127.0.0.1/db",
      "LOOP_SLACK": "https://hooks.example/T000/s3cr3tpath",
    ],
    manual: ManualValues(), dryRun: dryRun,
    assumeYes: false, canPrompt: false, stateDirectory: state.path, fromStep: from, resume: resume, kind: kind
  )
  let lines = Lines()
  let executor = try Executor(request: request, effects: world.effects) { line in
    lines.lines.withLock { $0.append(line) }
  }
  let result = await executor.run()
  return (result, lines, state)
}

/// The events journalled, by their `event` field.
private func journalEvents(_ result: RunResult) throws -> [String] {
  let path = try #require(result.journalPath)
  let text = try String(contentsOfFile: path, encoding: .utf8)
  return text.split(separator: "\n").compactMap { line in
    let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    return object?["event"] as? String
  }
}

@Suite("Executor loop with a fake effects context")
struct ExecutorLoopTests {
  @Test("a failing command is retried with its delay on the clock, then succeeds")
  func retries() async throws {
    let world = FakeWorld()
    world.state.withLock {
      $0.exitCodes = [1, 1, 0]
      $0.signalValues = ["errors": 0]
    }
    let (result, lines, state) = try await run(level: 1, world: world)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.status == .succeeded)
    #expect(result.exitCode == 0)
    #expect(result.steps.map(\.attempts) == [3, 1])
    let (commands, sleeps) = world.state.withLock { ($0.commands, $0.sleeps) }
    #expect(commands == [["true", "flaky"], ["true", "flaky"], ["true", "flaky"]])
    #expect(sleeps == [.seconds(5), .seconds(5)])
    #expect(lines.all.contains("retry 1 of 2"))
    #expect(lines.all.contains("retry 2 of 2"))
    let events = try journalEvents(result)
    #expect(events.filter { $0 == "step-started" }.count == 2)
  }

  @Test("the result names the level it ran; run-started journals level and scenario as journal v1 does")
  func resultTarget() async throws {
    let world = FakeWorld()
    world.state.withLock { $0.signalValues = ["errors": 0] }
    let (result, _, state) = try await run(level: 1, world: world)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.target == .level(1))
    #expect(RunRendering.summary(result).hasPrefix("Rolled back (level 1) in "))
    let text = try String(contentsOfFile: try #require(result.journalPath), encoding: .utf8)
    let started = try #require(text.split(separator: "\n").first)
    #expect(started.contains(#""level":1,"scenario":null,"title":"Retry""#))
  }

  @Test("retries exhausted: the run fails with exit 1 and the next step stays pending")
  func retriesExhausted() async throws {
    let world = FakeWorld()
    world.state.withLock { $0.exitCodes = [1, 1, 1] }
    let (result, lines, state) = try await run(level: 1, world: world)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.status == .failed)
    #expect(result.exitCode == 1)
    #expect(result.steps.map(\.status) == [.failed, .pending])
    #expect(result.advice?.contains("step flaky failed: exited with status 1") == true)
    #expect(world.state.withLock { $0.signalReads }.isEmpty)
    #expect(lines.all.contains("✗ flaky"))
  }

  @Test("a timed-out then killed command fails each attempt with its reason; its output is kept")
  func commandOutcomes() async throws {
    let world = FakeWorld()
    world.state.withLock {
      $0.outcomes = [
        ProcessOutcome(exitCode: nil, timedOut: true, output: "slow\n"),
        ProcessOutcome(exitCode: nil, signal: 9, output: "killed\n"),
        ProcessOutcome(exitCode: nil, signal: 9, output: "killed again\n"),
      ]
    }
    let (result, lines, state) = try await run(level: 1, world: world)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.exitCode == 1)
    #expect(
      lines.all.contains(
        "! flaky failed (timed out after 5m; its process group was stopped); retry 1 of 2"))
    #expect(result.steps.first?.error == "killed by signal 9")
    #expect(result.steps.first?.output == "killed again\n")
  }

  @Test("a flag step goes through the host: a dry run shows the diff and leaves the bytes; a run writes them")
  func flagThroughHost() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "loop-flag-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let file = directory.appendingPathComponent(".env").path
    let before = "# app\nUSE_API=true\nOTHER=1\n"
    try before.write(toFile: file, atomically: true, encoding: .utf8)

    let world = FakeWorld()
    world.state.withLock { $0.flagFiles = [file] }
    let (dry, dryLines, dryState) = try await run(level: 7, world: world, dryRun: true, flagFile: file)
    defer { try? FileManager.default.removeItem(at: dryState) }
    #expect(dry.status == .dryRun)
    #expect(dry.steps.map(\.status) == [.wouldRun])
    #expect(try String(contentsOfFile: file, encoding: .utf8) == before)
    #expect(dryLines.texts.contains("    +USE_API=false"))

    let (live, _, liveState) = try await run(level: 7, world: world, flagFile: file)
    defer { try? FileManager.default.removeItem(at: liveState) }
    #expect(live.status == .succeeded)
    #expect(try String(contentsOfFile: file, encoding: .utf8) == "# app\nUSE_API=false\nOTHER=1\n")
    #expect(world.state.withLock { $0.flagEdits.map(\.dryRun) } == [true, false])
  }

  @Test("a read-only sql step runs read-only on the environment's database; rows are shown, the DSN never")
  func sqlThroughEffects() async throws {
    let world = FakeWorld()
    world.state.withLock {
      $0.sqlResults = [
        PostgresQueryResult(
          columns: ["n"], rows: [["42"]], totalRowCount: 1, commandTag: "SELECT 1", affectedRows: nil)
      ]
    }
    let (result, lines, state) = try await run(level: 8, world: world)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.status == .succeeded)
    #expect(result.steps.first?.detail.hasSuffix("→ SELECT 1") == true)
    let statements = world.state.withLock { $0.statements }
    #expect(statements.map(\.readOnly) == [true])
    #expect(statements.first?.dsn == "postgresql://app:hunter22@127.0.0.1/db")
    #expect(lines.texts.contains("    │ 42"))
    #expect(!lines.all.contains("hunter22"))
    let journal = try String(contentsOfFile: try #require(result.journalPath), encoding: .utf8)
    #expect(!journal.contains("hunter22"))
  }

  @Test("a drill's notification says [DRILL] on stdout and in the Slack post; the webhook is never shown")
  func notifyInDrill() async throws {
    let world = FakeWorld()
    world.state.withLock { $0.httpStatuses = [200] }
    let (result, lines, state) = try await run(level: 9, world: world, kind: .drill)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.status == .succeeded)
    #expect(lines.texts.contains("    📣 [DRILL] rolled back"))
    #expect(result.steps.first?.detail == "sent to stdout, slack #ops: [DRILL] rolled back")
    let request = try #require(world.state.withLock { $0.requests }.first)
    #expect(request.url == "https://hooks.example/T000/s3cr3tpath")
    let body = String(decoding: request.body ?? Data(), as: UTF8.self)
    #expect(body.contains("[DRILL] rolled back"))
    #expect(body.contains("#ops"))
    #expect(!lines.all.contains("s3cr3tpath"))
  }

  @Test("Slack answering 500 fails the notify step, which never stops the run")
  func notifyFailureDoesNotStop() async throws {
    let world = FakeWorld()
    world.state.withLock { $0.httpStatuses = [500] }
    let (result, lines, state) = try await run(level: 9, world: world)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.status == .succeeded)
    #expect(result.exitCode == 0)
    #expect(result.steps.first?.status == .failed)
    #expect(lines.all.contains("warning: notification: slack answered HTTP 500"))
  }

  @Test("an include's gate is read once and skips every step inside it")
  func gateDecidedOnce() async throws {
    let world = FakeWorld()
    world.state.withLock { $0.signalValues = ["errors": 1] }
    let (result, lines, state) = try await run(level: 2, world: world)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.status == .succeeded)
    #expect(result.steps.map(\.status) == [.skipped, .skipped, .succeeded])
    #expect(world.state.withLock { $0.signalReads } == [["errors"]])
    #expect(world.state.withLock { $0.commands } == [["true", "last"]])
    #expect(lines.texts.contains("  inc: when errors > 5 → does not hold (errors 1)"))
  }

  @Test("a when on an unknown signal runs the step and says unknown is never healthy")
  func whenUnknownRuns() async throws {
    let world = FakeWorld()
    let (result, lines, state) = try await run(level: 5, world: world)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.steps.map(\.status) == [.succeeded])
    #expect(world.state.withLock { $0.commands } == [["true", "maybe"]])
    #expect(lines.all.contains("running it — unknown is never healthy"))
  }

  @Test("a resume skips the steps the interrupted run finished")
  func resumeSkipsFinished() async throws {
    let world = FakeWorld()
    world.state.withLock { $0.signalValues = ["errors": 0] }
    let resume = ResumePoint(runID: "r-1", finished: ["flaky"], unfinished: [], startedAt: Date())
    let (result, lines, state) = try await run(level: 1, world: world, resume: resume, kind: .resume)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.status == .succeeded)
    #expect(result.steps.map(\.status) == [.skipped, .succeeded])
    #expect(world.state.withLock { $0.commands }.isEmpty)
    #expect(lines.texts.contains("  – flaky: already done in run r-1"))
    #expect(try journalEvents(result).first == "run-resumed")
  }

  @Test("--from skips the steps before it")
  func fromStep() async throws {
    let world = FakeWorld()
    world.state.withLock { $0.signalValues = ["errors": 0] }
    let (result, _, state) = try await run(level: 1, world: world, from: "after")
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.steps.map(\.status) == [.skipped, .succeeded])
    #expect(result.steps.first?.detail == "before --from after")
    #expect(world.state.withLock { $0.commands }.isEmpty)
  }

  @Test("dry run: the read before the change is live, the change is described, the later read sampled")
  func dryRunPhases() async throws {
    let world = FakeWorld()
    world.state.withLock { $0.signalValues = ["errors": 3] }
    let (result, lines, state) = try await run(level: 4, world: world, dryRun: true)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.status == .dryRun)
    #expect(result.exitCode == 0)
    #expect(result.steps.map(\.status) == [.succeeded, .wouldRun, .sampled])
    #expect(world.state.withLock { $0.commands }.isEmpty)
    #expect(world.state.withLock { $0.signalReads } == [["errors"], ["errors"]])
    #expect(lines.all.contains("would run: true change"))
  }

  @Test("preflight: a confirm gate nobody can answer refuses the run with exit 5")
  func preflightGate() async throws {
    let world = FakeWorld()
    let (result, lines, state) = try await run(level: 6, world: world)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.status == .aborted)
    #expect(result.exitCode == 5)
    #expect(lines.texts.contains("preflight failed; nothing was changed:"))
    #expect(try journalEvents(result) == ["run-started", "preflight-failed", "run-finished"])
  }

  @Test("cancelled between steps: the finished step stays done, the next never starts, exit 130")
  func interruptedBetweenSteps() async throws {
    let world = FakeWorld()
    world.state.withLock { $0.cancelAfterCommand = true }
    let (result, _, state) = try await run(level: 3, world: world)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.status == .interrupted)
    #expect(result.exitCode == 130)
    #expect(result.steps.map(\.status) == [.succeeded, .pending])
    #expect(world.state.withLock { $0.commands } == [["true", "a"]])
    let events = try journalEvents(result)
    #expect(events.filter { $0 == "step-started" }.count == 1)
    #expect(events.suffix(2) == ["interrupted", "run-finished"])
  }

  @Test("a command cancelled mid-step ends the run interrupted with exit 130 and a resume command")
  func interrupted() async throws {
    let world = FakeWorld()
    world.state.withLock { $0.cancelCommands = true }
    let (result, lines, state) = try await run(level: 3, world: world)
    defer { try? FileManager.default.removeItem(at: state) }
    #expect(result.status == .interrupted)
    #expect(result.exitCode == 130)
    #expect(result.steps.map(\.status) == [.failed, .pending])
    #expect(result.nextCommand?.contains("resume \(result.runID)") == true)
    #expect(lines.texts.contains("  ✗ a interrupted"))
    #expect(try journalEvents(result).suffix(3) == ["step-finished", "interrupted", "run-finished"])
  }
}
