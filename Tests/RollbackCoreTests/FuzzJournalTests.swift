import Foundation
import RollbackCore

#if !ROLLBACK_FUZZ_STANDALONE
  import Testing
#endif

/// Journals with mutated numbers and bytes through everything that reads them (`history`'s
/// summary and row, `report` in markdown, JSON and as a message). A trap ends the process,
/// which the test run or the reliability suite reports; a time outside 0 to ten years, or a
/// non-finite number, that comes out as known is a problem.
enum JournalFuzzer {
  static let seedJournal = """
    {"event":"run-started","run_id":"20260202T101500Z-3f2a","command":"execute","runbook":"atom","runbook_path":"r.yaml","environment":"prod","level":3,"scenario":null,"title":"Full","dry_run":false,"target_s":300,"started_at":"2026-02-02T10:15:00.000Z","steps":[{"id":"a","kind":"flag","mutates":true},{"id":"b","kind":"wait","mutates":false}],"vars":{"x":"1"},"secret_vars":["DB_PASSWORD"]}
    {"event":"step-started","step":"a","kind":"flag","mutates":true,"at":"2026-02-02T10:15:00.100Z"}
    {"event":"step-finished","id":"a","kind":"flag","name":null,"status":"succeeded","mutates":true,"started_at":"2026-02-02T10:15:00.100Z","duration_s":0.25,"detail":"K true -> false","error":null,"attempts":1,"flag_changes":[{"file":"a.env","key":"K","before":"true","after":"false","changed":true}],"signals":[{"name":"error_rate","value":0.07,"unit":"ratio"}]}
    {"event":"step-finished","id":"b","kind":"wait","status":"failed","mutates":false,"started_at":"2026-02-02T10:15:01.000Z","duration_s":60,"attempts":1,"signals":[{"name":"error_rate","value":0.2,"unit":"ratio","error":null}]}
    {"event":"run-finished","run_id":"20260202T101500Z-3f2a","status":"failed","finished_at":"2026-02-02T10:16:01.000Z","duration_s":61.2,"rollback_duration_s":61,"target_s":300,"within_target":true,"exit_code":1,"advice":"fix it"}
    """

  static let numbers = [
    "1e300", "-1e300", "1e308", "-1e308", "1e999", "-1e999", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "18446744073709551616", "-0", "0", "-1", "1e-320", "4.9e-324", "NaN", "Infinity",
    String(repeating: "9", count: 400), "\"60\"", "null", "true", "[]", "{}", "3.15e8", "315360001",
  ]

  /// One mutated journal: a number replaced by an odd one, or bytes flipped, cut or repeated.
  static func mutate(_ rng: inout FuzzRandom) -> [UInt8] {
    var text = seedJournal
    switch Int.random(in: 0..<6, using: &rng) {
    case 0, 1, 2:
      // Replace one to four numbers after a `":` with odd ones.
      for _ in 0..<Int.random(in: 1...4, using: &rng) {
        let starts = text.ranges(of: "\":").map(\.upperBound).filter {
          $0 < text.endIndex && (text[$0].isNumber || text[$0] == "-")
        }
        guard let start = starts.randomElement(using: &rng) else { break }
        let end = text[start...].firstIndex { $0 == "," || $0 == "}" } ?? text.endIndex
        text = String(text[..<start]) + rng.pick(numbers) + String(text[end...])
      }
      return Array(text.utf8)
    case 3:
      var bytes = Array(text.utf8)
      for _ in 0..<Int.random(in: 1...6, using: &rng) where !bytes.isEmpty {
        bytes[Int.random(in: 0..<bytes.count, using: &rng)] = rng.pick(Array("0123456789e+-.,:\"{}[]\n".utf8))
      }
      return bytes
    case 4:
      return Array(text.utf8.prefix(Int.random(in: 0...text.utf8.count, using: &rng)))
    default:
      // The same events many times over: resumes and finishes out of order.
      let lines = text.split(separator: "\n")
      return Array(
        (0..<Int.random(in: 2...20, using: &rng)).map { _ in String(rng.pick(lines)) }.joined(separator: "\n")
          .utf8)
    }
  }

  /// The events of a journal as the reader takes them: each line that is a JSON object.
  static func events(_ bytes: [UInt8]) -> [JournalEvent] {
    JournalEvent.events(jsonl: bytes)
  }

  /// A known time that is not a time a run can take.
  static func outOfRange(_ seconds: Double?) -> Bool {
    guard let seconds else { return false }
    return !seconds.isFinite || seconds < 0 || seconds > 10 * 365 * 24 * 3600
  }

  static func run(iterations: Int, seed: UInt64) -> (figures: [String: Any], problems: [String]) {
    var rng = FuzzRandom(seed: seed)
    var problems: [String] = []
    var parsed = 0
    let clock = ContinuousClock()
    let started = clock.now
    for iteration in 0..<iterations {
      let bytes = mutate(&rng)
      let events = events(bytes)
      guard let report = RunReport.parse(events), let summary = RunSummary.parse(events) else { continue }
      parsed += 1
      _ = ReportRendering.markdown(report, assessment: nil)
      _ = ReportRendering.json(report, assessment: nil).rendered()
      _ = ReportRendering.communication(report, assessment: nil)
      _ = HistoryRendering.table([HistoryRendering.cells(summary)])
      _ = HistoryRendering.json(summary).rendered()
      let times =
        [summary.targetSeconds, summary.duration, summary.rollbackDuration] + report.steps.map(\.duration)
      if times.contains(where: outOfRange) {
        problems.append("#\(iteration) (seed \(seed)): a time out of range read as known: \(times)")
        FuzzSettings.dump(bytes, as: "journal-\(iteration).jsonl")
      }
    }
    let figures: [String: Any] = [
      "fuzzer": "journal", "iterations": iterations, "parsed": parsed, "seed": String(seed),
      "seconds": FuzzSettings.seconds(started.duration(to: clock.now)), "build": FuzzSettings.build,
      "problems": Array(problems.prefix(10)), "problem_count": problems.count,
    ]
    FuzzSettings.report(figures)
    return (figures, problems)
  }
}

#if !ROLLBACK_FUZZ_STANDALONE
  @Suite("fuzzing journal readers")
  struct FuzzJournalTests {
    @Test("mutated journals: history and report never trap, and out-of-range times are unknown")
    func mutatedJournals() {
      let (figures, problems) = JournalFuzzer.run(
        iterations: FuzzSettings.iterations * 5, seed: FuzzSettings.seed)
      #expect(problems.isEmpty, "\(problems.count) problems: \(problems.prefix(5))")
      #expect((figures["parsed"] as? Int ?? 0) > 0)
    }

    @Test("the seed journal reads back with its times")
    func seedReads() {
      let report = RunReport.parse(JournalFuzzer.events(Array(JournalFuzzer.seedJournal.utf8)))
      #expect(report?.targetSeconds == 300)
      #expect(report?.duration == 61.2)
      #expect(report?.steps.map(\.duration) == [0.25, 60])
    }
  }
#endif
