/// How a dotenv value is quoted.
enum DotEnvQuote: UInt8, Sendable {
  /// `KEY=value`
  case none = 0
  /// `KEY='value'` (literal; `\'` does not close it)
  case single = 0x27
  /// `KEY="value"` (escapes `\n`, `\r`, `\t`, `\"`, `\\`)
  case double = 0x22
  /// ``KEY=`value` `` (literal)
  case backtick = 0x60

  /// The quote as text, for messages.
  var text: String {
    switch self {
    case .none: return ""
    case .single: return "'"
    case .double: return "\""
    case .backtick: return "`"
    }
  }
}

/// One `KEY=value` assignment and where its value sits in the bytes.
struct DotEnvAssignment: Sendable, Equatable {
  /// The key.
  let key: String
  /// The 1-based line of the key.
  let line: Int
  /// How the value is quoted.
  let quote: DotEnvQuote
  /// The value bytes, without quotes (an empty range for an empty value).
  let contentRange: Range<Int>
  /// The value bytes including the quotes.
  let valueRange: Range<Int>
  /// True when something other than blanks and a comment follows the closing quote.
  var textAfterQuote = false
}

/// A line inside a multi-line quoted value that looks like an assignment.
struct DotEnvShadowedAssignment: Sendable, Equatable {
  /// The key the line seems to assign.
  let key: String
  /// Its 1-based line.
  let line: Int
  /// The key whose multi-line value holds the line.
  let enclosingKey: String
  /// The line where that value starts.
  let enclosingLine: Int
}

/// The result of scanning a dotenv text.
struct DotEnvScan: Sendable, Equatable {
  /// The assignments, in file order.
  var assignments: [DotEnvAssignment] = []
  /// Assignment-like lines hidden inside multi-line values.
  var shadowed: [DotEnvShadowedAssignment] = []
}

/// Byte values the scanner looks at.
enum DotEnvByte {
  static let newline: UInt8 = 0x0A
  static let carriageReturn: UInt8 = 0x0D
  static let space: UInt8 = 0x20
  static let tab: UInt8 = 0x09
  static let hash: UInt8 = 0x23
  static let equals: UInt8 = 0x3D
  static let backslash: UInt8 = 0x5C
  static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
  static let export: [UInt8] = Array("export".utf8)

  static func isBlank(_ byte: UInt8) -> Bool { byte == space || byte == tab }

  /// Letters, digits, `_`, `.` and `-`: what Node dotenv and python-dotenv accept in a key.
  static func isKey(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F, 0x2E, 0x2D: return true
    default: return false
    }
  }
}

/// Scans dotenv bytes for assignments, one line at a time, following quoted values across lines.
///
/// Lines that are not assignments (comments, blanks, anything else) are skipped, never refused:
/// the editor only needs to find the one assignment it changes.
struct DotEnvScanner {
  private let bytes: [UInt8]
  private var index = 0
  private var line = 1
  private var scan = DotEnvScan()

  /// Scans `bytes`; throws when a quote is still open at the end of the file.
  static func scan(_ bytes: [UInt8]) throws(DotEnvError) -> DotEnvScan {
    var scanner = DotEnvScanner(bytes: bytes)
    return try scanner.run()
  }

  private init(bytes: [UInt8]) {
    self.bytes = bytes
  }

  private mutating func run() throws(DotEnvError) -> DotEnvScan {
    if bytes.starts(with: DotEnvByte.byteOrderMark) { index = DotEnvByte.byteOrderMark.count }
    while index < bytes.count {
      try scanLine()
    }
    return scan
  }

  /// The key and the index just after `=` when an assignment starts at `start`
  /// (`[blanks][export blanks]KEY[blanks]=`).
  static func assignmentHead(in bytes: [UInt8], at start: Int) -> (key: String, afterEquals: Int)? {
    var index = start
    while index < bytes.count, DotEnvByte.isBlank(bytes[index]) { index += 1 }
    let exportEnd = index + DotEnvByte.export.count
    if exportEnd < bytes.count, bytes[index..<exportEnd].elementsEqual(DotEnvByte.export),
      DotEnvByte.isBlank(bytes[exportEnd])
    {
      var afterExport = exportEnd
      while afterExport < bytes.count, DotEnvByte.isBlank(bytes[afterExport]) { afterExport += 1 }
      if let head = keyAndEquals(in: bytes, at: afterExport) { return head }
    }
    return keyAndEquals(in: bytes, at: index)
  }

