/// Text from outside (servers, databases, child processes) made safe to print.
public enum TerminalText {
  /// `text` with every character that could drive a terminal written as a visible escape
  /// (`\u{1b}`): C0 controls but newline and tab, DEL, C1 controls (`\u{9b}` is a CSI on
  /// some terminals) and the bidirectional overrides that reorder what is shown. A
  /// carriage return is escaped too, so it cannot overwrite the line before it.
  ///
  /// - Parameter keepingNewlines: keep `\n` as a line break (false escapes it, for text
  ///   that must stay on one line).
  public static func escaped(_ text: String, keepingNewlines: Bool = true) -> String {
    guard text.unicodeScalars.contains(where: { needsEscape($0, keepingNewlines: keepingNewlines) }) else {
      return text
    }
    var result = ""
    result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
    for scalar in text.unicodeScalars {
      if needsEscape(scalar, keepingNewlines: keepingNewlines) {
        result += "\\u{" + String(scalar.value, radix: 16) + "}"
      } else {
        result.unicodeScalars.append(scalar)
      }
    }
    return result
  }

  /// Whether `scalar` is shown escaped.
  static func needsEscape(_ scalar: Unicode.Scalar, keepingNewlines: Bool) -> Bool {
    switch scalar.value {
    case 0x0A: return !keepingNewlines
    case 0x09: return false
    case 0x00...0x1F, 0x7F...0x9F: return true
    case 0x202A...0x202E, 0x2066...0x2069: return true
    default: return false
    }
  }
}
