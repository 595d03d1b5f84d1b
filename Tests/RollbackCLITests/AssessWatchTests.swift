import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A `rollback` process that keeps running while the test watches its output.
final class RunningCLI: @unchecked Sendable {
  let process = Process()
  private let lock = NSLock()
  private var out = Data()
  private var err = Data()

  init(_ arguments: [String], environment: [String: String]) throws {
    process.executableURL = URL(fileURLWithPath: CLI.binary)
    process.arguments = arguments
    process.currentDirectoryURL = CLI.packageRoot
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let outPipe = Pipe()
    let errPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = FileHandle.nullDevice
    outPipe.fileHandleForReading.readabilityHandler = { [self] handle in
      let data = handle.availableData
      lock.lock()
      out.append(data)
      lock.unlock()
    }
    errPipe.fileHandleForReading.readabilityHandler = { [self] handle in
      let data = handle.availableData
      lock.lock()
      err.append(data)
      lock.unlock()
    }
    try process.run()
  }

  var stdout: String {
    lock.lock()
    defer { lock.unlock() }
    return String(decoding: out, as: UTF8.self)
  }

  var stderr: String {
    lock.lock()
    defer { lock.unlock() }
    return String(decoding: err, as: UTF8.self)
  }

  /// Waits until stdout satisfies `condition`; false after `timeout` seconds.
  func waitForStdout(timeout: TimeInterval, _ condition: (String) -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if condition(stdout) { return true }
      try? await Task.sleep(for: .milliseconds(50))
    }
    return condition(stdout)
  }

  func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

  /// The exit status, or nil if the process is still running after `timeout` seconds.
  func wait(timeout: TimeInterval) async -> Int32? {
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
    guard !process.isRunning else {
      process.terminate()
      return nil
    }
    // Let the readability handlers drain the pipes.
    try? await Task.sleep(for: .milliseconds(100))
    return process.terminationStatus
  }
}

@Suite("rollback assess --watch: re-assess, print only changes, stop cleanly", .serialized)
struct AssessWatchTests {
  /// Other tests open and close database sessions all the time: the count of client
  /// backends (db_active) is given by hand so that only what a test changes changes.
  static let steady = ["--signal", "db_active=1"]

  @Test("nothing changes: the report is printed once, every assessment after it prints nothing")
  func quietWhenStable() async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let name = AssessHarness.newCase("watch-stable")
    try AssessGauges.set(case: name, lines: AssessGauges.lines(case: name, p95: "0.7"))
    try await AssessHarness.waitForScrape(case: name, values: ["p95_latency": 0.7], stateDirectory: state)
    try? FileManager.default.removeItem(at: state.appendingPathComponent("assessments"))

    let result = try await AssessHarness.assess(
      case: name, ["--watch", "200ms", "--watch-count", "4"] + Self.steady, stateDirectory: state)

