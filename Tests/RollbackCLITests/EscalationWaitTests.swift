import Foundation
import Testing

/// `escalate.after` passing while a wait step polls: the wait (which changes nothing) is cut
/// short and the stronger level runs then, not after the wait's `within`.
@Suite("escalate during a long wait step")
struct EscalationWaitTests {
  static let runbook = """
    version: 1
    name: esc-wait
    environments: {local: {}}
    signals:
      recovered: {manual: true, default: 0}
    levels:
      2:
        name: Partial
        target: 1m
        escalate: {after: 1s, to: 3}
        steps:
          - {id: hold, wait: "recovered >= 1", within: 20s, interval: 500ms}
          - {id: partial-rest, run: [echo, partial]}
      3:
        name: Full
        target: 1m
        steps:
          - {id: full, run: [echo, full-rollback]}
    """

  func execute(_ extra: [String]) throws -> (CLIResult, [[String: Any]], Double) {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try Self.runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let state = directory.appendingPathComponent("state")
    let start = Date()
    let result = try CLI.run(
      ["execute", "--level", "2", "--json", "--state-dir", state.path] + extra, in: directory)
    let seconds = Date().timeIntervalSince(start)
    let events = try journals(in: state).first.map(journalEvents) ?? []
    return (result, events, seconds)
  }

  @Test("with --yes: the 20 s wait is cut at about 1 s, level 3 runs; the wait is journalled as cut short")
  func waitCutByEscalation() throws {
    let (result, events, seconds) = try execute(["--yes"])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(seconds < 19, "took \(seconds) s: the wait ran on")
    #expect(result.stderr.contains("⇪ escalating (--yes): level 2 has run "), "\(result.stderr)")
    #expect(result.stderr.contains("hold: cut short: the run escalates to level 3"), "\(result.stderr)")
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    #expect(json["level"] as? Int == 3)
    let steps = json["steps"] as? [[String: Any]] ?? []
    #expect(steps.compactMap { $0["id"] as? String } == ["hold", "full"], "\(steps)")
    let hold = try #require(
      events.first { $0["event"] as? String == "step-finished" && $0["id"] as? String == "hold" })
    #expect(hold["status"] as? String == "skipped")
    // Cut about when `after` passed (1 s after the start), far from its 20 s `within`.
    let held = try #require((hold["duration_s"] as? NSNumber)?.doubleValue)
    #expect(held < 10, "the wait held \(held) s")
    #expect(
      (hold["detail"] as? String)?.hasPrefix("wait cut short by the escalation to level 3") == true, "\(hold)"
    )
    #expect(events.contains { $0["event"] as? String == "escalated" && $0["accepted"] as? Bool == true })
  }

  @Test("declined (no terminal, no --yes): the wait goes on to its end; the level is not abandoned")
  func declinedWaitGoesOn() throws {
    let (result, events, seconds) = try execute([])
    // The wait never holds: the level fails at its within, as without escalate.
    #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
    #expect(seconds >= 19, "took \(seconds) s")
    #expect(result.stderr.contains("escalation to level 3 declined (no terminal); level 2 goes on"))
    let escalated = events.filter { $0["event"] as? String == "escalated" }
    #expect(escalated.count == 1)
    #expect(escalated.first?["accepted"] as? Bool == false)
  }
}
