/// A place in a runbook file: 1-based line and column (columns count Unicode scalars).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
  /// The file as the user named it.
  public var file: String
  /// 1-based line number.
  public var line: Int
  /// 1-based column number.
  public var column: Int

  /// Creates a location.
  public init(file: String, line: Int, column: Int) {
    self.file = file
    self.line = line
    self.column = column
  }

  /// `FILE:LINE:COL`.
  public var description: String { "\(file):\(line):\(column)" }

  /// The same location moved right by `offset` columns.
  public func advanced(by offset: Int) -> SourceLocation {
    SourceLocation(file: file, line: line, column: column + offset)
  }
}

/// A value together with the place it was written.
public struct Located<Value: Sendable>: Sendable {
  /// The value as read from the runbook.
  public var value: Value
  /// Where it was written.
  public var location: SourceLocation

  /// Creates a located value.
  public init(_ value: Value, at location: SourceLocation) {
    self.value = value
    self.location = location
  }
}

extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}

/// One problem found in a runbook.
public struct Diagnostic: Error, Sendable, Equatable, CustomStringConvertible {
  /// How serious the problem is.
  public enum Severity: String, Sendable, Equatable {
    /// The runbook cannot be used.
    case error
    /// The runbook works but probably not as intended.
    case warning
  }

  /// Error or warning.
  public var severity: Severity
  /// Where the problem is.
  public var location: SourceLocation
  /// What is wrong, in lowercase words.
  public var message: String

  /// Creates a diagnostic.
  public init(_ severity: Severity, at location: SourceLocation, _ message: String) {
    self.severity = severity
    self.location = location
    self.message = message
  }

  /// `FILE:LINE:COL: error: message`.
  public var description: String { "\(location): \(severity.rawValue): \(message)" }

  /// The diagnostic followed by the source line and a caret under the column.
  public func rendered(source: String?) -> String {
    guard let source, let text = Self.line(location.line, of: source) else { return description }
    let prefix = text.unicodeScalars.prefix(max(0, location.column - 1))
    let padding = String(prefix.map { $0 == "\t" ? "\t" : " " }.joined())
    return "\(description)\n\(text)\n\(padding)^"
  }

  /// Line `number` of `source`, counting lines as YAML does (see ``lineLengths(of:)``).
  static func line(_ number: Int, of source: String) -> String? {
    guard number >= 1 else { return nil }
    var found: String?
    var current = 0
    forEachLine(of: source) { bytes, range, _ in
      current += 1
      guard current == number else { return true }
      found = String(decoding: bytes[range], as: UTF8.self)
      return false
    }
    return found
  }

  /// The length in characters (Unicode scalars, as YAML columns count) of each line of
  /// `source`. LF, CRLF, CR, NEL, LS and PS end a line, as in YAML; a final line break
  /// leaves an empty last line.
  static func lineLengths(of source: String) -> [Int] {
    var lengths: [Int] = []
    forEachLine(of: source) { _, _, scalars in
      lengths.append(scalars)
      return true
    }
    return lengths
  }

  /// Calls `body` with the UTF-8 bytes, the byte range and the number of scalars of each
  /// line, in order, until it returns false. Works on bytes: a multi-MiB line costs little.
  static func forEachLine(
    of source: String, _ body: (UnsafeBufferPointer<UInt8>, Range<Int>, Int) -> Bool
  ) {
    func scan(_ bytes: UnsafeBufferPointer<UInt8>) {
      var start = 0
      var scalars = 0
      var index = 0
      let count = bytes.count
      while index < count {
        let byte = bytes[index]
        var breakLength = 0
        if byte == 0x0A {
          breakLength = 1
        } else if byte == 0x0D {
          breakLength = index + 1 < count && bytes[index + 1] == 0x0A ? 2 : 1
        } else if byte == 0xC2, index + 1 < count, bytes[index + 1] == 0x85 {
          breakLength = 2
        } else if byte == 0xE2, index + 2 < count, bytes[index + 1] == 0x80,
          bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9
        {
          breakLength = 3
        }
        if breakLength > 0 {
          if !body(bytes, start..<index, scalars) { return }
          index += breakLength
          start = index
          scalars = 0
        } else {
          if byte & 0xC0 != 0x80 { scalars += 1 }
          index += 1
        }
      }
      _ = body(bytes, start..<count, scalars)
    }
    var text = source
    text.withUTF8 { scan($0) }
  }

