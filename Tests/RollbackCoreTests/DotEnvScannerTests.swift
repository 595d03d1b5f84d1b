import Testing

@testable import RollbackCore

/// The scan for one key (what every edit and read uses) against the full scan it replaced:
/// the same assignments and shadowed lines for that key, and the same error, byte for byte.
@Suite("scanning a dotenv file for one key")
struct DotEnvScannerTests {
  /// What a scan gives, as one comparable value.
  enum Outcome: Equatable {
    case scanned(DotEnvScan)
    case failed(DotEnvError)
  }

  static func keyed(_ bytes: [UInt8], _ key: String) -> Outcome {
    do { return .scanned(try DotEnvScanner.scan(bytes, key: Array(key.utf8))) } catch {
      return .failed(error)
    }
  }

  /// The reference: the scanner as it was before the keyed scan, every key kept.
  static func reference(_ bytes: [UInt8]) -> Result<ReferenceDotEnvScanner.Full, DotEnvError> {
    do { return .success(try ReferenceDotEnvScanner.scan(bytes)) } catch { return .failure(error) }
  }

  /// The reference's outcome for one key: its full scan filtered to that key.
  static func filtered(_ full: Result<ReferenceDotEnvScanner.Full, DotEnvError>, _ key: String) -> Outcome {
    switch full {
    case .success(let full):
      return .scanned(
        DotEnvScan(
          assignments: full.scan.assignments.filter { $0.key == key },
          shadowed: full.scan.shadowed.filter { $0.key == key },
          colonAssignments: full.colons.filter { $0.key == key }.map(\.line),
          bareKeys: full.bareKeys.filter { $0.key == key }.map(\.line)))
    case .failure(let error):
      return .failed(error)
    }
  }

  static func reference(_ bytes: [UInt8], _ key: String) -> Outcome { filtered(reference(bytes), key) }

  /// The keys worth asking for in `bytes`: every key the reference saw (assigned or shadowed),
  /// prefixes and extensions of them, and a few that are not there.
  static func candidateKeys(_ bytes: [UInt8], _ full: Result<ReferenceDotEnvScanner.Full, DotEnvError>)
    -> [String]
  {
    var keys: Set<String> = [
      DotEnvFuzzer.key, "NEW_KEY", "A", "export", "NEXT_PUBLIC_USE_BACKEND_AP", "CERT",
    ]
    if case .success(let full) = full {
      let scan = full.scan
      for key in scan.assignments.map(\.key) + scan.shadowed.map(\.key) + full.colons.map(\.key) {
        keys.insert(key)
        keys.insert(String(key.dropLast()))
        keys.insert(key + "X")
      }
    }
    keys.formUnion(DotEnvFuzzer.keys(in: bytes))
    // Only keys the editor accepts are ever looked up.
    return keys.filter { !$0.isEmpty && $0.utf8.allSatisfy(DotEnvByte.isKey) }.sorted()
  }

  @Test("mutated dotenv files: the keyed scan finds what the full scan found for that key")
  func mutatedFiles() {
    var rng = FuzzRandom(seed: 0x5CA7_0001)
    var mismatches: [String] = []
    var compared = 0
    for _ in 0..<1000 {
      let (kind, bytes) = DotEnvFuzzer.mutate(rng.pick(DotEnvFuzzer.seeds), &rng)
      let full = Self.reference(bytes)
      for key in Self.candidateKeys(bytes, full) {
        compared += 1
        let expected = Self.filtered(full, key)
        let got = Self.keyed(bytes, key)
        if got != expected, mismatches.count < 5 {
          mismatches.append("\(kind) \(key) in \(String(decoding: bytes, as: UTF8.self).debugDescription)")
        }
      }
    }
    #expect(compared > 1000)
    #expect(mismatches.isEmpty, "\(mismatches)")
  }

  @Test(
    "the cases that shape a scan",
    arguments: [
      "A=1\nNEXT=true\nB=2\n",
      "NEXT=1\nNEXT=2\nNEXTX=3\nNEX=4\n",
      "K='a\nexport NEXT=1\n'\nNEXT=2\n",
      "K=\"a\n  NEXT = 1\nNEXT=2\n\"\n",
      "P=\"a\nb\" c\nK=true\n",
      "A=1\nNEXT=`true`\\\nB=2\n",
      "X='abc",
      "NEXT=\"open\nA=1\n",
      "\u{FEFF}export NEXT = \"true\" # c\r\nexport  OTHER=1",
      "NEXT=a#b c #d\nE= \nF=\n=G\n",
      "NEXT=\"esc \\\" \\\\\" NEXT=x\n",
      "CERT: \"line1\nNEXT=true\nline3\"\nA=1\n",
      "CLÉ='a\nNEXT=1\n'\nL[0]=`b\nNEXT=2`\n",
      "NEXT: 1\nexport NEXT :2\nhttp://x\n:\"y\n",
      "A=1\rNEXT=true\r",
      "NEXT\n=true\nexport NEXT # c\n  NEXT\t\r\nexport\nNEXTA\n",
      "A=1\r\nNEXT=\"x\ry\"\r\n",
      "",
    ])
  func shapes(_ text: String) {
    let bytes = Array(text.utf8)
    for key in Self.candidateKeys(bytes, Self.reference(bytes)) + ["NEXT", "K", "P", "X", "OTHER"] {
      #expect(Self.keyed(bytes, key) == Self.reference(bytes, key), "key \(key)")
    }
  }

  @Test("the table of key bytes says what isKey says, for every byte value")
  func keyTable() {
    #expect(DotEnvByte.keyTable.count == 256)
    for value in 0...255 {
      #expect((DotEnvByte.keyTable[value] != 0) == DotEnvByte.isKey(UInt8(value)), "byte \(value)")
    }
  }

