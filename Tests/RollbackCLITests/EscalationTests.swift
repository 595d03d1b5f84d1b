import Foundation
import Testing

@Suite("escalate: a level that runs past `after` is abandoned for a stronger one")
struct EscalationTests {
  static let runbook = """
    version: 1
    name: esc
    environments: {local: {}}
    levels:
      2:
        name: Partial
        target: 1m
        escalate: {after: 1s, to: 3}
        steps:
          - {id: slow, run: [sleep, "2"]}
          - {id: partial-rest, run: [echo, partial]}
      3:
        name: Full
        target: 1m
        steps:
          - {id: full, run: [echo, full-rollback]}
    """

  func execute(_ extra: [String]) throws -> (CLIResult, [[String: Any]], URL) {
    let directory = try CLI.temporaryDirectory()
    try Self.runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let state = directory.appendingPathComponent("state")
    let result = try CLI.run(
      ["execute", "--level", "2", "--json", "--state-dir", state.path] + extra, in: directory)
    let events = try journals(in: state).first.map(journalEvents) ?? []
    return (result, events, directory)
  }

  @Test("with --yes: the slow level is abandoned after its step, level 3 runs; journalled and in the report")
  func escalatesWithYes() throws {
    let (result, events, directory) = try execute(["--yes"])
    defer { try? FileManager.default.removeItem(at: directory) }
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(result.stderr.contains("⇪ escalating (--yes): level 2 has run "), "\(result.stderr)")
    #expect(result.stderr.contains("abandoning it for level 3"))
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    #expect(json["level"] as? Int == 3)
    let steps = (json["steps"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    #expect(steps == ["slow", "full"], "\(steps)")
    let escalated = try #require(events.first { $0["event"] as? String == "escalated" })
    #expect(escalated["from"] as? Int == 2)
    #expect(escalated["to"] as? Int == 3)
    #expect(escalated["accepted"] as? Bool == true)
    #expect(escalated["answer"] as? String == "--yes")
    let runID = try #require(json["run_id"] as? String)
    let report = try CLI.run(
      ["report", runID, "--state-dir", directory.appendingPathComponent("state").path], in: directory)
    #expect(report.status == 0, "\(report.stderr)")
    #expect(
      report.stdout.contains("| Escalation | level 2 abandoned for level 3 after 1s (--yes, at "),
      "\(report.stdout)")
  }

  @Test("nobody to ask and no --yes: the level goes on, the declined offer journalled")
  func declinedWithoutTerminal() throws {
    let (result, events, directory) = try execute([])
    defer { try? FileManager.default.removeItem(at: directory) }
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(result.stderr.contains("escalation to level 3 declined (no terminal); level 2 goes on"))
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    #expect(json["level"] as? Int == 2)
    let steps = (json["steps"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    #expect(steps == ["slow", "partial-rest"])
    let escalated = try #require(events.first { $0["event"] as? String == "escalated" })
    #expect(escalated["accepted"] as? Bool == false)
  }

  @Test(
    "a stronger level that cannot run here (a missing program) is refused before any of its steps: exit 1")
  func escalationRefusedByLocalPreflight() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let runbook = Self.runbook.replacingOccurrences(
      of: "- {id: full, run: [echo, full-rollback]}",
      with: "- {id: full, run: [echo, full-rollback]}\n      - {id: tool, run: [rollback-missing-tool, go]}")
    try runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let state = directory.appendingPathComponent("state")
    let result = try CLI.run(
      ["execute", "--level", "2", "--yes", "--state-dir", state.path], in: directory)
    #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
    let output = result.stdout + result.stderr
    #expect(output.contains("preflight of level 3 failed; none of its steps was run"), "\(output)")
    #expect(output.contains("✗ tool: command 'rollback-missing-tool' not found in PATH"), "\(output)")
    let events = try journals(in: state).first.map(journalEvents) ?? []
    #expect(events.contains { $0["event"] as? String == "preflight-failed" })
    #expect(!events.contains { $0["event"] as? String == "step-started" && $0["step"] as? String == "full" })
    #expect(events.contains { $0["event"] as? String == "escalated" && $0["accepted"] as? Bool == true })
  }

  @Test("validate: `to` must be an existing, stronger level")
  func validation() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let path = directory.appendingPathComponent("rollback.yaml")
    for (to, message) in [
      ("2", "escalate of level 2 must name a stronger (higher) level, found 2"),
      ("9", "escalate of level 2 names level 9, which does not exist (levels: 2, 3)"),
    ] {
      try Self.runbook.replacingOccurrences(of: "to: 3}", with: "to: \(to)}").write(
        to: path, atomically: true, encoding: .utf8)
      let result = try CLI.run(["validate", "--runbook", path.path])
      #expect(result.status != 0)
      #expect((result.stdout + result.stderr).contains(message), "\(result.stdout)\(result.stderr)")
    }
    try Self.runbook.replacingOccurrences(of: "after: 1s", with: "after: soon").write(
      to: path, atomically: true, encoding: .utf8)
    let bad = try CLI.run(["validate", "--runbook", path.path])
    #expect(bad.status != 0)
    #expect((bad.stdout + bad.stderr).contains("after of escalate of level 2"), "\(bad.stdout)\(bad.stderr)")
  }
}