  /// The same diagnostic with its place moved into `source` when it lies outside: past the
  /// end of its line (an offset counted through a multi-line scalar) or past the last line
  /// (the parser's end of input after a last line without a line break).
  func clamped(toLines lengths: [Int]) -> Diagnostic {
    guard !lengths.isEmpty else { return self }
    var copy = self
    let line = min(max(location.line, 1), lengths.count)
    copy.location.line = line
    copy.location.column = min(max(location.column, 1), lengths[line - 1] + 1)
    if location.line > lengths.count { copy.location.column = lengths[line - 1] + 1 }
    return copy
  }
}

/// Collects diagnostics while a runbook is read and checked.
public struct DiagnosticBag: Sendable {
  /// Everything found so far, in the order found.
  public private(set) var all: [Diagnostic] = []

  /// Creates an empty bag.
  public init() {}

  /// Records an error.
  public mutating func error(_ location: SourceLocation, _ message: String) {
    all.append(Diagnostic(.error, at: location, message))
  }

  /// Records a warning.
  public mutating func warning(_ location: SourceLocation, _ message: String) {
    all.append(Diagnostic(.warning, at: location, message))
  }

  /// Adds diagnostics found elsewhere.
  public mutating func append(contentsOf other: [Diagnostic]) {
    all.append(contentsOf: other)
  }

  /// The errors only.
  public var errors: [Diagnostic] { all.filter { $0.severity == .error } }
  /// The warnings only.
  public var warnings: [Diagnostic] { all.filter { $0.severity == .warning } }
  /// Whether any error was found.
  public var hasErrors: Bool { all.contains { $0.severity == .error } }

  /// All diagnostics ordered by file, line and column (stable for equal places).
  public var sorted: [Diagnostic] {
    all.enumerated().sorted { lhs, rhs in
      let l = lhs.element.location
      let r = rhs.element.location
      if l.file != r.file { return l.file < r.file }
      if l.line != r.line { return l.line < r.line }
      if l.column != r.column { return l.column < r.column }
      return lhs.offset < rhs.offset
    }.map(\.element)
  }
}

/// Suggests the closest known word for a misspelt one.
public enum Suggest {
  /// The candidate nearest to `word` if it is close enough to be a likely typo.
  public static func closest(to word: String, in candidates: [String]) -> String? {
    let lower = word.lowercased()
    let wordLength = lower.unicodeScalars.count
    var best: (String, Int)?
    for candidate in candidates {
      // The distance is at least the difference in length, and more than 3 is never
      // suggested: skip the quadratic table (a runbook may hold a megabyte-long key).
      guard abs(wordLength - candidate.unicodeScalars.count) <= 3 else { continue }
      let distance = editDistance(lower, candidate.lowercased())
      if best == nil || distance < (best?.1 ?? Int.max) { best = (candidate, distance) }
    }
    guard let (candidate, distance) = best else { return nil }
    let length = max(word.count, candidate.count)
    let limit = length <= 3 ? 1 : (length <= 8 ? 2 : 3)
    return distance <= limit ? candidate : nil
  }

  /// `; did you mean 'x'?` or the empty string.
  static func hint(for word: String, in candidates: [String]) -> String {
    closest(to: word, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
  }

  /// Edit distance counting a swap of two neighbours as one edit.
  static func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars)
    let b = Array(b.unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { table[i][0] = i }
    for j in 0...b.count { table[0][j] = j }
    for i in 1...a.count {
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
        if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
          table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
        }
      }
    }
    return table[a.count][b.count]
  }
}

/// Diagnostics thrown or returned together.
public struct DiagnosticList: Error, Sendable {
  /// Every diagnostic, in the order found (file order for the loader).
  public var diagnostics: [Diagnostic]

  /// Wraps diagnostics.
  public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
}