  private static func keyAndEquals(in bytes: [UInt8], at start: Int) -> (key: String, afterEquals: Int)? {
    var index = start
    while index < bytes.count, DotEnvByte.isKey(bytes[index]) { index += 1 }
    guard index > start else { return nil }
    let key = String(decoding: bytes[start..<index], as: UTF8.self)
    while index < bytes.count, DotEnvByte.isBlank(bytes[index]) { index += 1 }
    guard index < bytes.count, bytes[index] == DotEnvByte.equals else { return nil }
    return (key, index + 1)
  }

  private mutating func scanLine() throws(DotEnvError) {
    guard let head = Self.assignmentHead(in: bytes, at: index) else {
      skipRestOfLine()
      return
    }
    index = head.afterEquals
    while index < bytes.count, DotEnvByte.isBlank(bytes[index]) { index += 1 }
    if index < bytes.count, let quote = DotEnvQuote(rawValue: bytes[index]), quote != .none {
      try scanQuoted(key: head.key, quote: quote)
    } else {
      scanUnquoted(key: head.key, afterEquals: head.afterEquals)
    }
  }

  private mutating func scanQuoted(key: String, quote: DotEnvQuote) throws(DotEnvError) {
    let open = index
    let openLine = line
    index += 1
    let contentStart = index
    while index < bytes.count {
      let byte = bytes[index]
      if byte == quote.rawValue { break }
      if byte == DotEnvByte.backslash, quote != .backtick, index + 1 < bytes.count,
        bytes[index + 1] == quote.rawValue || (quote == .double && bytes[index + 1] == DotEnvByte.backslash)
      {
        index += 2
        continue
      }
      index += 1
      if byte == DotEnvByte.newline {
        line += 1
        if let inner = Self.assignmentHead(in: bytes, at: index) {
          scan.shadowed.append(
            DotEnvShadowedAssignment(key: inner.key, line: line, enclosingKey: key, enclosingLine: openLine))
        }
      }
    }
    guard index < bytes.count else {
      throw .unterminatedQuote(key: key, line: openLine, quote: quote.text)
    }
    let contentEnd = index
    index += 1
    // After the closing quote dotenv allows only blanks and a comment; with anything else it
    // reads the line as an unquoted value, and a multi-line value then ends on its first line.
    var after = index
    while after < bytes.count, DotEnvByte.isBlank(bytes[after]) { after += 1 }
    let textAfterQuote =
      after < bytes.count
      && ![DotEnvByte.newline, DotEnvByte.carriageReturn, DotEnvByte.hash].contains(bytes[after])
    if textAfterQuote, line != openLine {
      throw .textAfterClosingQuote(key: key, line: openLine, quote: quote.text)
    }
    scan.assignments.append(
      DotEnvAssignment(
        key: key, line: openLine, quote: quote, contentRange: contentStart..<contentEnd,
        valueRange: open..<index, textAfterQuote: textAfterQuote))
    skipRestOfLine()
  }

  private mutating func scanUnquoted(key: String, afterEquals: Int) {
    let start = index
    var end = start
    var cursor = start
    while cursor < bytes.count {
      let byte = bytes[cursor]
      if byte == DotEnvByte.newline || byte == DotEnvByte.carriageReturn { break }
      if byte == DotEnvByte.hash, cursor > afterEquals, DotEnvByte.isBlank(bytes[cursor - 1]) { break }
      cursor += 1
      if !DotEnvByte.isBlank(byte) { end = cursor }
    }
    let range = end > start ? start..<end : afterEquals..<afterEquals
    scan.assignments.append(
      DotEnvAssignment(key: key, line: line, quote: .none, contentRange: range, valueRange: range))
    index = cursor
    skipRestOfLine()
  }

  private mutating func skipRestOfLine() {
    while index < bytes.count {
      let byte = bytes[index]
      index += 1
      if byte == DotEnvByte.newline {
        line += 1
        return
      }
    }
  }
}
