import Foundation
import RollbackCore
import Synchronization
import Testing

@testable import RollbackSystem

/// A signal source that answers each read with the next scripted value (nil: the source did not
/// answer), and counts the reads.
private final class ScriptedReader: SignalReader, Sendable {
  let values: Mutex<[Double?]>
  let reads = Mutex(0)

  init(_ values: [Double?]) { self.values = Mutex(values) }

  func read(_ signals: [Signal]) async -> [SignalReading] {
    reads.withLock { $0 += 1 }
    let value = values.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    return signals.map { signal in
      SignalReading(
        name: signal.name, source: signal.sourceName, unit: signal.unit, value: value,
        error: value == nil ? "timeout after 5s" : nil)
    }
  }
}

/// Time that moves only when a runner sleeps.
private final class SteppedClock: ExecutionClock, Sendable {
  let start = ContinuousClock.now
  let elapsed = Mutex(Duration.zero)
  var now: ContinuousClock.Instant { start + elapsed.withLock { $0 } }
  func sleep(for duration: Duration) async throws {
    try Task.checkCancellation()
    elapsed.withLock { $0 += duration }
  }
}

/// Lines a runner says, in order.
private final class Said: Sendable {
  let lines = Mutex<[(String, OutputKind)]>([])
  var texts: [String] { lines.withLock { $0.map(\.0) } }
  var say: (String) -> Void { { text in self.lines.withLock { $0.append((text, .detail)) } } }
  var sayKind: (String, OutputKind) -> Void {
    { text, kind in self.lines.withLock { $0.append((text, kind)) } }
  }
}

/// A runbook with one step of each kind the tests run, its steps by id, and its resolver.
private struct Book {
  let runbook: Runbook
  let resolver: Resolver

  init(url: String = "http://127.0.0.1:9", flagFile: String = "/nonexistent/.env", restartCode: Int = 0)
    throws
  {
    let source = """
      version: 1
      name: runners
      flags:
        api:
          key: USE_API
          files: ["\(flagFile)"]
      services:
        web:
          restart: [sh, -c, "echo restarting web; exit ${restart_code}"]
          rebuild: [sh, -c, "echo rebuilding web"]
          health: {http: {url: "\(url)/health"}, within: 60s, interval: 100ms}
      environments:
        test:
          vars: {restart_code: "\(restartCode)", token: "Bearer s3cr3t-token"}
          prometheus: {url: "http://127.0.0.1:9"}
      signals:
        errors: {prometheus: errors, unit: count}
      levels:
        1:
          steps:
            - {id: settle, wait: "errors < 5", within: 1m, interval: 10s, consecutive: 2}
            - {id: healthy, assert: "errors < 5"}
            - {id: read, check: [errors]}
            - {id: off, flag: {name: api, set: disabled}}
            - {id: call, http: {method: POST, url: "\(url)/hook", headers: {Authorization: "${token}"}, json: {level: 1}, expect_body: "done"}}
            - {id: ask, confirm: "Roll back the API?"}
      """
    let loaded = RunbookLoader.load(source: source, file: "runners.yaml")
    runbook = try #require(loaded.runbook, "\(loaded.errors.map(\.description))")
    resolver = try Resolver.resolving(
      runbook: runbook, environmentName: nil, processEnvironment: [:], overrides: [:], resolveSecrets: true
    )
  }

  func kind(_ id: String) throws -> StepKind {
    try #require(runbook.levels.flatMap(\.steps).first { $0.id == id }?.kind)
  }

  func condition(_ id: String) throws -> Condition {
    switch try kind(id) {
    case .wait(let condition, _, _, _), .assert(let condition): return condition
    default: throw BookError.wrongKind(id)
    }
  }

  func resolve(_ template: Template) -> ResolvedText {
    var bag = DiagnosticBag()
    return resolver.context.resolve(template, into: &bag)
  }

  func sampler(_ reader: ScriptedReader) -> SignalSampler {
    SignalSampler(reader: reader, runbook: runbook, manual: ManualValues())
  }

  enum BookError: Error { case wrongKind(String) }
}

@Suite("Step runners, each on its own effects")
struct StepRunnerTests {
  @Test("wait: holds twice in a row after a bad sample, on the clock it was given")
  func waitHolds() async throws {
    let book = try Book()
    let reader = ScriptedReader([9, 3, 3])
    let clock = SteppedClock()
    let said = Said()
    let runner = WaitRunner(signals: book.sampler(reader), clock: clock, say: said.sayKind, sayBudget: {})
    let spec = WaitRunner.Spec(
      condition: try book.condition("settle"), within: 60, interval: 10, consecutive: 2)
    let result = try await runner.run(spec, timeout: nil, id: "settle", phase: .live)
    #expect(result.status == .succeeded)
    #expect(result.detail == "errors < 5 held 2× after 20s (errors 3)")
    #expect(reader.reads.withLock { $0 } == 3)
    #expect(clock.elapsed.withLock { $0 } == .seconds(20))
    #expect(said.texts.contains("    settle: errors 9 — errors < 5 not yet (0/2), 0ms of 1m"))
  }

