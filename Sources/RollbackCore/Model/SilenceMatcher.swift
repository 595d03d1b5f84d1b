/// One Alertmanager matcher, written `name=value`, `name!=value`, `name=~regex` or
/// `name!~regex` (as in amtool).
public struct SilenceMatcher: Sendable, Equatable, CustomStringConvertible {
  /// The label name.
  public var name: String
  /// The value or regular expression.
  public var value: String
  /// Whether `value` is a regular expression.
  public var isRegex: Bool
  /// Whether the label must match (`=`, `=~`) or must not (`!=`, `!~`).
  public var isEqual: Bool

  /// Creates a matcher.
  public init(name: String, value: String, isRegex: Bool = false, isEqual: Bool = true) {
    self.name = name
    self.value = value
    self.isRegex = isRegex
    self.isEqual = isEqual
  }

  /// The matcher as written.
  public var description: String {
    name + (isEqual ? (isRegex ? "=~" : "=") : (isRegex ? "!~" : "!=")) + value
  }

  /// Parses `name=value`, `name!=value`, `name=~regex` or `name!~regex`; the value may be
  /// double-quoted. Throws a message naming what is wrong.
  public static func parse(_ text: String) throws(SilenceMatcherError) -> SilenceMatcher {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let operators: [(String, Bool, Bool)] = [
      ("!~", true, false), ("!=", false, false), ("=~", true, true), ("=", false, true),
    ]
    guard let opIndex = trimmed.firstIndex(where: { $0 == "=" || $0 == "!" }) else {
      throw SilenceMatcherError(
        text: text, reason: "no operator; write name=value, name!=value, name=~regex or name!~regex")
    }
    let name = String(trimmed[..<opIndex]).trimmingCharacters(in: .whitespaces)
    let rest = trimmed[opIndex...]
    guard let (op, isRegex, isEqual) = operators.first(where: { rest.hasPrefix($0.0) }) else {
      throw SilenceMatcherError(text: text, reason: "'!' must be followed by '=' or '~'")
    }
    guard isLabelName(name) else {
      throw SilenceMatcherError(
        text: text,
        reason: name.isEmpty
          ? "no label name before the operator" : "'\(name)' is not a label name (letters, digits and _)")
    }
    var value = String(rest.dropFirst(op.count)).trimmingCharacters(in: .whitespaces)
    if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
      value = String(value.dropFirst().dropLast())
    }
    guard !value.isEmpty || !isEqual else {
      throw SilenceMatcherError(
        text: text, reason: "an empty value would silence every alert without the label")
    }
    return SilenceMatcher(name: name, value: value, isRegex: isRegex, isEqual: isEqual)
  }

  static func isLabelName(_ name: String) -> Bool {
    guard let first = name.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
    return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
  }
}

/// A matcher that cannot be read.
public struct SilenceMatcherError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The matcher as written.
  public var text: String
  /// What is wrong with it.
  public var reason: String

  /// `bad matcher 'TEXT': REASON`.
  public var description: String { "bad matcher '\(text)': \(reason)" }
}
