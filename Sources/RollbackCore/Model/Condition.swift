import Foundation

/// A comparison operator in a condition.
public enum ComparisonOperator: String, Sendable, CaseIterable {
  /// Greater than.
  case greater = ">"
  /// Greater than or equal.
  case greaterOrEqual = ">="
  /// Less than.
  case less = "<"
  /// Less than or equal.
  case lessOrEqual = "<="
  /// Equal.
  case equal = "=="
  /// Not equal.
  case notEqual = "!="

  /// Applies the operator; NaN and infinities never compare true.
  public func holds(_ lhs: Double, _ rhs: Double) -> Bool {
    guard lhs.isFinite, rhs.isFinite else { return false }
    switch self {
    case .greater: return lhs > rhs
    case .greaterOrEqual: return lhs >= rhs
    case .less: return lhs < rhs
    case .lessOrEqual: return lhs <= rhs
    case .equal: return lhs == rhs
    case .notEqual: return lhs != rhs
    }
  }
}

/// `SIGNAL OP NUMBER`, e.g. `error_rate > 5%`.
public struct Comparison: Sendable, Equatable {
  /// The signal compared.
  public var signal: String
  /// How the signal's value is compared with the threshold.
  public var op: ComparisonOperator
  /// The threshold in base units (ratio, seconds, bytes, count).
  public var threshold: Double
  /// The comparison as written.
  public var text: String
  /// Where the comparison is written; the signal name starts here.
  public var location: SourceLocation
  /// Where the threshold starts.
  public var thresholdLocation: SourceLocation

  /// Creates a comparison.
  public init(
    signal: String, op: ComparisonOperator, threshold: Double, text: String,
    location: SourceLocation, thresholdLocation: SourceLocation
  ) {
    self.signal = signal
    self.op = op
    self.threshold = threshold
    self.text = text
    self.location = location
    self.thresholdLocation = thresholdLocation
  }

  /// Parses `SIGNAL OP NUMBER`; `location` is where the text starts. Throws the located problem.
  public static func parse(_ text: String, at location: SourceLocation) throws(Diagnostic) -> Comparison {
    let scalars = Array(text.unicodeScalars)
    var index = 0
    func skipSpaces() {
      while index < scalars.count, scalars[index] == " " || scalars[index] == "\t" { index += 1 }
    }
    skipSpaces()
    let nameStart = index
    while index < scalars.count,
      scalars[index].properties.isAlphabetic || scalars[index] == "_"
        || scalars[index] == "-" || (scalars[index].isASCII && scalars[index].properties.numericType != nil)
    {
      index += 1
    }
    let name = String(String.UnicodeScalarView(scalars[nameStart..<index]))
    guard !name.isEmpty else {
      throw
        (Diagnostic(
          .error, at: location.advanced(by: nameStart),
          "expected a condition 'SIGNAL OP NUMBER' (e.g. 'error_rate > 5%'), found '\(text)'"))
    }
    skipSpaces()
    let opStart = index
    while index < scalars.count, "<>=!".unicodeScalars.contains(scalars[index]) { index += 1 }
    let opText = String(String.UnicodeScalarView(scalars[opStart..<index]))
    guard let op = ComparisonOperator(rawValue: opText) else {
      let found = opText.isEmpty ? "nothing" : "'\(opText)'"
      throw
        (Diagnostic(
          .error, at: location.advanced(by: opStart),
          "expected an operator (> >= < <= == !=) after '\(name)', found \(found)"))
    }
    skipSpaces()
    let numberStart = index
    let rest = String(String.UnicodeScalarView(scalars[numberStart...])).trimmingCharacters(in: .whitespaces)
    let numberLocation = location.advanced(by: numberStart)
    switch Quantity.threshold(rest) {
    case .value(let number):
      return Comparison(
        signal: name, op: op, threshold: number, text: text.trimmingCharacters(in: .whitespaces),
        location: location.advanced(by: nameStart), thresholdLocation: numberLocation)
    case .notANumber:
      let found = rest.isEmpty ? "nothing" : "'\(rest)'"
      throw
        (Diagnostic(.error, at: numberLocation, "expected a number after '\(name) \(opText)', found \(found)"))
    case .badUnit(let unit):
      let known = Quantity.thresholdUnits.map(\.0).joined(separator: ", ")
      let unitOffset = rest.unicodeScalars.count - unit.unicodeScalars.count
      throw
        (Diagnostic(
          .error, at: numberLocation.advanced(by: unitOffset),
          "unknown unit '\(unit)' in '\(rest)'\(Suggest.hint(for: unit, in: Quantity.thresholdUnits.map(\.0)))"
            + " (units: \(known))"))
    }
  }
}

/// A condition: one comparison, or `any`/`all` of several.
public indirect enum Condition: Sendable, Equatable {
  /// A single comparison.
  case comparison(Comparison)
  /// Holds when at least one holds.
  case any([Condition])
  /// Holds when every one holds.
  case all([Condition])

  /// Every comparison in the condition, in order.
  public var comparisons: [Comparison] {
    switch self {
    case .comparison(let comparison): return [comparison]
    case .any(let list), .all(let list): return list.flatMap(\.comparisons)
    }
  }

  /// The condition as a person would write it.
  public var text: String {
    switch self {
    case .comparison(let comparison): return comparison.text
    case .any(let list):
      return list.count == 1 ? list[0].text : "any of (\(list.map(\.text).joined(separator: ", ")))"
    case .all(let list):
      return list.count == 1 ? list[0].text : "all of (\(list.map(\.text).joined(separator: ", ")))"
    }
  }

  /// Three-valued evaluation: `true`, `false`, or nil when an unknown signal decides it.
  ///
  /// `value` returns a signal's value, or nil when it is unknown.
  public func evaluate(_ value: (String) -> Double?) -> Bool? {
    switch self {
    case .comparison(let comparison):
      guard let current = value(comparison.signal), current.isFinite else { return nil }
      return comparison.op.holds(current, comparison.threshold)
    case .any(let list):
      var sawUnknown = false
      for condition in list {
        switch condition.evaluate(value) {
        case .some(true): return true
        case .some(false): continue
        case .none: sawUnknown = true
        }
      }
      return sawUnknown ? nil : false
    case .all(let list):
      var sawUnknown = false
      for condition in list {
        switch condition.evaluate(value) {
        case .some(false): return false
        case .some(true): continue
        case .none: sawUnknown = true
        }
      }
      return sawUnknown ? nil : true
    }
  }
}
