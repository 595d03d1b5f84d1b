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
  /// The value.
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

  static func line(_ number: Int, of source: String) -> String? {
    guard number >= 1 else { return nil }
    var current = 1
    for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
      if current == number {
        var text = String(line)
        if text.hasSuffix("\r") { text.removeLast() }
        return text
      }
      current += 1
    }
    return nil
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
enum Suggest {
  /// The candidate nearest to `word` if it is close enough to be a likely typo.
  static func closest(to word: String, in candidates: [String]) -> String? {
    let lower = word.lowercased()
    var best: (String, Int)?
    for candidate in candidates {
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
  /// The diagnostics.
  public var diagnostics: [Diagnostic]

  /// Wraps diagnostics.
  public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
}
