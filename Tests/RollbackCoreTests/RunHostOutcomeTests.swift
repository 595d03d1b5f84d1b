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

  @Test(
    "without run-finished, per-host events decide: a failure wins, a start without a finish is incomplete"
  )
  func fromHostEvents() {
    let lines = [
      #"{"event":"step-started","step":"roll","kind":"rolling","at":"t"}"#,
      #"{"event":"step-started","step":"roll","kind":"rolling","at":"t","host":"web-1"}"#,
      #"{"event":"step-finished","id":"roll.flag-1","status":"succeeded","host":"web-1"}"#,
      #"{"event":"step-finished","id":"roll","status":"succeeded","host":"web-1"}"#,
      #"{"event":"step-started","step":"roll","kind":"rolling","at":"t","host":"web-2"}"#,
      #"{"event":"step-finished","id":"roll.flag-1","status":"succeeded","host":"web-2"}"#,
      #"{"event":"step-finished","id":"roll","status":"failed","detail":"unreachable","host":"web-3"}"#,
      #"{"event":"step-started","step":"roll","kind":"rolling","at":"t","host":"web-4"}"#,
      #"{"event":"step-finished","id":"roll.flag-1","status":"failed","error":"refused","host":"web-4"}"#,
    ]
    let events = lines.compactMap { JournalEvent.decode(line: Data($0.utf8)) }
    #expect(events.count == lines.count)
    let outcomes = RunHostOutcome.of(hostEvents: events)
    #expect(
      outcomes == [
        RunHostOutcome(name: "web-1", status: "succeeded"),
        RunHostOutcome(name: "web-2", status: "incomplete"),
        RunHostOutcome(name: "web-3", status: "unreachable"), RunHostOutcome(name: "web-4", status: "failed"),
      ])
    #expect(
      RunHostOutcome.text(outcomes)
        == "touched: web-1 web-2 web-4; failed: web-3 web-4; incomplete: web-2")
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
