import Foundation
import RollbackCore
import Testing

@Suite("rollback history's table and JSON rows")
struct HistoryRenderingTests {
  /// The table as history printed it before: cells padded, joined, each line trimmed by Foundation.
  static func reference(_ rows: [[String]]) -> [String] {
    var widths = HistoryRendering.header.map(\.count)
    for row in rows {
      for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    func line(_ cells: [String]) -> String {
      cells.enumerated().map { item in
        item.element.count >= widths[item.offset]
          ? item.element
          : item.element + String(repeating: " ", count: widths[item.offset] - item.element.count)
      }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    return [line(HistoryRendering.header)] + rows.map(line)
  }

  static func run(_ id: String, status: String, duration: Double?, within: Bool?) -> RunSummary {
    RunSummary(
      runID: id, command: "execute", runbook: "atom", environment: "prod", level: 3, scenario: nil,
      title: nil, dryRun: status == "dry-run", status: status, startedAt: "2026-02-02T10:15:00.123Z",
      finishedAt: nil, duration: duration, rollbackDuration: nil, targetSeconds: 300, withinTarget: within,
      advice: nil,
      resumes: 0)
  }

  @Test("the table is the one Foundation's trimming made, odd cells included")
  func tableMatchesReference() {
    let runs = [
      Self.run("20260202T101500Z-3f2a", status: "succeeded", duration: 72.4, within: true),
      Self.run("20260202T091500Z-0001", status: "in progress", duration: nil, within: nil),
      Self.run("20260202T081500Z-0002", status: "dry-run", duration: 8.2, within: true),
      Self.run("20260202T071500Z-0003", status: "failed", duration: 3725, within: false),
    ]
    #expect(
      HistoryRendering.table(runs.map(HistoryRendering.cells))
        == Self.reference(runs.map(HistoryRendering.cells)))
    let odd: [[String]] = [
      [" leading", "level 1", "env\t", "ok", "1.0 s", "5m"],
      ["\u{00A0}nbsp", "scenario é", "", "", "", ""],
      ["", "", "", "", "", "\u{3000}"],
      ["x", "y", "z", "w", "v", "u\u{2003}"],
      ["🚨", "e\u{301}", "中文", "✓", "—", "5m ✗"],
      ["", "", "", "", "", ""],
    ]
    #expect(HistoryRendering.table(odd) == Self.reference(odd))
    #expect(HistoryRendering.table([]) == Self.reference([]))
  }

  @Test("cells and JSON rows of a run")
  func cells() {
    let run = Self.run("r", status: "succeeded", duration: 72.4, within: true)
    #expect(HistoryRendering.cells(run) == ["r", "level 3", "prod", "succeeded", "1m12s", "5m ✓"])
    let killed = Self.run("k", status: "in progress", duration: nil, within: nil)
    #expect(HistoryRendering.cells(killed) == ["k", "level 3", "prod", "in progress", "—", "5m"])
    #expect(
      HistoryRendering.json(run).rendered()
        == #"{"run_id":"r","command":"execute","runbook":"atom","environment":"prod","level":3,"scenario":null,"#
        + #""dry_run":false,"status":"succeeded","started_at":"2026-02-02T10:15:00.123Z","duration_s":72.4,"#
        + #""target_s":300,"within_target":true}"#)
  }
}

extension HistoryRenderingTests {
  @Test("the JSON document written in pieces is JSONValue's pretty array, for 0, 1 and many runs")
  func jsonInPieces() {
    let odd = RunSummary(
      runID: "q\"uote\\d\nline\ttab", command: "drill", runbook: "é✓🚨", environment: "", level: nil,
      scenario: "backend-down", title: nil, dryRun: true, status: "dry-run", startedAt: "", finishedAt: nil,
      duration: 0.1 + 0.2, rollbackDuration: nil, targetSeconds: nil, withinTarget: nil, advice: nil,
      resumes: 3)
    let many = (0..<300).map {
      Self.run("run-\($0)", status: "succeeded", duration: Double($0) / 7, within: true)
    }
    for runs in [[], [odd], many + [odd]] {
      for chunk in [1, 100, 65_536] {
        var bytes: [UInt8] = []
        HistoryRendering.json(runs, chunk: chunk) { bytes += $0 }
        #expect(
          String(decoding: bytes, as: UTF8.self) == JSONValue.array(runs.map(HistoryRendering.json)).pretty())
      }
    }
  }
}