  @Test("wait: an unknown value never counts; the step's timeout caps the wait")
  func waitUnknownTimesOut() async throws {
    let book = try Book()
    let reader = ScriptedReader([3, nil, 3, nil])
    let clock = SteppedClock()
    let runner = WaitRunner(signals: book.sampler(reader), clock: clock, say: { _, _ in }, sayBudget: {})
    let spec = WaitRunner.Spec(
      condition: try book.condition("settle"), within: 60, interval: 10, consecutive: 2)
    let result = try await runner.run(spec, timeout: 30, id: "settle", phase: .live)
    #expect(result.status == .failed)
    #expect(
      result.error
        == "errors < 5 did not hold within 30s (4 samples); last: errors unknown — timeout after 5s")
    #expect(clock.elapsed.withLock { $0 } == .seconds(30))
  }

  @Test("wait after a dry run's first change: sampled once, never waited for")
  func waitSampled() async throws {
    let book = try Book()
    let reader = ScriptedReader([3])
    let clock = SteppedClock()
    let runner = WaitRunner(signals: book.sampler(reader), clock: clock, say: { _, _ in }, sayBudget: {})
    let spec = WaitRunner.Spec(
      condition: try book.condition("settle"), within: 60, interval: 10, consecutive: 2)
    let result = try await runner.run(spec, timeout: nil, id: "settle", phase: .sampled)
    #expect(result.status == .sampled)
    #expect(result.detail == "would wait up to 1m for errors < 5; now errors 3 (holds)")
    #expect(clock.elapsed.withLock { $0 } == .zero)
  }

  @Test("assert: holds, does not hold, and unknown fails")
  func assertVerdicts() async throws {
    let book = try Book()
    let condition = try book.condition("healthy")
    let reader = ScriptedReader([2, 8, nil])
    let runner = AssertRunner(signals: book.sampler(reader))
    let holds = await runner.run(condition, phase: .live)
    let fails = await runner.run(condition, phase: .live)
    let unknown = await runner.run(condition, phase: .live)
    #expect(holds.status == .succeeded)
    #expect(holds.detail == "errors < 5 holds (errors 2)")
    #expect(fails.error == "errors < 5 does not hold (errors 8)")
    #expect(unknown.status == .failed)
    #expect(unknown.error == "cannot tell whether errors < 5: errors unknown — timeout after 5s")
  }

  @Test("check: says each reading and records it; a dry run's later read is a sample")
  func checkReads() async throws {
    let book = try Book()
    let said = Said()
    let runner = CheckRunner(signals: book.sampler(ScriptedReader([4, 5])), say: said.say)
    let live = await runner.run(["errors"], phase: .live)
    let sampled = await runner.run(["errors"], phase: .sampled)
    #expect(live.status == .succeeded)
    #expect(live.detail == "errors 4")
    #expect(live.signals.map(\.value) == [4])
    #expect(sampled.status == .sampled)
    #expect(said.texts == ["    errors: 4", "    errors: 5"])
  }

  @Test("confirm: yes goes on, no declines with exit 5, nobody to ask names --yes")
  func confirmAnswers() async throws {
    let answers = Mutex<[Bool?]>([true, false, nil])
    let confirmer = Executor.Confirmer { _ in answers.withLock { $0.removeFirst() } }
    let runner = ConfirmRunner(confirmer: confirmer, dryRun: false, assumeYes: false)
    let yes = await runner.run("Roll back the API?", id: "ask")
    let no = await runner.run("Roll back the API?", id: "ask")
    let nobody = await runner.run("Roll back the API?", id: "ask")
    #expect(yes.status == .succeeded)
    #expect(yes.detail == "Roll back the API? — yes")
    #expect(no.status == .failed)
    #expect(no.declined == 5)
    #expect(no.error == "declined: Roll back the API?")
    #expect(nobody.declined == 5)
    #expect(
      nobody.error
        == "confirm gate 'ask' needs an answer and there is no terminal; rerun with --yes to answer yes")
    let dry = await ConfirmRunner(confirmer: confirmer, dryRun: true, assumeYes: false).run("Go?", id: "ask")
    #expect(dry.status == .sampled)
    #expect(answers.withLock { $0.count } == 0)
  }

  @Test("http: a real request with its JSON body; a missing body text fails; a dry run masks the token")
  func httpRequest() async throws {
    let server = try HTTPLoopbackServer(reply: .respond(status: 200, body: Data("not yet".utf8)))
    defer { server.stop() }
    let book = try Book(url: server.baseURL)
    guard case .http(let spec) = try book.kind("call") else { throw Book.BookError.wrongKind("call") }
    let runner = HTTPRunner(http: ExecutionEffects.live.http, resolve: book.resolve)
    let result = try await runner.run(spec, phase: .live, timeout: 5)
    #expect(result.status == .failed)
    #expect(result.error == "HTTP 200 but the body does not contain \"done\"")
    #expect(result.output == "not yet")
    let request = try #require(server.requests.first)
    #expect(request.method == "POST")
    #expect(request.path == "/hook")
    #expect(request.header("Content-Type") == "application/json")
    #expect(request.header("Authorization") == "Bearer s3cr3t-token")
    #expect(String(decoding: request.body, as: UTF8.self) == #"{"level":1}"#)

    let dry = try await runner.run(spec, phase: .wouldRun, timeout: 5)
    #expect(dry.status == .wouldRun)
    #expect(dry.detail.contains("Authorization: \(Redaction.mask)"))
    #expect(!dry.detail.contains("s3cr3t"))
    #expect(server.requests.count == 1)
  }

  @Test(
    "flag: a dry run shows the diff and keeps the bytes; a run writes them with a backup; an unknown flag writes nothing"
  )
  func flagWrites() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "runner-flag-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let file = directory.appendingPathComponent(".env").path
    try "USE_API=true\n# keep\n".write(toFile: file, atomically: true, encoding: .utf8)
    let book = try Book(flagFile: file)
    let flag = try #require(book.runbook.flags["api"])
    let noted = Mutex<[String]>([])
    let said = Said()
    let runner = FlagRunner(
      host: LocalHost(), backupDirectory: directory.appendingPathComponent("backups").path, say: said.say,
      noteWrite: { result in noted.withLock { $0 += result.changes.map(\.after) } })
    let editor = FlagEditor(flag: flag, files: [file])
    let dry = try await runner.run("api", editor: editor, .disable, dryRun: true)
    #expect(dry.status == .wouldRun)
    #expect(said.texts.contains("    +USE_API=false"))
    #expect(try String(contentsOfFile: file, encoding: .utf8) == "USE_API=true\n# keep\n")
    #expect(noted.withLock { $0 }.isEmpty)
    let result = try await runner.run("api", editor: editor, .disable, dryRun: false)
    #expect(result.status == .succeeded)
    #expect(try String(contentsOfFile: file, encoding: .utf8) == "USE_API=false\n# keep\n")
    #expect(result.flagChanges.first?.backup != nil)
    #expect(noted.withLock { $0 } == ["false"])

    let unknown = try await runner.run("nope", editor: nil, .disable, dryRun: false)
    #expect(unknown.error == "unknown flag nope")
    #expect(try String(contentsOfFile: file, encoding: .utf8) == "USE_API=false\n# keep\n")
  }

  /// A restart runner on this machine, with real processes and real HTTP.
  private func restartRunner(_ book: Book, said: Said) -> RestartRunner {
    RestartRunner(
      commands: CommandRunner(
        host: LocalHost(), processEnvironment: ["PATH": "/usr/bin:/bin"], sayOutput: { said.say($0) }),
      http: ExecutionEffects.live.http, clock: LiveClock(), resolve: book.resolve,
      resolveCommand: { command in
        var bag = DiagnosticBag()
        let program: ProcessSpec.Program
        switch command.program {
        case .argv(let argv): program = .argv(argv.map { book.resolve($0).value })
        case .shell(let line): program = .shell(book.resolver.context.resolveShell(line, into: &bag).value)
        }
        return ResolvedCommand(
          program: program, cwd: nil, env: [:], display: book.resolver.describe(command, into: &bag))
      }, say: said.sayKind, sayBudget: {})
  }

  @Test("restart: rebuild and restart run for real, then the health URL is polled until it answers 200")
  func restartPollsHealth() async throws {
    let polls = Mutex(0)
    let server = try HTTPLoopbackServer { _ in
      let count = polls.withLock { count in
        count += 1
        return count
      }
      return count < 3 ? .respond(status: 503) : .respond(status: 200)
    }
    defer { server.stop() }
    let book = try Book(url: server.baseURL)
    let said = Said()
    let result = try await restartRunner(book, said: said).run(
      "web", service: book.resolver.service(named: "web"), rebuild: true, prover: nil, id: "restart",
      stepTimeout: nil)
    #expect(result.status == .succeeded)
    #expect(result.detail.hasPrefix("web rebuilt, restarted, healthy after "))
    #expect(result.output == "rebuilding web\nrestarting web\n")
    #expect(polls.withLock { $0 } == 3)
    #expect(said.texts.contains { $0.contains("restart: waiting for web to be healthy — HTTP 503") })
  }

  @Test("restart: a failing restart command fails the step before any health poll")
  func restartCommandFails() async throws {
    let server = try HTTPLoopbackServer(reply: .respond(status: 200))
    defer { server.stop() }
    let book = try Book(url: server.baseURL, restartCode: 3)
    let said = Said()
    let result = try await restartRunner(book, said: said).run(
      "web", service: book.resolver.service(named: "web"), rebuild: false, prover: nil, id: "restart",
      stepTimeout: nil)
    #expect(result.status == .failed)
    #expect(result.error == "restart command failed: exited with status 3")
    #expect(server.requests.isEmpty)
    let unknown = try await restartRunner(book, said: said).run(
      "db", service: nil, rebuild: false, prover: nil, id: "restart", stepTimeout: nil)
    #expect(unknown.error == "unknown service db")
  }
}
