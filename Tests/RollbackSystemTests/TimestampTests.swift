import Foundation
import RollbackSystem
import Testing

@Suite("Timestamps in journals, run ids and reports")
struct TimestampTests {
  // 2026-02-02T10:15:00.123Z
  let moment = Date(timeIntervalSince1970: 1_770_027_300.123)

  @Test("ISO times are UTC with milliseconds, or without them on request")
  func iso() {
    #expect(Timestamp.iso(moment) == "2026-02-02T10:15:00.123Z")
    #expect(Timestamp.iso(moment, fractional: false) == "2026-02-02T10:15:00Z")
    #expect(Timestamp.iso(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
    #expect(Timestamp.iso(Date(timeIntervalSince1970: -0.25)) == "1969-12-31T23:59:59.750Z")
    // A leap day and the last millisecond of a year.
    #expect(Timestamp.iso(Date(timeIntervalSince1970: 1_709_208_000)) == "2024-02-29T12:00:00.000Z")
    #expect(Timestamp.iso(Date(timeIntervalSince1970: 1_798_761_599.999_4)) == "2026-12-31T23:59:59.999Z")
  }

  @Test("compact times name runs and sort as the times do")
  func compact() {
    #expect(Timestamp.compact(moment) == "20260202T101500Z")
    #expect(RunID.make(at: moment).hasPrefix("20260202T101500Z-"))
    let earlier = Timestamp.compact(Date(timeIntervalSince1970: 1_767_225_600))  // 2026-01-01
    #expect(earlier < Timestamp.compact(moment))
  }

  @Test("compact with milliseconds names saved assessments; the clock form marks watch lines")
  func compactFractionalAndClock() {
    #expect(Timestamp.compact(moment, fractional: true) == "20260202T101500.123Z")
    #expect(
      Timestamp.compact(Date(timeIntervalSince1970: 1_770_027_300.999_6), fractional: true)
        == "20260202T101501.000Z")
    #expect(Timestamp.clock(moment) == "10:15:00Z")
    #expect(Timestamp.clock(Date(timeIntervalSince1970: 1_770_063_299)) == "20:14:59Z")
  }

  @Test("parse reads what iso writes, and offsets")
  func parse() throws {
    let parsed = try #require(Timestamp.parse("2026-02-02T10:15:00.123Z"))
    #expect(abs(parsed.timeIntervalSince(moment)) < 0.000_5)
    #expect(Timestamp.parse("2026-02-02T10:15:00Z") == Date(timeIntervalSince1970: 1_770_027_300))
    #expect(Timestamp.parse("2026-02-02T11:15:00+01:00") == Date(timeIntervalSince1970: 1_770_027_300))
    #expect(Timestamp.parse("2026-02-02T05:15:00.5-05:00") == Date(timeIntervalSince1970: 1_770_027_300.5))
    for value in [Date(timeIntervalSince1970: 0), moment, Date(timeIntervalSince1970: 1_709_208_000.25)] {
      let text = Timestamp.iso(value)
      #expect(Timestamp.parse(text).map { abs($0.timeIntervalSince(value)) < 0.001 } == true, "\(text)")
    }
  }

  @Test(
    "parse refuses anything else",
    arguments: [
      "", "2026-02-02", "2026-02-02T10:15", "2026-02-02T10:15:00", "2026-02-02 10:15:00Z",
      "2026-13-02T10:15:00Z", "2026-02-02T25:15:00Z", "2026-02-02T10:15:00.Z", "2026-02-02T10:15:00Zjunk",
      "2026-02-02T10:15:00+0100", "yesterday",
    ])
  func refuses(_ text: String) {
    #expect(Timestamp.parse(text) == nil)
  }
}
