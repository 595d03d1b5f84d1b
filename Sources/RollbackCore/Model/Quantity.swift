import Foundation

/// Parsing of durations (`500ms`, `1m30s`) and numbers with units (`5%`, `2s`).
public enum Quantity {
  /// Seconds in a duration such as `500ms`, `30s`, `5m`, `1h` or `1m30s`; nil when malformed.
  public static func seconds(_ text: String) -> Double? {
    let scalars = Array(text.trimmingCharacters(in: .whitespaces).unicodeScalars)
    guard !scalars.isEmpty else { return nil }
    var index = 0
    var total = 0.0
    var lastRank = Int.max
    while index < scalars.count {
      let start = index
      while index < scalars.count,
        (scalars[index].properties.numericType != nil && scalars[index].isASCII)
          || scalars[index] == "."
      {
        index += 1
      }
      guard index > start, let number = Double(String(String.UnicodeScalarView(scalars[start..<index])))
      else { return nil }
      let unitStart = index
      while index < scalars.count, scalars[index].properties.isAlphabetic { index += 1 }
      let unit = String(String.UnicodeScalarView(scalars[unitStart..<index]))
      let rank: Int
      let factor: Double
      switch unit {
      case "h": (rank, factor) = (3, 3600)
      case "m": (rank, factor) = (2, 60)
      case "s": (rank, factor) = (1, 1)
      case "ms": (rank, factor) = (0, 0.001)
      default: return nil
      }
      guard rank < lastRank else { return nil }
      lastRank = rank
      total += number * factor
    }
    return total.isFinite ? total : nil
  }

  /// The longest duration a runbook may write, seconds (7 days): anything longer is a typo,
  /// and every duration stays far inside what `Duration` and `Int` milliseconds can hold.
  public static let maximumSeconds: Double = 7 * 24 * 3600

  /// A measured time as people read it in run output and reports: `0.4 s`, `41.2 s` below a
  /// minute, then ``format(seconds:)`` (`2m3s`). Configured limits (timeouts, waits) use
  /// ``format(seconds:)`` itself, the runbook's own notation.
  public static func formatElapsed(seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "unknown" }
    return seconds < 60 ? String(format: "%.1f s", seconds) : format(seconds: seconds)
  }

  /// A human rendering of seconds: `500ms`, `5s`, `2m`, `1m30s`, `1h`; `unknown` for a value
  /// that is not finite, negative or beyond a century (never a trap).
  public static func format(seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0, seconds <= 100 * 365 * 24 * 3600 else { return "unknown" }
    if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
    if seconds < 60 {
      let rounded = (seconds * 10).rounded() / 10
      return rounded == rounded.rounded() ? "\(Int(rounded))s" : "\(rounded)s"
    }
    let whole = Int(seconds.rounded())
    let hours = whole / 3600
    let minutes = (whole % 3600) / 60
    let secs = whole % 60
    var text = ""
    if hours > 0 { text += "\(hours)h" }
    if minutes > 0 { text += "\(minutes)m" }
    if secs > 0 { text += "\(secs)s" }
    return text
  }

  /// The units a threshold may carry, with their factors.
  public static let thresholdUnits: [(String, Double)] = [
    ("%", 0.01), ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600),
    ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824),
  ]

  /// Result of reading a threshold such as `5%`.
  public enum Threshold: Equatable, Sendable {
    /// The number in base units (ratio, seconds, bytes, count).
    case value(Double)
    /// The text is not a number.
    case notANumber
    /// The number carries a unit that is not known.
    case badUnit(String)
  }

  /// Reads a number with an optional unit: `5%` is 0.05, `500ms` is 0.5, `2s` is 2.
  public static func threshold(_ text: String) -> Threshold {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    var end = trimmed.startIndex
    for (offset, character) in zip(trimmed.indices, trimmed) {
      let isSign = (character == "-" || character == "+") && offset == trimmed.startIndex
      guard character.isASCII, character.isNumber || character == "." || isSign || character == "e"
      else { break }
      end = trimmed.index(after: offset)
    }
    var numberText = String(trimmed[..<end])
    var unit = String(trimmed[end...]).trimmingCharacters(in: .whitespaces)
    // An exponent marker with nothing after it belongs to the unit, not the number.
    if numberText.hasSuffix("e") {
      numberText.removeLast()
      unit = "e" + unit
    }
    guard !numberText.isEmpty, let number = Double(numberText), number.isFinite else { return .notANumber }
    if unit.isEmpty { return .value(number) }
    guard let factor = thresholdUnits.first(where: { $0.0 == unit })?.1 else { return .badUnit(unit) }
    let scaled = number * factor
    return scaled.isFinite ? .value(scaled) : .notANumber
  }
}