    #expect(result.status == 10, "\(result.stdout)\n\(result.stderr)")
    let lines = reportLines(result.stdout)
    #expect(lines.first == "Watching every 200ms, printing only changes; Ctrl-C to stop.")
    #expect(lines.filter { $0.hasPrefix("Verdict:") } == ["Verdict: LOW"])
    #expect(lines.filter { $0.hasPrefix("Assessment — ") }.count == 1)
    #expect(lines.last { !$0.isEmpty }?.hasPrefix("Saved to ") == true, "\(result.stdout)")
    #expect(result.stderr.contains("Stopped after 4 assessments; last verdict: LOW (p95_latency > 500ms)."))
    let saved = try FileManager.default.contentsOfDirectory(
      atPath: state.appendingPathComponent("assessments").path)
    #expect(saved.count == 1)
  }

  @Test("a change prints the signal's old and new value and the new verdict; SIGTERM stops with its status")
  func changesThenSigterm() async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let name = AssessHarness.newCase("watch-change")
    try AssessGauges.set(case: name, lines: AssessGauges.lines(case: name))
    try await AssessHarness.waitForScrape(case: name, values: ["error_rate": 0.0005], stateDirectory: state)
    try? FileManager.default.removeItem(at: state.appendingPathComponent("assessments"))

    let watcher = try RunningCLI(
      [
        "assess", "--runbook", AssessHarness.runbook, "--var", "case=\(name)", "--state-dir", state.path,
        "--watch", "250ms",
      ] + Self.steady, environment: try AssessHarness.environment())
    let healthy = await watcher.waitForStdout(timeout: 10) { $0.contains("Verdict: HEALTHY") }
    try AssessGauges.set(case: name, lines: AssessGauges.lines(case: name, errorRatio: "0.082"))
    let changed = await watcher.waitForStdout(timeout: 12) { $0.contains("verdict: HEALTHY → CRITICAL") }
    // A few quiet assessments after the change.
    try await Task.sleep(for: .seconds(1))
    watcher.send(SIGTERM)
    let status = await watcher.wait(timeout: 5)

    #expect(healthy, "\(watcher.stdout)")
    #expect(changed, "\(watcher.stdout)")
    #expect(status == 13, "\(watcher.stderr)")
    let lines = reportLines(watcher.stdout)
    #expect(lines.contains("  error_rate: 0.05 % → 8.2 %"), "\(watcher.stdout)")
    #expect(lines.contains("  verdict: HEALTHY → CRITICAL (error_rate > 5%)"))
    #expect(
      lines.contains(
        "  action: execute level 3 (Full rollback) — run: rollback execute --level 3 --env harness "
          + "--runbook \(CLI.packageRoot.appendingPathComponent(AssessHarness.runbook).path) "
          + "--state-dir \(state.path) --var case=\(name)"))
    // The change is stamped with the time; the report before it is printed once.
    let stamp = lines.firstIndex {
      $0.range(of: #"^\d{2}:\d{2}:\d{2}Z$"#, options: .regularExpression) != nil
    }
    #expect(stamp != nil)
    #expect(lines.filter { $0.hasPrefix("Verdict:") }.count == 1)
    // Changes that the scrape spreads over two assessments may print twice; never more lines than that.
    #expect(lines.filter { $0.hasPrefix("  verdict:") }.count == 1)
    #expect(watcher.stderr.contains("last verdict: CRITICAL (error_rate > 5%)."), "\(watcher.stderr)")
    let saved = try FileManager.default.contentsOfDirectory(
      atPath: state.appendingPathComponent("assessments").path)
    #expect(saved.count == 2)
  }

  @Test("SIGINT stops the watch too; with --json each assessment that changed is one JSON line")
  func jsonLinesThenSigint() async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let name = AssessHarness.newCase("watch-json")
    try AssessGauges.set(case: name, lines: AssessGauges.lines(case: name, p95: "1.5"))
    try await AssessHarness.waitForScrape(case: name, values: ["p95_latency": 1.5], stateDirectory: state)

    let watcher = try RunningCLI(
      [
        "assess", "--runbook", AssessHarness.runbook, "--var", "case=\(name)", "--state-dir", state.path,
        "--watch", "200ms", "--json",
      ] + Self.steady, environment: try AssessHarness.environment())
    let first = await watcher.waitForStdout(timeout: 10) { $0.hasSuffix("\n") }
    try AssessGauges.set(case: name, lines: AssessGauges.lines(case: name, p95: "0.2"))
    let second = await watcher.waitForStdout(timeout: 12) { $0.contains("\"severity\":\"healthy\"") }
    watcher.send(SIGINT)
    let status = await watcher.wait(timeout: 5)

    #expect(first && second, "\(watcher.stdout)")
    #expect(status == 0, "\(watcher.stderr)")
    let documents = watcher.stdout.split(separator: "\n").map { line in
      (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
    #expect(documents.allSatisfy { $0 != nil }, "every stdout line is one JSON document: \(watcher.stdout)")
    #expect(documents.first??["severity"] as? String == "medium")
    #expect(documents.last??["severity"] as? String == "healthy")
    #expect(watcher.stderr.contains("Verdict: MEDIUM — respond within 1h"))
  }

  @Test("a --watch interval that is not a duration is bad input")
  func badInterval() async throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }

    let result = try await AssessHarness.assess(case: "unused", ["--watch", "soon"], stateDirectory: state)

    #expect(result.status == 2)
    #expect(
      result.stderr.contains("error: --watch expects a duration such as 10s, 500ms or 1m, found 'soon'"))
  }
}
