import Foundation

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
  /// The key assigned on that line.
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

/// The result of scanning a dotenv text for one key.
struct DotEnvScan: Sendable, Equatable {
  /// The key's assignments, in file order.
  var assignments: [DotEnvAssignment] = []
  /// Lines hidden inside multi-line values that seem to assign the key.
  var shadowed: [DotEnvShadowedAssignment] = []
  /// Lines that assign the key as `KEY: value` (Node dotenv and others read them; python-dotenv
  /// does not), by line.
  var colonAssignments: [Int] = []
  /// Lines holding the key alone, without `=` (python-dotenv reads it as unset; dotenv v16 reads
  /// a `=` on a later line as its assignment), by line.
  var bareKeys: [Int] = []
}

/// Byte values the scanner looks at.
enum DotEnvByte {
  static let newline: UInt8 = 0x0A
  static let carriageReturn: UInt8 = 0x0D
  static let space: UInt8 = 0x20
  static let tab: UInt8 = 0x09
  static let hash: UInt8 = 0x23
  static let equals: UInt8 = 0x3D
  static let colon: UInt8 = 0x3A
  static let backslash: UInt8 = 0x5C
  static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
  static let export: [UInt8] = Array("export".utf8)

  static func isBlank(_ byte: UInt8) -> Bool { byte == space || byte == tab }

  /// `isKey` for each byte value, 1 or 0: one load per byte instead of a chain of branches.
  static let keyTable: [UInt8] = (0...255).map { isKey(UInt8($0)) ? 1 : 0 }

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
/// the editor only needs to find the one assignment it changes. A scan looks for one key: it
/// walks the whole file (every line, every quoted value, so it meets every error a quote can
/// cause) but records only that key's assignments and shadowed lines, comparing key bytes in
/// place; no other key becomes a `String`.
struct DotEnvScanner {
  /// The bytes, borrowed for the scan (every access is guarded by `index < bytes.count`).
  private let bytes: UnsafeBufferPointer<UInt8>
  /// `DotEnvByte.keyTable`, borrowed for the scan (256 entries, indexed by a byte).
  private let keyTable: UnsafeBufferPointer<UInt8>
  /// The key whose assignments are recorded.
  private let target: [UInt8]
  private var index = 0
  private var line = 1
  private var scan = DotEnvScan()

  /// Scans `bytes` for the assignments of `key` and the lines inside multi-line values that seem
  /// to assign `key`; throws when a quote anywhere is still open at the end of the file, or text
  /// follows the closing quote of a multi-line value.
  static func scan(_ bytes: [UInt8], key: [UInt8]) throws(DotEnvError) -> DotEnvScan {
    try bytes.withUnsafeBufferPointer { (buffer) throws(DotEnvError) in
      try DotEnvByte.keyTable.withUnsafeBufferPointer { (keyTable) throws(DotEnvError) in
        var scanner = DotEnvScanner(bytes: buffer, keyTable: keyTable, target: key)
        return try scanner.run()
      }
    }
  }

  private init(bytes: UnsafeBufferPointer<UInt8>, keyTable: UnsafeBufferPointer<UInt8>, target: [UInt8]) {
    self.bytes = bytes
    self.keyTable = keyTable
    self.target = target
  }

  private mutating func run() throws(DotEnvError) -> DotEnvScan {
    try refuseLoneCarriageReturns()
    if bytes.starts(with: DotEnvByte.byteOrderMark) { index = DotEnvByte.byteOrderMark.count }
    while index < bytes.count {
      try scanLine()
    }
    return scan
  }

  /// Throws at the first carriage return not followed by a line feed: Node dotenv and python-dotenv
  /// read one as a line break, this scanner (and others) do not, so such a file is refused.
  private func refuseLoneCarriageReturns() throws(DotEnvError) {
    guard let base = bytes.baseAddress else { return }
    var index = 0
    // memchr finds each carriage return (most files have none, or only CRLFs).
    while index < bytes.count,
      let found = memchr(base + index, Int32(DotEnvByte.carriageReturn), bytes.count - index)
    {
      let offset = UnsafeRawPointer(found) - UnsafeRawPointer(base)
      if offset + 1 == bytes.count || bytes[offset + 1] != DotEnvByte.newline {
        let line = bytes[..<offset].reduce(1) { $0 + ($1 == DotEnvByte.newline ? 1 : 0) }
        throw .loneCarriageReturn(line: line)
      }
      index = offset + 2
    }
  }

