import Foundation
import RollbackCore
import RollbackSystem
import Testing

@Suite("Reading journals back: every event, or only what history lists")
struct JournalReaderTests {
  static let stepPlan =
    #""steps":[{"id":"check","kind":"check","mutates":false},{"id":"flag","kind":"flag","mutates":true}]"#

  static func started(_ id: String, dryRun: Bool = false, level: String = "3") -> String {
    #"{"event":"run-started","run_id":"\#(id)","command":"execute","runbook":"atom","environment":"prod","#
      + #""level":\#(level),"scenario":null,"title":"Full rollback","dry_run":\#(dryRun),"target_s":300,"#
      + #""started_at":"2026-02-02T10:15:00.123Z","pid":42,"vars":{"a":"b"},\#(stepPlan)}"#
  }

  static func step(_ id: String, status: String = "succeeded", detail: String = "done") -> String {
    #"{"event":"step-finished","id":"\#(id)","kind":"flag","name":null,"status":"\#(status)","mutates":true,"#
      + #""started_at":"2026-02-02T10:15:01.000Z","duration_s":0.25,"detail":"\#(detail)","error":null,"#
      + #""signals":[{"name":"error_rate","value":0.01,"unit":"ratio"}]}"#
  }

  static func finished(
    _ id: String, status: String = "succeeded", duration: String = "72.4", within: String = "true"
  ) -> String {
    #"{"event":"run-finished","run_id":"\#(id)","status":"\#(status)","finished_at":"2026-02-02T10:16:12.523Z","#
      + #""duration_s":\#(duration),"rollback_duration_s":null,"target_s":300,"within_target":\#(within),"#
      + #""exit_code":0,"advice":null}"#
  }

  static func resumed(_ id: String) -> String {
    #"{"event":"run-resumed","run_id":"\#(id)","at":"2026-02-02T10:16:00.000Z"}"#
  }

