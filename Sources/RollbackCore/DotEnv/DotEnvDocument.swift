/// A dotenv file's bytes, read and edited one `KEY=value` assignment at a time.
///
/// The document never normalises anything: a UTF-8 byte order mark, CRLF line ends, a missing
/// final newline, comments, `export ` prefixes and bytes that are not UTF-8 all survive an edit,
/// because an edit replaces only the bytes of one value. Understood syntax, per line:
/// optional blanks, optional `export `, `KEY` (letters, digits, `_`, `.`, `-`), optional blanks
/// around `=`, then a value that is unquoted (an inline comment starts at a `#` after a blank),
/// `'single'`, `"double"` (with `\n`, `\r`, `\t`, `\"`, `\\` escapes) or `` `backtick` ``
/// quoted; quoted values may span lines. Anything else is left alone.
public struct DotEnvDocument: Sendable, Equatable {
  /// The document's bytes, exactly as given.
  public let bytes: [UInt8]

  /// Wraps the bytes of a dotenv file. Nothing is parsed until a key is looked up.
  public init(bytes: [UInt8]) {
    self.bytes = bytes
  }

  /// Wraps dotenv text given as a string (its UTF-8 bytes).
  public init(string: String) {
    self.bytes = Array(string.utf8)
  }

  /// The value of `key`, unquoted and unescaped, or `nil` when the key is not assigned.
  ///
  /// Throws when the key is assigned twice, appears inside a multi-line value, is written
  /// `KEY: value` or alone without `=`, its value is not UTF-8, a quote anywhere in the file is
  /// never closed, or a carriage return anywhere is not followed by a line feed.
  public func value(of key: String) throws(DotEnvError) -> String? {
    try Self.validate(key: key)
    let scan = try DotEnvScanner.scan(bytes, key: Array(key.utf8))
    guard let assignment = try uniqueAssignment(of: key, in: scan) else { return nil }
    return try decode(assignment)
  }

  /// A copy of the document with `key` set to `value`, changing only the bytes of that value.
  ///
  /// The value keeps its quoting style, except backticks (python-dotenv does not read them as
  /// quotes), which give way to no quotes; an unquoted value that needs quotes (blanks, `#`,
  /// quotes) becomes double-quoted. An absent key is appended as `KEY=value` with the file's line ending.
  /// A key that already has the value gives `.unchanged` and the same bytes (unless it is
  /// backticked: then it is rewritten without them).
  public func setting(key: String, value: String) throws(DotEnvError) -> DotEnvEdit {
    try Self.validate(key: key)
    try Self.validate(value: value, for: key)
    let scan = try DotEnvScanner.scan(bytes, key: Array(key.utf8))
    guard let assignment = try uniqueAssignment(of: key, in: scan) else {
      return try Self.readingBack(appending(key: key, value: value))
    }
    let oldValue = try decode(assignment)
    // A backticked value is rewritten even when equal: python-dotenv reads the backticks too.
    if oldValue == value, assignment.quote != .backtick {
      return DotEnvEdit(
        key: key, oldValue: oldValue, newValue: value, change: .unchanged, line: assignment.line,
        bytes: bytes, replacedRange: assignment.contentRange,
        replacement: Array(bytes[assignment.contentRange]))
    }
    let range: Range<Int>
    let replacement: [UInt8]
    if assignment.quote == .backtick {
      // python-dotenv (and others) do not read backticks as quotes: the new value is written in
      // a form every parser reads alike (unquoted, or double-quoted when it needs quotes).
      range = assignment.valueRange
      replacement = Self.encode(value, inside: .none) ?? Self.doubleQuoted(value)
    } else if let content = Self.encode(value, inside: assignment.quote) {
      range = assignment.contentRange
      replacement = content
    } else {
      range = assignment.valueRange
      replacement = Self.doubleQuoted(value)
    }
    // One copy, sized up front (replaceSubrange on a copy would copy, then shift the tail).
    var newBytes: [UInt8] = []
    newBytes.reserveCapacity(bytes.count - range.count + replacement.count)
    newBytes.append(contentsOf: bytes[..<range.lowerBound])
    newBytes.append(contentsOf: replacement)
    newBytes.append(contentsOf: bytes[range.upperBound...])
    return try Self.readingBack(
      DotEnvEdit(
        key: key, oldValue: oldValue, newValue: value, change: .replaced, line: assignment.line,
        bytes: newBytes, replacedRange: range, replacement: replacement))
  }

  /// `edit` when its bytes read back the new value; otherwise the reason they would not.
  ///
  /// Text around the edit can change how the new bytes read: a line holding a lone `'` opens a
  /// quoted key for python-dotenv that a value with a `'` appended below it would close. Nothing
  /// is written that the editor cannot read back.
  private static func readingBack(_ edit: DotEnvEdit) throws(DotEnvError) -> DotEnvEdit {
    let reread = try DotEnvDocument(bytes: edit.bytes).value(of: edit.key)
    guard reread == edit.newValue else {
      throw .invalidValue(key: edit.key, reason: "it would not read back as written here")
    }
    return edit
  }

  /// The line ending the file uses: that of its first line, else `\n`.
  var lineEnding: [UInt8] {
    guard let newline = bytes.firstIndex(of: DotEnvByte.newline) else { return [DotEnvByte.newline] }
    if newline > 0, bytes[newline - 1] == DotEnvByte.carriageReturn {
      return [DotEnvByte.carriageReturn, DotEnvByte.newline]
    }
    return [DotEnvByte.newline]
  }

