import Foundation
import RollbackCore
import Testing

@Suite("A run's hosts, over its host-scoped steps")
struct RunHostOutcomeTests {
  func host(_ name: String, _ status: String) -> JournalHostResult {
    JournalHostResult(name: name, status: status, steps: [])
  }

  @Test("a failure on any step wins; untouched stays untouched; not re-run counts as succeeded")
  func merges() {
    let outcomes = RunHostOutcome.of([
      [host("web-1", "succeeded"), host("web-2", "succeeded"), host("web-3", "untouched")],
      [host("web-1", "failed"), host("web-2", "not re-run"), host("web-4", "unreachable")],
    ])
    #expect(
      outcomes == [
        RunHostOutcome(name: "web-1", status: "failed"), RunHostOutcome(name: "web-2", status: "succeeded"),
        RunHostOutcome(name: "web-3", status: "untouched"),
        RunHostOutcome(name: "web-4", status: "unreachable"),
      ])
    #expect(
      RunHostOutcome.text(outcomes) == "touched: web-1 web-2; failed: web-1 web-4; untouched: web-3")
    #expect(RunHostOutcome.text([]) == "")
  }

  @Test("run-finished carries the hosts through the journal and back; without hosts it has no key")
  func journalRoundTrip() throws {
    var finished = RunFinishedEvent(
      runID: "r", status: .failed, finishedAt: nil, durationSeconds: 1, rollbackDurationSeconds: nil,
      targetSeconds: nil, withinTarget: nil, exitCode: 1, advice: nil, nextCommand: nil)
    let bare = try JSONEncoder().encode(JournalEvent.runFinished(finished))
    #expect(!String(decoding: bare, as: UTF8.self).contains("\"hosts\""))
    finished.hosts = [RunHostOutcome(name: "web-1", status: "succeeded")]
    let line = try JSONEncoder().encode(JournalEvent.runFinished(finished))
    guard case .runFinished(let back) = JournalEvent.decode(line: line) else {
      Issue.record("not a run-finished event: \(String(decoding: line, as: UTF8.self))")
      return
    }
    #expect(back.hosts == finished.hosts)
  }
}