  /// Journals that end in every way history shows, and lines that could fool a quick look.
  static let journals: [String: String] = [
    "succeeded": [started("a"), step("check"), step("flag"), finished("a")].joined(separator: "\n") + "\n",
    "dry-run": [
      started("b", dryRun: true), step("flag", status: "would-run"), finished("b", status: "dry-run"),
    ]
    .joined(separator: "\n") + "\n",
    "failed": [started("c"), step("flag", status: "failed"), finished("c", status: "failed", within: "null")]
      .joined(separator: "\n") + "\n",
    // Killed: no run-finished, and a torn last line.
    "killed": [started("d"), step("check"), #"{"event":"step-finished","id":"fl"#].joined(separator: "\n"),
    "resumed then finished": [
      started("e"), step("check"), resumed("e"), step("flag"), finished("e", duration: "300.5"),
    ]
    .joined(separator: "\n") + "\n",
    // Resumed after finishing: in progress again, the earlier duration kept.
    "finished then resumed": [started("f"), finished("f", duration: "12"), resumed("f"), resumed("f")]
      .joined(separator: "\n") + "\n",
    // A step whose text names run events: parsed, and set aside.
    "run-finished in a detail": [
      started("g"), step("flag", detail: #"saw \"run-finished\" and \"run-resumed\" in the log"#),
      step("check", detail: "\"run-resumed\""),
    ].joined(separator: "\n"),
    // The event's kind escaped: the quick check must still let the line through.
    "escaped kind": [
      started("h").replacingOccurrences(of: "run-started", with: #"run\u002dstarted"#),
      finished("h").replacingOccurrences(of: "run-finished", with: #"run\u002Dfinished"#),
    ].joined(separator: "\n"),
    // Keys in another order, blank lines, CRLF line ends, a line that is not an object.
    "shuffled": "\n\n"
      + #"{"run_id":"i","event":"run-started","level":2,"environment":"stage","target_s":60.5}"#
      + "\r\n[1,2]\r\n\r\n"
      + #"{"status":"aborted","duration_s":61,"event":"run-finished","within_target":false}"#
      + "\r\n",
    // Finished before it started (history still reads the whole file), then two starts: the first counts.
    "out of order": [finished("j", status: "failed"), started("j"), started("j2", level: "1")]
      .joined(separator: "\n"),
    "no run-started": [step("check"), finished("k")].joined(separator: "\n"),
    "empty": "",
    "not JSON": "garbage\n{\"event\":\"run-started\"\n",
  ]

  /// What history read before: the whole file split with `Data.split`, every line parsed.
  static func referenceSummary(_ path: String) throws -> RunSummary? {
    let data = try #require(FileManager.default.contents(atPath: path))
    let events = data.split(separator: UInt8(ascii: "\n")).compactMap { JournalEvent.decode(line: Data($0)) }
    return RunReport.parse(events)?.summary
  }

  func write(_ journals: [String: String]) throws -> (URL, [String: String]) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "rollback-journal-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var paths: [String: String] = [:]
    for (index, (name, text)) in journals.sorted(by: { $0.key < $1.key }).enumerated() {
      let path = directory.appendingPathComponent("run-\(index).jsonl").path
      try Data(text.utf8).write(to: URL(fileURLWithPath: path))
      paths[name] = path
    }
    return (directory, paths)
  }

  @Test("the summary path reads the same history rows as the full parser and the old reader")
  func summaryMatchesFullParse() throws {
    let (directory, paths) = try write(Self.journals)
    defer { try? FileManager.default.removeItem(at: directory) }
    for (name, path) in paths.sorted(by: { $0.key < $1.key }) {
      let quick = try JournalReader.summary(at: path)
      let full = RunReport.parse(try JournalReader.events(at: path))?.summary
      let reference = try Self.referenceSummary(path)
      #expect(quick == full, "\(name)")
      #expect(quick == reference, "\(name)")
      #expect(quick.map(HistoryRendering.cells) == reference.map(HistoryRendering.cells), "\(name)")
      #expect(quick.map(HistoryRendering.json) == reference.map(HistoryRendering.json), "\(name)")
    }
    func summary(_ name: String) throws -> RunSummary? {
      try JournalReader.summary(at: try #require(paths[name]))
    }
    #expect(try summary("succeeded")?.status == "succeeded")
    #expect(try summary("succeeded")?.duration == 72.4)
    #expect(try summary("dry-run").map(HistoryRendering.cells)?[3] == "dry-run")
    #expect(try summary("failed")?.withinTarget == nil)
    #expect(try summary("killed")?.status == "in progress")
    #expect(try summary("killed")?.duration == nil)
    #expect(try summary("resumed then finished")?.resumes == 1)
    #expect(try summary("resumed then finished")?.status == "succeeded")
    #expect(try summary("finished then resumed")?.status == "in progress")
    #expect(try summary("finished then resumed")?.duration == 12)
    #expect(try summary("finished then resumed")?.resumes == 2)
    #expect(try summary("escaped kind")?.status == "succeeded")
    #expect(try summary("shuffled")?.target == .level(2))
    #expect(try summary("shuffled")?.status == "aborted")
    #expect(try summary("out of order")?.runID == "j")
    #expect(try summary("out of order")?.status == "failed")
    #expect(try summary("no run-started") == nil)
    #expect(try summary("empty") == nil)
    #expect(try summary("not JSON") == nil)
    #expect(throws: JournalError.self) {
      try JournalReader.summary(at: directory.appendingPathComponent("none").path)
    }
  }

  @Test("every event is read as the old Data.split reader read it; kinds filter them")
  func eventsMatchOldReader() throws {
    let (directory, paths) = try write(Self.journals)
    defer { try? FileManager.default.removeItem(at: directory) }
    for (name, path) in paths {
      let data = try #require(FileManager.default.contents(atPath: path))
      let old = data.split(separator: UInt8(ascii: "\n")).compactMap { line in
        (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
      }
      let new = try JournalReader.events(at: path)
      #expect(new.count == old.count, "\(name)")
      #expect(new.map(\.kind) == old.map { $0["event"] as? String }, "\(name)")
      let kinds: Set<String> = ["step-finished", "run-resumed"]
      let filtered = try JournalReader.events(at: path, kinds: kinds)
      #expect(
        filtered.map(\.kind) == old.compactMap { $0["event"] as? String }.filter(kinds.contains), "\(name)")
    }
    // A kind JSON writes only escaped turns the quick check off rather than missing lines.
    let odd = directory.appendingPathComponent("odd.jsonl")
    try Data(#"{"event":"a/b"}"#.utf8 + [0x0A] + #"{"event":"a\/b"}"#.utf8).write(to: odd)
    #expect(try JournalReader.events(at: odd.path, kinds: ["a/b"]).count == 2)
  }

  @Test("a journal larger than a read, without a final newline, is read whole")
  func largeJournal() throws {
    let (directory, _) = try write([:])
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("big.jsonl").path
    let steps = (0..<500).map { Self.step("s\($0)", detail: String(repeating: "x", count: 200)) }
    try Data(
      ([Self.started("big")] + steps + [Self.finished("big", status: "aborted")]).joined(separator: "\n").utf8
    )
    .write(to: URL(fileURLWithPath: path))
    #expect(try JournalReader.events(at: path).count == 502)
    #expect(try JournalReader.summary(at: path)?.status == "aborted")
    #expect(try JournalReader.summary(at: path) == (try Self.referenceSummary(path)))
  }
}
