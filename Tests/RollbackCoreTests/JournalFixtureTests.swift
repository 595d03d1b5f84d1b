import Foundation
import RollbackCore
import Testing

/// Journals written by the version before the typed schema (`Fixtures/journal-v1`: a run that
/// failed, was resumed to success and had its flag file restored; a run interrupted by SIGINT;
/// a run refused by preflight), with the `report` and `history --json` that version printed.
@Suite("journals written before the typed schema read as they did")
struct JournalFixtureTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/journal-v1")
  static let runIDs = ["20261201T215638Z-241d", "20261201T215638Z-a434", "20261201T215652Z-07e1"]

  static func bytes(_ path: String) throws -> [UInt8] {
    Array(try #require(FileManager.default.contents(atPath: fixtures.appendingPathComponent(path).path)))
  }

  static func text(_ path: String) throws -> String { String(decoding: try bytes(path), as: UTF8.self) }

  static func events(_ runID: String) throws -> [JournalEvent] {
    JournalEvent.events(jsonl: try bytes("runs/\(runID).jsonl"))
  }

  static func assessment() throws -> SavedAssessment {
    try #require(SavedAssessment.decode(Data(try bytes("assessments/20261201T215637.003Z.json"))))
  }

  @Test("every line decodes to a typed event and renders back to the same bytes", arguments: runIDs)
  func roundTrip(runID: String) throws {
    let lines = try Self.bytes("runs/\(runID).jsonl").split(separator: 0x0A)
    let events = try Self.events(runID)
    #expect(events.count == lines.count)
    for (line, event) in zip(lines, events) {
      if case .other = event { Issue.record("untyped event: \(String(decoding: line, as: UTF8.self))") }
      #expect(event.json.rendered() == String(decoding: line, as: UTF8.self))
    }
  }

  @Test("report renders the same Markdown and JSON as the version that wrote the journals", arguments: runIDs)
  func sameReport(runID: String) throws {
    let report = try #require(RunReport.parse(try Self.events(runID)))
    let assessment = try Self.assessment()
    #expect(
      ReportRendering.markdown(report, assessment: assessment)
        == (try Self.text("expected/report-\(runID).md")))
    #expect(
      ReportRendering.json(report, assessment: assessment).pretty() + "\n"
        == (try Self.text("expected/report-\(runID).json")))
  }

  @Test("history lists the same rows as the version that wrote the journals")
  func sameHistory() throws {
    let summaries = try Self.runIDs.map { try #require(RunSummary.parse(try Self.events($0))) }
      .sorted { ($0.startedAt, $0.runID) > ($1.startedAt, $1.runID) }
    #expect(
      JSONValue.array(summaries.map(HistoryRendering.json)).pretty() + "\n"
        == (try Self.text("expected/history.json")))
    #expect(summaries.map(\.status) == ["aborted", "interrupted", "succeeded"])
    #expect(summaries.map(\.resumes) == [0, 0, 1])
  }

  @Test("resume reads where each run stands")
  func progress() throws {
    let resumed = try #require(JournalProgress(try Self.events("20261201T215638Z-a434")))
    // Its last event is `restored`, not `run-finished`: as before, only a journal ending in a
    // run-finished event counts as finished for resume.
    #expect(resumed.finalStatus == nil)
    let beforeRestore = try Self.events("20261201T215638Z-a434").dropLast()
    #expect(JournalProgress(Array(beforeRestore))?.finalStatus == .succeeded)
    #expect(resumed.finished == ["prepare", "flag-off", "complaints", "needs-marker", "after"])
    #expect(resumed.unfinished.isEmpty)
    #expect(resumed.start.vars.map(\.name) == ["greeting"])
    #expect(resumed.start.vars.map(\.value) == ["hello"])
    #expect(resumed.start.level == 1)
    #expect(resumed.start.runbookHash != nil)
    #expect(resumed.start.schema == nil)

    let interrupted = try #require(JournalProgress(try Self.events("20261201T215638Z-241d")))
    #expect(interrupted.finalStatus == .interrupted)
    #expect(interrupted.finished == ["quick"])
    #expect(interrupted.unfinished.isEmpty)
    #expect(interrupted.start.steps.map(\.id) == ["quick", "slow"])
  }

  @Test("a step the journal saw start and never finish is unfinished; `id` and `step` both name it")
  func unfinishedStep() throws {
    // The interrupted run's journal cut after the slow step started (a run killed with SIGKILL).
    let lines = try Self.bytes("runs/20261201T215638Z-241d.jsonl").split(separator: 0x0A)
    var cut = Array(lines.prefix(4).joined(separator: [0x0A]))
    cut += Array(
      "\n{\"event\":\"step-finished\",\"step\":\"other\",\"status\":\"succeeded\"}\n{\"event\":\"step-fin"
        .utf8)
    let progress = try #require(JournalProgress(JournalEvent.events(jsonl: cut)))
    #expect(progress.finalStatus == nil)
    #expect(progress.unfinished == ["slow"])
    #expect(progress.finished == ["quick", "other"])
  }

  @Test("the saved assessment reads with its severity, rules and signals")
  func savedAssessment() throws {
    let assessment = try Self.assessment()
    #expect(assessment.severity == "high")
    #expect(assessment.assessedAt == "2026-12-01T21:56:37.003Z")
    #expect(assessment.signals.map(\.name) == ["complaints_per_hour"])
    #expect(assessment.signals.map(\.value) == [7])
    #expect(SavedAssessment.decode(Data("[1]".utf8)) == nil)
    let odd = SavedAssessment.decode(Data(#"{"severity":3,"signals":[{"name":"x","value":"7"}]}"#.utf8))
    #expect(odd?.severity == nil)
    #expect(odd?.signals.first?.value == nil)
  }

  @Test("a new run-started event records the schema version; the rest of its line is as before")
  func schemaVersion() throws {
    guard case .runStarted(var start) = try Self.events("20261201T215652Z-07e1").first else {
      Issue.record("no run-started event")
      return
    }
    let old = JournalEvent.runStarted(start).json.rendered()
    start.schema = JournalEvent.schemaVersion
    let new = JournalEvent.runStarted(start).json.rendered()
    #expect(
      new
        == old.replacingOccurrences(
          of: #"{"event":"run-started","#, with: #"{"event":"run-started","schema":1,"#))
    guard case .runStarted(let decoded) = JournalEvent.decode(line: Data(new.utf8)) else {
      Issue.record("the new line does not decode")
      return
    }
    #expect(decoded == start)
  }

  @Test("statuses read as their enums; one this version does not know still shows, and is never success")
  func statuses() throws {
    let journal = """
      {"event":"run-started","run_id":"r","level":1,"steps":[{"id":"a","kind":"run","mutates":true}]}
      {"event":"step-finished","id":"a","kind":"run","status":"exploded","mutates":true,"duration_s":1}
      {"event":"run-finished","run_id":"r","status":"melted","duration_s":2,"within_target":true}
      """
    let events = JournalEvent.events(jsonl: Array(journal.utf8))
    guard case .stepFinished(let step) = events[1], case .runFinished(let finish) = events[2] else {
      Issue.record("untyped events: \(events)")
      return
    }
    #expect(step.status == nil)
    #expect(finish.status == nil)
    let report = try #require(RunReport.parse(events))
    #expect(report.steps.map(\.status) == ["exploded"])
    #expect(report.status == "melted")
    #expect(report.withinTarget == nil)
    #expect(JournalProgress(events)?.finished.isEmpty == true)
    #expect(step.json.rendered().contains(#""status":"exploded""#))
    let known = JournalEvent.events(jsonl: Array(try Self.bytes("runs/20261201T215638Z-241d.jsonl")))
    guard case .runFinished(let interrupted) = known.last else {
      Issue.record("no run-finished event")
      return
    }
    #expect(interrupted.status == .interrupted)
    #expect(interrupted.unknownStatus == nil)
  }
}