  private func appending(key: String, value: String) -> DotEnvEdit {
    let hasContent = bytes.count > 0 && bytes != DotEnvByte.byteOrderMark
    var addition: [UInt8] = []
    if hasContent, bytes.last != DotEnvByte.newline { addition += lineEnding }
    let encoded = Self.encode(value, inside: .none) ?? Self.doubleQuoted(value)
    addition += Array(key.utf8) + [DotEnvByte.equals] + encoded + lineEnding
    let lineCount = bytes.reduce(0) { $0 + ($1 == DotEnvByte.newline ? 1 : 0) }
    let line = hasContent && bytes.last != DotEnvByte.newline ? lineCount + 2 : lineCount + 1
    return DotEnvEdit(
      key: key, oldValue: nil, newValue: value, change: .appended, line: line, bytes: bytes + addition,
      replacedRange: bytes.count..<bytes.count, replacement: addition)
  }

  private func uniqueAssignment(of key: String, in scan: DotEnvScan) throws(DotEnvError) -> DotEnvAssignment?
  {
    let matches = scan.assignments.filter { $0.key == key }
    if !scan.colonAssignments.isEmpty { throw .colonAssignment(key: key, lines: scan.colonAssignments) }
    if !scan.bareKeys.isEmpty { throw .keyWithoutValue(key: key, lines: scan.bareKeys) }
    if matches.count > 1 { throw .duplicateKey(key: key, lines: matches.map(\.line)) }
    if let match = matches.first, match.textAfterQuote {
      throw .textAfterClosingQuote(key: key, line: match.line, quote: match.quote.text)
    }
    if let shadow = scan.shadowed.first(where: { $0.key == key }) {
      throw .keyInsideMultilineValue(
        key: key, line: shadow.line, enclosingKey: shadow.enclosingKey, enclosingLine: shadow.enclosingLine)
    }
    return matches.first
  }

  private func decode(_ assignment: DotEnvAssignment) throws(DotEnvError) -> String {
    var content = Array(bytes[assignment.contentRange])
    if assignment.quote == .double { content = Self.unescape(content) }
    guard let text = String(validating: content, as: UTF8.self) else {
      throw .valueNotUTF8(key: assignment.key, line: assignment.line)
    }
    return text
  }

  /// The escapes of a double-quoted value: `\n`, `\r`, `\t`, `\"`, `\\`; others stay as written.
  private static func unescape(_ content: [UInt8]) -> [UInt8] {
    var result: [UInt8] = []
    result.reserveCapacity(content.count)
    var index = 0
    while index < content.count {
      let byte = content[index]
      if byte == DotEnvByte.backslash, index + 1 < content.count {
        let next = content[index + 1]
        let replacement: UInt8? =
          switch next {
          case UInt8(ascii: "n"): DotEnvByte.newline
          case UInt8(ascii: "r"): DotEnvByte.carriageReturn
          case UInt8(ascii: "t"): DotEnvByte.tab
          case UInt8(ascii: "\""), DotEnvByte.backslash: next
          default: nil
          }
        if let replacement {
          result.append(replacement)
          index += 2
          continue
        }
      }
      result.append(byte)
      index += 1
    }
    return result
  }

  /// The value's bytes for a value quoted with `quote`, or `nil` when it cannot be written there
  /// (the caller then writes it double-quoted, quotes included).
  private static func encode(_ value: String, inside quote: DotEnvQuote) -> [UInt8]? {
    let utf8 = Array(value.utf8)
    switch quote {
    case .none:
      let needsQuotes = utf8.contains { byte in
        DotEnvByte.isBlank(byte) || byte == DotEnvByte.hash
          || DotEnvQuote(rawValue: byte).map { $0 != .none } == true
      }
      return needsQuotes ? nil : utf8
    case .single:
      return utf8.contains(DotEnvQuote.single.rawValue) || utf8.contains(DotEnvByte.backslash) ? nil : utf8
    case .backtick:
      return utf8.contains(DotEnvQuote.backtick.rawValue) ? nil : utf8
    case .double:
      return doubleEscaped(utf8)
    }
  }

  private static func doubleEscaped(_ utf8: [UInt8]) -> [UInt8] {
    var result: [UInt8] = []
    for byte in utf8 {
      if byte == DotEnvQuote.double.rawValue || byte == DotEnvByte.backslash {
        result.append(DotEnvByte.backslash)
      }
      result.append(byte)
    }
    return result
  }

  private static func doubleQuoted(_ value: String) -> [UInt8] {
    [DotEnvQuote.double.rawValue] + doubleEscaped(Array(value.utf8)) + [DotEnvQuote.double.rawValue]
  }

  /// True when the editor accepts `key`: not empty; letters, digits, `_`, `.` and `-` only.
  public static func isValidKey(_ key: String) -> Bool {
    !key.isEmpty && key.utf8.allSatisfy(DotEnvByte.isKey)
  }

  /// Why the editor would refuse to write `value` ("contains a line break"), or `nil`.
  public static func valueProblem(_ value: String) -> String? {
    if value.utf8.contains(where: { $0 == DotEnvByte.newline || $0 == DotEnvByte.carriageReturn }) {
      return "contains a line break"
    }
    if value.utf8.contains(0) { return "contains a NUL byte" }
    return nil
  }

  private static func validate(key: String) throws(DotEnvError) {
    guard isValidKey(key) else { throw .invalidKey(key: key) }
  }

  private static func validate(value: String, for key: String) throws(DotEnvError) {
    if let reason = valueProblem(value) { throw .invalidValue(key: key, reason: reason) }
  }
}
