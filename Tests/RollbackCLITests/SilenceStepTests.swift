import Foundation
import Testing

/// `silence` steps against the harness's real Alertmanager: active while the run holds,
/// expired when it ends, is interrupted, or is resumed after being killed.
@Suite("silence steps on the real Alertmanager", .serialized)
struct SilenceStepTests {
  static func alertmanagerURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["ROLLBACK_TEST_ALERTMANAGER_URL"], !url.isEmpty else {
      Issue.record("ROLLBACK_TEST_ALERTMANAGER_URL is not set: run with scripts/harness/with-harness")
      throw Harness.HarnessMissing()
    }
    return url
  }

  /// A runbook whose level silences `service` and then holds until `release` exists.
  static func runbook(alertmanager: String, service: String) -> String {
    """
    version: 1
    name: silence-demo
    environments: {local: {}}
    notify:
      alertmanager: {url: "\(alertmanager)"}
    levels:
      1:
        name: Quiet restart
        steps:
          - id: quiet
            silence: {matchers: ["service=\(service)"], for: 15m}
          - id: hold
            run: {shell: "touch held; while [ ! -e release ]; do sleep 0.1; done"}
    """
  }

  /// Alertmanager's answer about silence `id`.
  static func silence(_ id: String, at url: String) throws -> [String: Any] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-s", "--max-time", "5", "\(url)/api/v2/silence/\(id)"]
    let result = try CLI.capture(process, timeout: 10)
    return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
  }

  static func state(_ object: [String: Any]) -> String? {
    (object["status"] as? [String: Any])?["state"] as? String
  }

  /// The silence ids journalled as created, and the run id.
  static func journalled(_ directory: URL) throws -> (runID: String, silences: [String], text: String) {
    let runs = directory.appendingPathComponent(".rollback/runs")
    let name = try #require(
      try FileManager.default.contentsOfDirectory(atPath: runs.path).first { $0.hasSuffix(".jsonl") })
    let text = try String(contentsOfFile: runs.appendingPathComponent(name).path, encoding: .utf8)
    var ids: [String] = []
    for line in text.split(separator: "\n") {
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        object["event"] as? String == "integration", object["action"] as? String == "silence",
        let id = object["id"] as? String
      else { continue }
      ids.append(id)
    }
    return (String(name.dropLast(6)), ids, text)
  }

  /// Starts `rollback execute --level 1 --yes` and waits until the hold step runs.
  static func startHeld(in directory: URL) async throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CLI.binary)
    process.arguments = ["execute", "--level", "1", "--yes"]
    process.currentDirectoryURL = directory
    process.standardOutput =
      FileHandle(
        forWritingAtPath: directory.appendingPathComponent("out.txt").path) ?? FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let held = directory.appendingPathComponent("held").path
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline, !FileManager.default.fileExists(atPath: held) {
      try await Task.sleep(for: .milliseconds(50))
    }
    #expect(FileManager.default.fileExists(atPath: held), "the hold step never started")
    return process
  }

  static func setUp() throws -> (URL, String, String) {
    let url = try alertmanagerURL()
    let directory = try CLI.temporaryDirectory()
    FileManager.default.createFile(atPath: directory.appendingPathComponent("out.txt").path, contents: nil)
    let service = "checkout-\(UUID().uuidString.prefix(8).lowercased())"
    try runbook(alertmanager: url, service: service).write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    return (directory, url, service)
  }

  @Test("the silence is active while the run holds, names the run and user, and is expired when the run ends")
  func activeDuringExpiredAfter() async throws {
    let (directory, url, service) = try Self.setUp()
    defer { try? FileManager.default.removeItem(at: directory) }
    let started = Date()
    let process = try await Self.startHeld(in: directory)
    let (runID, ids, _) = try Self.journalled(directory)
    let id = try #require(ids.first)
    let during = try Self.silence(id, at: url)
    #expect(Self.state(during) == "active", "\(during)")
    let matchers = during["matchers"] as? [[String: Any]] ?? []
    #expect(matchers.first?["name"] as? String == "service")
    #expect(matchers.first?["value"] as? String == service)
    let user = ProcessInfo.processInfo.environment["USER"] ?? String(getuid())
    #expect(during["createdBy"] as? String == "rollback/\(user)")
    #expect((during["comment"] as? String)?.contains(runID) == true)
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let endsText = during["endsAt"] as? String ?? ""
    let ends = try #require(formatter.date(from: endsText) ?? ISO8601DateFormatter().date(from: endsText))
    #expect(abs(ends.timeIntervalSince(started) - 900) < 30, "endsAt \(endsText)")

    FileManager.default.createFile(atPath: directory.appendingPathComponent("release").path, contents: nil)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    #expect(Self.state(try Self.silence(id, at: url)) == "expired")
    let output = try String(contentsOf: directory.appendingPathComponent("out.txt"), encoding: .utf8)
    #expect(output.contains("silenced service=\(service) for 15m: silence \(id)"), "\(output)")
    #expect(output.contains("alertmanager: silence \(id) expired"))
    let report = try CLI.run(["report", runID], in: directory)
    #expect(report.stdout.contains("alertmanager silence \(id) (step quiet)"), "\(report.stdout)")
    #expect(report.stdout.contains("alertmanager expire \(id)"))
  }

  @Test(
    "Ctrl-C or SIGTERM while the run holds: the run ends interrupted and its silence is expired",
    arguments: [SIGINT, SIGTERM])
  func expiredAfterInterrupt(_ signal: Int32) async throws {
    let (directory, url, _) = try Self.setUp()
    defer { try? FileManager.default.removeItem(at: directory) }
    let process = try await Self.startHeld(in: directory)
    let id = try #require(try Self.journalled(directory).silences.first)
    #expect(Self.state(try Self.silence(id, at: url)) == "active")
    kill(process.processIdentifier, signal)
    process.waitUntilExit()
    #expect(process.terminationStatus == 130)
    #expect(Self.state(try Self.silence(id, at: url)) == "expired")
    let journal = try Self.journalled(directory).text
    #expect(journal.contains(#""service":"alertmanager","action":"expire","id":"\#(id)""#))
  }

  @Test("a run killed outright leaves its silence; resume expires it at its end")
  func resumeExpiresKilledRunsSilence() async throws {
    let (directory, url, _) = try Self.setUp()
    defer { try? FileManager.default.removeItem(at: directory) }
    let process = try await Self.startHeld(in: directory)
    let (runID, ids, _) = try Self.journalled(directory)
    let id = try #require(ids.first)
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(Self.state(try Self.silence(id, at: url)) == "active")
    FileManager.default.createFile(atPath: directory.appendingPathComponent("release").path, contents: nil)
    let resumed = try CLI.run(["resume", runID, "--yes"], in: directory)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(resumed.stdout.contains("alertmanager: silence \(id) expired"), "\(resumed.stdout)")
    #expect(Self.state(try Self.silence(id, at: url)) == "expired")
    // The silence step itself was done: the resume does not post another one.
    #expect(try Self.journalled(directory).silences == [id])
  }
}
