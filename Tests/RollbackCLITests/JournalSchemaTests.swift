import Foundation
import RollbackCore
import Testing

/// The journals `rollback` writes follow the typed schema: every line is a known event, renders
/// back to its own bytes, and `report` and `history` show what the typed reader reads.
@Suite("journals as written: the typed schema")
struct JournalSchemaTests {
  static func runbook(in directory: URL) throws -> URL {
    let folder = directory.appendingPathComponent("runbooks")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try "A=1\nFLAG=true\n".write(
      to: directory.appendingPathComponent("app.env"), atomically: true, encoding: .utf8)
    let text = """
      version: 1
      name: schema
      environments:
        staging: {vars: {app_dir: "\(directory.path)"}}
      flags:
        f: {key: FLAG, files: ["${app_dir}/app.env"], enabled: "true", disabled: "false"}
      signals:
        complaints: {manual: true, unit: count}
      levels:
        1:
          target: 5m
          steps:
            - id: flag-off
              flag: {name: f, set: disabled}
            - id: complaints
              check: [complaints]
            - id: needs-marker
              run: {shell: "test -f '\(directory.appendingPathComponent("marker").path)'"}
        2:
          steps:
            - id: ask
              confirm: "Really?"
      """
    let file = folder.appendingPathComponent("schema.yaml")
    try text.write(to: file, atomically: true, encoding: .utf8)
    return file
  }

  @Test("execute, resume, restore and a refused run write typed events that report and history read")
  func writtenJournals() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let runbook = try Self.runbook(in: directory).path
    let state = directory.appendingPathComponent("state").path
    let common = ["--runbook", runbook, "--state-dir", state]
    let failed = try CLI.run(
      ["execute", "--env", "staging", "--level", "1", "--yes", "--signal", "complaints=7"] + common)
    #expect(failed.status == 1, "\(failed.stderr)")
    FileManager.default.createFile(atPath: directory.appendingPathComponent("marker").path, contents: Data())
    let resumed = try CLI.run(["resume", "--yes"] + common)
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let runs = try FileManager.default.contentsOfDirectory(atPath: state + "/runs").sorted()
    let first = String(try #require(runs.first).dropLast(6))
    let restored = try CLI.run(["restore", first] + common)
    #expect(restored.status == 0, "\(restored.stderr)")
    let refused = try CLI.run(["execute", "--env", "staging", "--level", "2"] + common)
    #expect(refused.status == 5, "\(refused.stderr)")

    var kinds: [String] = []
    var summaries: [RunSummary] = []
    for name in try FileManager.default.contentsOfDirectory(atPath: state + "/runs").sorted() {
      let bytes = Array(try #require(FileManager.default.contents(atPath: state + "/runs/" + name)))
      let lines = bytes.split(separator: 0x0A)
      let events = JournalEvent.events(jsonl: bytes)
      #expect(events.count == lines.count, "\(name)")
      for (line, event) in zip(lines, events) {
        if case .other = event {
          Issue.record("\(name): untyped line \(String(decoding: line, as: UTF8.self))")
        }
        #expect(event.json.rendered() == String(decoding: line, as: UTF8.self), "\(name)")
        if case .runStarted(let start) = event { #expect(start.schema == JournalEvent.schemaVersion) }
        if case .runResumed(let start) = event { #expect(start.schema == JournalEvent.schemaVersion) }
        kinds.append(event.kind ?? "")
      }
      let runID = String(name.dropLast(6))
      let report = try #require(RunReport.parse(events))
      let printed = try CLI.run(["report", runID, "--format", "json"] + common)
      #expect(printed.status == 0, "\(printed.stderr)")
      #expect(printed.stdout == ReportRendering.json(report, assessment: nil).pretty() + "\n", "\(name)")
      summaries.append(try #require(RunSummary.parse(events)))
    }
    #expect(
      Set(kinds) == [
        "run-started", "step-started", "step-finished", "run-finished", "run-resumed", "restored",
        "preflight-failed",
      ])
    let history = try CLI.run(["history", "--json"] + common)
    #expect(history.status == 0, "\(history.stderr)")
    let newest = summaries.sorted { ($0.startedAt, $0.runID) > ($1.startedAt, $1.runID) }
    #expect(history.stdout == JSONValue.array(newest.map(HistoryRendering.json)).pretty() + "\n")
    #expect(newest.map(\.status) == ["aborted", "succeeded"])
    #expect(newest.map(\.resumes) == [0, 1])
  }
}