  @Test("a large file: the one key found, the whole file walked, an error at its end still seen")
  func largeFile() {
    var lines: [String] = []
    for index in 0..<20_000 {
      switch index % 5 {
      case 0: lines.append("# block \(index)")
      case 1: lines.append("export KEY_\(index)=\"multi\nline NEXT=1\n value\"")
      case 2: lines.append("KEY_\(index) = 'single' # c")
      case 3: lines.append(index == 10_003 ? "NEXT=true" : "KEY_\(index)=plain value #c")
      default: lines.append("")
      }
    }
    let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
    for key in ["NEXT", "KEY_1", "KEY_19998", "ABSENT"] {
      #expect(Self.keyed(bytes, key) == Self.reference(bytes, key), "key \(key)")
    }
    let broken = bytes + Array("LAST='never closed\n".utf8)
    #expect(Self.keyed(broken, "NEXT") == .failed(.unterminatedQuote(key: "LAST", line: 28_001, quote: "'")))
    #expect(Self.keyed(broken, "NEXT") == Self.reference(broken, "NEXT"))
  }
}

/// The scanner as it was before the keyed scan (every key kept as a `String`), verbatim: the
/// oracle the keyed scan is compared with.
///
/// Since then: a lone carriage return is refused, and lines other parsers read as assignments
/// (`KEY: value`, keys with other characters) open quoted values that are followed too.
struct ReferenceDotEnvScanner {
  /// Every key's assignments, and the `KEY:` lines.
  struct Full {
    var scan = DotEnvScan()
    var colons: [(key: String, line: Int)] = []
    var bareKeys: [(key: String, line: Int)] = []
  }

  private let bytes: [UInt8]
  private var index = 0
  private var line = 1
  private var scan = DotEnvScan()
  private var colons: [(key: String, line: Int)] = []
  private var bareKeys: [(key: String, line: Int)] = []

  /// Scans `bytes`; throws when a quote is still open at the end of the file.
  static func scan(_ bytes: [UInt8]) throws(DotEnvError) -> Full {
    for (offset, byte) in bytes.enumerated() where byte == 13 && bytes.dropFirst(offset + 1).first != 10 {
      throw .loneCarriageReturn(line: bytes[..<offset].filter { $0 == 10 }.count + 1)
    }
    var scanner = ReferenceDotEnvScanner(bytes: bytes)
    let scan = try scanner.run()
    return Full(scan: scan, colons: scanner.colons, bareKeys: scanner.bareKeys)
  }

  /// The key when the line from `start` is a key alone (`[export ]KEY`, maybe a comment after).
  static func bareKey(in bytes: [UInt8], at start: Int) -> String? {
    let lineEnd = bytes[start...].firstIndex(of: 10) ?? bytes.count
    var text = String(decoding: bytes[start..<lineEnd], as: UTF8.self)
    if text.hasSuffix("\r") { text.removeLast() }
    if let hash = text.firstIndex(of: "#") { text = String(text[..<hash]) }
    var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    if words.count == 2, words[0] == "export" { words.removeFirst() }
    guard words.count == 1, let key = words.first, key.utf8.allSatisfy(DotEnvByte.isKey) else { return nil }
    return key
  }

  /// The line from `start` as other parsers may read it: `[blanks][export blanks]KEY[blanks]=`
  /// with any bytes but blanks, `=`, `#` and line ends in KEY, or `...KEY[blanks]:` with no `:` in
  /// KEY either.
  static func looseHead(in bytes: [UInt8], at start: Int) -> (key: String, afterSeparator: Int, colon: Bool)?
  {
    let lineEnd = bytes[start...].firstIndex(of: 10) ?? bytes.count
    let text = Array(bytes[start..<lineEnd])
    var candidates: [Int] = []
    let first = text.firstIndex { $0 != 32 && $0 != 9 } ?? text.count
    if text[first...].starts(with: Array("export".utf8)), first + 6 < text.count,
      [32, 9].contains(text[first + 6])
    {
      candidates.append(text[(first + 6)...].firstIndex { $0 != 32 && $0 != 9 } ?? text.count)
    }
    candidates.append(first)
    for keyStart in candidates {
      let keyEnd = text[keyStart...].firstIndex { [32, 9, 61, 35, 13].contains($0) } ?? text.count
      if keyEnd == keyStart { continue }
      let afterBlanks = text[keyEnd...].firstIndex { $0 != 32 && $0 != 9 } ?? text.count
      if afterBlanks < text.count, text[afterBlanks] == 61 {
        return (String(decoding: text[keyStart..<keyEnd], as: UTF8.self), start + afterBlanks + 1, false)
      }
      if let colon = text[keyStart..<keyEnd].firstIndex(of: 58) {
        if colon == keyStart { continue }
        return (String(decoding: text[keyStart..<colon], as: UTF8.self), start + colon + 1, true)
      }
      if afterBlanks < text.count, text[afterBlanks] == 58 {
        return (String(decoding: text[keyStart..<keyEnd], as: UTF8.self), start + afterBlanks + 1, true)
      }
    }
    return nil
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
      if let bare = Self.bareKey(in: bytes, at: index) { bareKeys.append((bare, line)) }
      if let loose = Self.looseHead(in: bytes, at: index) {
        if loose.colon { colons.append((loose.key, line)) }
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

  private mutating func scanQuoted(key: String, quote: DotEnvQuote, recorded: Bool = true) throws(DotEnvError)
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
    if recorded {
      scan.assignments.append(
        DotEnvAssignment(
          key: key, line: openLine, quote: quote, contentRange: contentStart..<contentEnd,
          valueRange: open..<index, textAfterQuote: textAfterQuote))
    }
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
