import Foundation

/// A signal's value at one moment, or why it is unknown.
public struct SignalReading: Sendable, Equatable {
  /// The signal's name.
  public var name: String
  /// `prometheus`, `postgres` or `manual`.
  public var source: String
  /// The signal's unit.
  public var unit: SignalUnit
  /// The value in the signal's unit; nil when unknown.
  public var value: Double?
  /// Why the value is unknown (`timeout after 5s`, `no data (empty result)`, …).
  public var error: String?
  /// How many series a Prometheus query returned (before reduction).
  public var seriesCount: Int?
  /// Warnings the source sent along.
  public var warnings: [String]
  /// Whether the value was given on the command line (`--signal NAME=VALUE`).
  public var setByHand: Bool
  /// Whether the value is a manual signal's default.
  public var isDefault: Bool
  /// How long the read took, seconds.
  public var duration: Double

  /// Creates a reading.
  public init(
    name: String, source: String, unit: SignalUnit, value: Double?, error: String?, seriesCount: Int? = nil,
    warnings: [String] = [], setByHand: Bool = false, isDefault: Bool = false, duration: Double = 0
  ) {
    self.name = name
    self.source = source
    self.unit = unit
    self.value = value
    self.error = error
    self.seriesCount = seriesCount
    self.warnings = warnings
    self.setByHand = setByHand
    self.isDefault = isDefault
    self.duration = duration
  }

  /// A known value with an error is impossible; a non-finite value is unknown.
  public var isKnown: Bool { value.map(\.isFinite) ?? false }

  /// The value in base units for comparisons: percent-unit signals become ratios (85 → 0.85).
  public var comparableValue: Double? {
    guard let value, value.isFinite else { return nil }
    return unit == .percent ? value / 100 : value
  }

  /// The value as a person reads it: `8.2 %`, `2.31 s`, `37`, `1.5 MB`, or `unknown — reason`.
  public var formatted: String {
    guard let value, value.isFinite else { return "unknown — \(error ?? "no value")" }
    return Self.format(value, unit: unit)
  }

  /// Formats a value in a unit.
  public static func format(_ value: Double, unit: SignalUnit) -> String {
    switch unit {
    case .ratio: return trimmed(value * 100) + " %"
    case .percent: return trimmed(value) + " %"
    case .seconds:
      if abs(value) < 1, value != 0 { return trimmed(value * 1000) + " ms" }
      return trimmed(value) + " s"
    case .bytes:
      let units = ["B", "kB", "MB", "GB", "TB"]
      var scaled = value
      var index = 0
      while abs(scaled) >= 1000, index < units.count - 1 {
        scaled /= 1000
        index += 1
      }
      return trimmed(scaled) + " " + units[index]
    case .count: return trimmed(value)
    }
  }

  /// A threshold (base units) shown in the signal's unit.
  public static func formatThreshold(_ threshold: Double, unit: SignalUnit) -> String {
    format(unit == .percent ? threshold * 100 : threshold, unit: unit)
  }

  static func trimmed(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e12 { return String(Int(value)) }
    let magnitude = abs(value)
    let digits = magnitude >= 100 ? 1 : (magnitude >= 1 ? 2 : 3)
    var text = String(format: "%.\(digits)f", value)
    while text.contains("."), text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
  }
}

/// Reads signals from their sources.
public protocol SignalReader: Sendable {
  /// Reads every signal, concurrently; unknown values carry their reason.
  func read(_ signals: [Signal]) async -> [SignalReading]
}

/// Values given by hand (`--signal NAME=VALUE`), layered over a reader.
public struct ManualValues: Sendable {
  /// Values by signal name, in the signal's unit.
  public var values: [String: Double]

  /// Creates manual values.
  public init(_ values: [String: Double] = [:]) { self.values = values }

  /// Parses `NAME=VALUE` (units allowed: `5%`, `2s`) against the runbook's signals; throws
  /// every problem found.
  public init(parsing items: [String], runbook: Runbook) throws(DiagnosticList) {
    var values: [String: Double] = [:]
    var problems: [Diagnostic] = []
    let origin = SourceLocation(file: "--signal", line: 1, column: 1)
    for item in items {
      guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
        problems.append(Diagnostic(.error, at: origin, "--signal expects NAME=VALUE, found '\(item)'"))
        continue
      }
      let name = String(item[..<equals])
      let text = String(item[item.index(after: equals)...])
      guard let signal = runbook.signal(named: name) else {
        problems.append(
          Diagnostic(
            .error, at: origin,
            "unknown signal '\(name)'\(Suggest.hint(for: name, in: runbook.signals.map(\.name)))"
              + " (signals: \(runbook.signals.map(\.name).joined(separator: ", ")))"))
        continue
      }
      guard case .value(let number) = Quantity.threshold(text) else {
        problems.append(
          Diagnostic(.error, at: origin, "--signal \(name) expects a number (5%, 2s, 37), found '\(text)'"))
        continue
      }
      let hasPercent = text.hasSuffix("%")
      values[name] = signal.unit == .percent && hasPercent ? number * 100 : number
    }
    guard problems.isEmpty else { throw DiagnosticList(problems) }
    self.init(values)
  }

  /// The readings with hand-set values applied, and manual signals filled from defaults.
  public func apply(to readings: [SignalReading], signals: [Signal]) -> [SignalReading] {
    readings.map { reading in
      var reading = reading
      if let value = values[reading.name] {
        reading.value = value
        reading.error = nil
        reading.setByHand = true
        reading.isDefault = false
      } else if reading.source == "manual", reading.value == nil,
        let fallback = signals.first(where: { $0.name == reading.name })?.manualDefault
      {
        reading.value = fallback
        reading.error = nil
        reading.isDefault = true
      }
      return reading
    }
  }
}