  /// The key's byte range when the line from `start` is `[blanks][export blanks]KEY[blanks]`,
  /// maybe followed by a comment: a key with no `=`.
  private func bareKey(at start: Int) -> Range<Int>? {
    var index = start
    while index < bytes.count, DotEnvByte.isBlank(bytes[index]) { index += 1 }
    var candidates = [index]
    let exportEnd = index + DotEnvByte.export.count
    if exportEnd < bytes.count, bytes[index..<exportEnd].elementsEqual(DotEnvByte.export),
      DotEnvByte.isBlank(bytes[exportEnd])
    {
      var afterExport = exportEnd
      while afterExport < bytes.count, DotEnvByte.isBlank(bytes[afterExport]) { afterExport += 1 }
      candidates.insert(afterExport, at: 0)
    }
    for keyStart in candidates {
      var keyEnd = keyStart
      while keyEnd < bytes.count, keyTable[Int(bytes[keyEnd])] != 0 { keyEnd += 1 }
      guard keyEnd > keyStart else { continue }
      var after = keyEnd
      while after < bytes.count, DotEnvByte.isBlank(bytes[after]) { after += 1 }
      if after == bytes.count || bytes[after] == DotEnvByte.newline
        || bytes[after] == DotEnvByte.carriageReturn
        || bytes[after] == DotEnvByte.hash
      {
        return keyStart..<keyEnd
      }
    }
    return nil
  }

  /// What other dotenv parsers read as the start of an assignment when this scanner does not
  /// (`KEY: value` for Node dotenv, godotenv, compose-go and Ruby dotenv; keys with other
  /// characters, such as non-ASCII letters or brackets, for python-dotenv): the key's byte range
  /// and the index just after its `=` or `:`. Only used to follow a quoted value such a line may
  /// open across lines, so that no line inside it is taken for an assignment.
  private func looseHead(at start: Int) -> (key: Range<Int>, afterSeparator: Int, colon: Bool)? {
    var index = start
    while index < bytes.count, DotEnvByte.isBlank(bytes[index]) { index += 1 }
    let exportEnd = index + DotEnvByte.export.count
    if exportEnd < bytes.count, bytes[index..<exportEnd].elementsEqual(DotEnvByte.export),
      DotEnvByte.isBlank(bytes[exportEnd])
    {
      var afterExport = exportEnd
      while afterExport < bytes.count, DotEnvByte.isBlank(bytes[afterExport]) { afterExport += 1 }
      if let head = looseKeyAndSeparator(at: afterExport) { return head }
    }
    return looseKeyAndSeparator(at: index)
  }

  private func looseKeyAndSeparator(at start: Int) -> (key: Range<Int>, afterSeparator: Int, colon: Bool)? {
    var index = start
    var firstColon: Int?
    while index < bytes.count {
      let byte = bytes[index]
      if DotEnvByte.isBlank(byte) || byte == DotEnvByte.equals || byte == DotEnvByte.hash
        || byte == DotEnvByte.newline || byte == DotEnvByte.carriageReturn
      {
        break
      }
      if byte == DotEnvByte.colon, firstColon == nil { firstColon = index }
      index += 1
    }
    guard index > start else { return nil }
    var after = index
    while after < bytes.count, DotEnvByte.isBlank(bytes[after]) { after += 1 }
    if after < bytes.count, bytes[after] == DotEnvByte.equals {
      return (start..<index, after + 1, false)
    }
    if let firstColon {
      guard firstColon > start else { return nil }
      return (start..<firstColon, firstColon + 1, true)
    }
    if after < bytes.count, bytes[after] == DotEnvByte.colon {
      return (start..<index, after + 1, true)
    }
    return nil
  }

  /// The key's byte range and the index just after `=` when an assignment starts at `start`
  /// (`[blanks][export blanks]KEY[blanks]=`).
  private func assignmentHead(at start: Int) -> (
    key: Range<Int>, afterEquals: Int
  )? {
    var index = start
    while index < bytes.count, DotEnvByte.isBlank(bytes[index]) { index += 1 }
    let exportEnd = index + DotEnvByte.export.count
    if exportEnd < bytes.count, bytes[index] == DotEnvByte.export[0],
      bytes[index..<exportEnd].elementsEqual(DotEnvByte.export), DotEnvByte.isBlank(bytes[exportEnd])
    {
      var afterExport = exportEnd
      while afterExport < bytes.count, DotEnvByte.isBlank(bytes[afterExport]) { afterExport += 1 }
      if let head = keyAndEquals(at: afterExport) { return head }
    }
    return keyAndEquals(at: index)
  }

  private func keyAndEquals(at start: Int) -> (
    key: Range<Int>, afterEquals: Int
  )? {
    var index = start
    while index < bytes.count, keyTable[Int(bytes[index])] != 0 { index += 1 }
    guard index > start else { return nil }
    let key = start..<index
    while index < bytes.count, DotEnvByte.isBlank(bytes[index]) { index += 1 }
    guard index < bytes.count, bytes[index] == DotEnvByte.equals else { return nil }
    return (key, index + 1)
  }

  /// True when the key at `range` is the one this scan records.
  private func records(_ range: Range<Int>) -> Bool {
    guard range.count == target.count else { return false }
    var index = range.lowerBound
    for byte in target {
      if bytes[index] != byte { return false }
      index += 1
    }
    return true
  }

