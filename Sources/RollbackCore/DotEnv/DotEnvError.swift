/// Why a dotenv file could not be read or edited safely.
///
/// Every case names the key and the line so the person at the keyboard can fix the
/// file by hand; descriptions never contain a value (values may be secrets).
public enum DotEnvError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The key is assigned on more than one line (parsers disagree about which one wins).
  case duplicateKey(key: String, lines: [Int])
  /// The key appears as `KEY=` on a line that is inside the multi-line quoted value of another key.
  case keyInsideMultilineValue(key: String, line: Int, enclosingKey: String, enclosingLine: Int)
  /// A quoted value is opened and never closed before the end of the file.
  case unterminatedQuote(key: String, line: Int, quote: String)
  /// The key is not a dotenv key (letters, digits, `_`, `.` and `-` only).
  case invalidKey(key: String)
  /// The new value cannot be written on one line (it holds a line break or a NUL byte).
  case invalidValue(key: String, reason: String)
  /// The current value of the key is not valid UTF-8, so it cannot be compared or shown.
  case valueNotUTF8(key: String, line: Int)
  /// Text follows the closing quote of the key's value (`KEY="a" b`): dotenv (Node, Next.js)
  /// then reads the whole rest of the line, quotes included, as the value.
  case textAfterClosingQuote(key: String, line: Int, quote: String)
  /// A carriage return not followed by a line feed (old Mac line ends): parsers disagree about
  /// whether it ends a line.
  case loneCarriageReturn(line: Int)
  /// The key is assigned as `KEY: value`, which some parsers read and others do not.
  case colonAssignment(key: String, lines: [Int])
  /// The key stands alone on a line, without `=`: python-dotenv reads it as unset, dotenv v16
  /// takes a `=` on a later line for its assignment.
  case keyWithoutValue(key: String, lines: [Int])

  /// A short lowercase message: what is wrong, where, and what to do.
  public var description: String {
    switch self {
    case .duplicateKey(let key, let lines):
      return "\(key) is set on lines \(Self.list(lines)); remove one and retry"
    case .keyInsideMultilineValue(let key, let line, let enclosingKey, let enclosingLine):
      return "\(key) appears on line \(line) inside the multi-line value of \(enclosingKey) "
        + "that starts on line \(enclosingLine); parsers disagree about such a line, "
        + "so move \(key) out of that value (or close its quote) and retry"
    case .unterminatedQuote(let key, let line, let quote):
      return "the value of \(key) opened with \(quote) on line \(line) is never closed; "
        + "add the closing \(quote) and retry"
    case .invalidKey(let key):
      return "\"\(key)\" is not a valid dotenv key; use only letters, digits, '_', '.' and '-'"
    case .invalidValue(let key, let reason):
      return "the new value for \(key) \(reason); use a value that fits on one line"
    case .valueNotUTF8(let key, let line):
      return "the value of \(key) on line \(line) is not valid UTF-8; fix it by hand and retry"
    case .textAfterClosingQuote(let key, let line, let quote):
      return "the value of \(key) on line \(line) has text after its closing \(quote); parsers disagree "
        + "about such a line (dotenv reads all of it, quotes included), so remove that text "
        + "(a comment needs a blank and '#') and retry"
    case .loneCarriageReturn(let line):
      return "line \(line) ends with a carriage return alone (old Mac line ends); parsers disagree about "
        + "such line ends, so convert the file to LF (or CRLF) line ends and retry"
    case .colonAssignment(let key, let lines):
      return
        "\(key) is set with ':' instead of '=' on line\(lines.count == 1 ? "" : "s") \(Self.list(lines)); "
        + "parsers disagree about such a line, so write it as \(key)=value (once) and retry"
    case .keyWithoutValue(let key, let lines):
      return "\(key) stands alone without '=' on line\(lines.count == 1 ? "" : "s") \(Self.list(lines)); "
        + "parsers disagree about such a line (python-dotenv reads \(key) as unset), so remove it or "
        + "write \(key)=value and retry"
    }
  }

  /// "3 and 9", "3, 5 and 9".
  private static func list(_ lines: [Int]) -> String {
    let words = lines.map(String.init)
    guard let last = words.last, words.count > 1 else { return words.first ?? "" }
    return words.dropLast().joined(separator: ", ") + " and " + last
  }
}
