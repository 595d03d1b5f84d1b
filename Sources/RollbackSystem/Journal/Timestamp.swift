import Foundation
import RollbackCore

#if canImport(Glibc)
  import Glibc
#endif

/// Time formats used in journals and reports, always in UTC.
///
/// Written with the C library's calendar functions rather than Foundation's formatters: a
/// run writes a few dozen timestamps, and `rollback history` parses one per journal.
public enum Timestamp {
  /// `2026-02-02T10:15:00.123Z`; without `fractional`, `2026-02-02T10:15:00Z`.
  public static func iso(_ date: Date, fractional: Bool = true) -> String {
    let (fields, millis) = utc(date)
    var text = pad(Int(fields.tm_year) + 1900, 4) + "-" + pad(Int(fields.tm_mon) + 1, 2) + "-"
    text += pad(Int(fields.tm_mday), 2) + "T" + pad(Int(fields.tm_hour), 2) + ":"
    text += pad(Int(fields.tm_min), 2) + ":" + pad(Int(fields.tm_sec), 2)
    if fractional { text += "." + pad(millis, 3) }
    return text + "Z"
  }

  /// `20260202T101500Z`, for names that sort by time; with `fractional`, `20260202T101500.123Z`.
  public static func compact(_ date: Date, fractional: Bool = false) -> String {
    let (fields, millis) = utc(date)
    var text =
      pad(Int(fields.tm_year) + 1900, 4) + pad(Int(fields.tm_mon) + 1, 2) + pad(Int(fields.tm_mday), 2)
    text += "T" + pad(Int(fields.tm_hour), 2) + pad(Int(fields.tm_min), 2) + pad(Int(fields.tm_sec), 2)
    if fractional { text += "." + pad(millis, 3) }
    return text + "Z"
  }

  /// `10:15:05Z`: the time of day, for lines printed as they happen.
  public static func clock(_ date: Date) -> String {
    let (fields, _) = utc(date)
    return pad(Int(fields.tm_hour), 2) + ":" + pad(Int(fields.tm_min), 2) + ":" + pad(Int(fields.tm_sec), 2)
      + "Z"
  }

  /// Parses an ISO 8601 time as ``iso(_:fractional:)`` writes it: `YYYY-MM-DDTHH:MM:SS`, any
  /// fraction of a second, then `Z` or an offset `±HH:MM`. Nil for anything else.
  public static func parse(_ text: String) -> Date? {
    let bytes = Array(text.utf8)
    var index = 0
    func number(_ digits: Int) -> Int? {
      guard index + digits <= bytes.count else { return nil }
      var value = 0
      for byte in bytes[index..<index + digits] {
        guard byte >= 48, byte <= 57 else { return nil }
        value = value * 10 + Int(byte - 48)
      }
      index += digits
      return value
    }
    func expect(_ character: UInt8) -> Bool {
      guard index < bytes.count, bytes[index] == character else { return false }
      index += 1
      return true
    }
    guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
      expect(84) || expect(116), let hour = number(2), expect(58), let minute = number(2), expect(58),
      let second = number(2),
      (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
    else { return nil }
    var fraction = 0.0
    if expect(46) {
      var scale = 0.1
      let first = index
      while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
        fraction += Double(bytes[index] - 48) * scale
        scale /= 10
        index += 1
      }
      guard index > first else { return nil }
    }
    var offset = 0
    if expect(90) || expect(122) {
      offset = 0
    } else if index < bytes.count, bytes[index] == 43 || bytes[index] == 45 {
      let sign = bytes[index] == 45 ? -1 : 1
      index += 1
      guard let hours = number(2), expect(58), let minutes = number(2), hours < 24, minutes < 60 else {
        return nil
      }
      offset = sign * (hours * 3600 + minutes * 60)
    } else {
      return nil
    }
    guard index == bytes.count else { return nil }
    var fields = tm()
    fields.tm_year = Int32(year - 1900)
    fields.tm_mon = Int32(month - 1)
    fields.tm_mday = Int32(day)
    fields.tm_hour = Int32(hour)
    fields.tm_min = Int32(minute)
    fields.tm_sec = Int32(second)
    let seconds = timegm(&fields)
    return Date(timeIntervalSince1970: Double(seconds - offset) + fraction)
  }

  private static func utc(_ date: Date) -> (tm, Int) {
    // To the nearest millisecond: a Date's Double cannot hold .123 exactly.
    let total = Int64((date.timeIntervalSince1970 * 1000).rounded())
    let (quotient, remainder) = total.quotientAndRemainder(dividingBy: 1000)
    var seconds = time_t(remainder < 0 ? quotient - 1 : quotient)
    let millis = Int(remainder < 0 ? remainder + 1000 : remainder)
    var fields = tm()
    gmtime_r(&seconds, &fields)
    return (fields, millis)
  }

  private static func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
  }
}