  /// The key at `range` as text (only for what is recorded or thrown).
  private func text(_ range: Range<Int>) -> String {
    String(decoding: bytes[range], as: UTF8.self)
  }

  private mutating func scanLine() throws(DotEnvError) {
    guard let head = assignmentHead(at: index) else {
      // Not an assignment here, but maybe for another parser: a quoted value it opens is
      // followed all the same, and the key itself in that form is recorded (and refused).
      if let bare = bareKey(at: index), records(bare) { scan.bareKeys.append(line) }
      if scanQuotedKey() { return }
      if let loose = looseHead(at: index) {
        if loose.colon, records(loose.key) { scan.colonAssignments.append(line) }
        index = loose.afterSeparator
        while index < bytes.count, DotEnvByte.isBlank(bytes[index]) { index += 1 }
        if index < bytes.count, let quote = DotEnvQuote(rawValue: bytes[index]), quote != .none {
          try scanQuoted(key: loose.key, quote: quote, recorded: false)
          return
        }
      }
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

  private mutating func scanQuoted(key: Range<Int>, quote: DotEnvQuote, recorded: Bool = true)
    throws(DotEnvError)
  {
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
        if let inner = assignmentHead(at: index), records(inner.key) {
          scan.shadowed.append(
            DotEnvShadowedAssignment(
              key: text(inner.key), line: line, enclosingKey: text(key), enclosingLine: openLine))
        }
      }
    }
    guard index < bytes.count else {
      throw .unterminatedQuote(key: text(key), line: openLine, quote: quote.text)
    }
    let contentEnd = index
    index += 1
    // After the closing quote dotenv allows only blanks and a comment; with anything else it
    // reads the line as an unquoted value, and a multi-line value then ends on its first line.
    var after = index
    while after < bytes.count, DotEnvByte.isBlank(bytes[after]) { after += 1 }
    var textAfterQuote = false
    if after < bytes.count {
      let next = bytes[after]
      textAfterQuote =
        next != DotEnvByte.newline && next != DotEnvByte.carriageReturn && next != DotEnvByte.hash
    }
    if textAfterQuote, line != openLine {
      throw .textAfterClosingQuote(key: text(key), line: openLine, quote: quote.text)
    }
    if recorded, records(key) {
      scan.assignments.append(
        DotEnvAssignment(
          key: text(key), line: openLine, quote: quote, contentRange: contentStart..<contentEnd,
          valueRange: open..<index, textAfterQuote: textAfterQuote))
    }
    skipRestOfLine()
  }

  /// python-dotenv reads a key in single quotes (`'KEY'=value`), and those quotes may span
  /// lines: an assignment of the target key on a line inside such a span is recorded as
  /// shadowed, as one inside a multi-line value is. True when a span was followed.
  private mutating func scanQuotedKey() -> Bool {
    var open = index
    while open < bytes.count, DotEnvByte.isBlank(bytes[open]) { open += 1 }
    let quote = DotEnvQuote.single.rawValue
    guard open < bytes.count, bytes[open] == quote,
      let close = bytes[(open + 1)...].firstIndex(of: quote),
      let firstBreak = bytes[open..<close].firstIndex(of: DotEnvByte.newline)
    else { return false }
    var enclosingEnd = firstBreak
    if enclosingEnd > open, bytes[enclosingEnd - 1] == DotEnvByte.carriageReturn { enclosingEnd -= 1 }
    let enclosing = text(open..<enclosingEnd)
    let openLine = line
    var cursor = firstBreak
    while cursor < close {
      if bytes[cursor] == DotEnvByte.newline {
        line += 1
        if let inner = assignmentHead(at: cursor + 1), records(inner.key) {
          scan.shadowed.append(
            DotEnvShadowedAssignment(
              key: text(inner.key), line: line, enclosingKey: enclosing, enclosingLine: openLine))
        }
      }
      cursor += 1
    }
    index = close + 1
    skipRestOfLine()
    return true
  }

  private mutating func scanUnquoted(key: Range<Int>, afterEquals: Int) {
    // An unquoted value never goes past its line: unless it is recorded, its end does not matter.
    guard records(key) else {
      skipRestOfLine()
      return
    }
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
      DotEnvAssignment(key: text(key), line: line, quote: .none, contentRange: range, valueRange: range))
    index = cursor
    skipRestOfLine()
  }

  private mutating func skipRestOfLine() {
    // Eight bytes at a time while none of them is a line feed (a zero byte of `word ^ 0x0A…`).
    if let base = bytes.baseAddress {
      let raw = UnsafeRawPointer(base)
      while index + 8 <= bytes.count {
        let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
        let x = word ^ 0x0A0A_0A0A_0A0A_0A0A
        if (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 != 0 { break }
        index += 8
      }
    }
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
