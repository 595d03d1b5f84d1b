import Foundation

/// SQL with every placeholder turned into a bound parameter (`$1`, `$2`…).
public struct ParameterizedSQL: Sendable, Equatable {
  /// The statement with `$n` where the placeholders were.
  public var query: String
  /// The values of `$1`, `$2`…, in order (secrets resolved when the context resolves them).
  public var parameters: [String]
  /// The statement as it may be shown: the placeholders' shown values in place.
  public var display: String
  /// Whether a parameter holds a secret.
  public var hasSecret: Bool

  /// Creates a parameterized statement.
  public init(query: String, parameters: [String], display: String, hasSecret: Bool) {
    self.query = query
    self.parameters = parameters
    self.display = display
    self.hasSecret = hasSecret
  }
}

/// Turning placeholders in SQL into bound parameters, so a value is never SQL.
///
/// A placeholder outside quotes becomes `$n`. A string literal holding only a placeholder
/// (`'${v}'`, quotes included) becomes `$n`, so runbooks written with quotes keep working;
/// a literal with a placeholder among other text becomes a concatenation
/// (`'%${v}%'` runs as `('%' || $1::text || '%')`), and a typed literal a cast
/// (`interval '${n} minutes'` runs as `CAST(($1::text || ' minutes') AS interval)`).
/// A placeholder in a comment is left
/// as written. Identifiers cannot be parameters: a placeholder inside `"…"` or inside a
/// dollar-quoted body (`$$…$$`) is refused, and one used unquoted where SQL expects a
/// name makes the statement fail at the server.
public enum SQLInterpolation {
  private enum Item {
    case character(Character)
    case placeholder(Template.Part)
  }

  /// The result of scanning a template: the pieces to emit, in order.
  enum Piece {
    case text(String)
    case parameter(Template.Part, cast: Bool)
    case problem(String)
  }

  /// Why placeholders in `template` cannot become parameters.
  public static func problems(in template: Template) -> [String] {
    pieces(of: template).compactMap { if case .problem(let text) = $0 { return text } else { return nil } }
  }

  static func pieces(of template: Template) -> [Piece] {
    var items: [Item] = []
    for part in template.parts {
      if case .literal(let text) = part {
        items += text.map(Item.character)
      } else {
        items.append(.placeholder(part))
      }
    }
    var scanner = Scanner(items: items)
    return scanner.scan()
  }

  /// One pass over a template's characters and placeholders, emitting pieces.
  private struct Scanner {
    let items: [Item]
    var pieces: [Piece] = []
    var text = ""
    var index = 0
    var previous: Character = " "

    init(items: [Item]) {
      self.items = items
    }

    mutating func flush() {
      if !text.isEmpty { pieces.append(.text(text)) }
      text = ""
    }

    func character(_ index: Int) -> Character? {
      guard index < items.count, case .character(let found) = items[index] else { return nil }
      return found
    }

    func literalText(_ item: Item) -> String { SQLInterpolation.literalText(item) }

    mutating func scan() -> [Piece] {
      while index < items.count {
        guard case .character(let current) = items[index] else {
          if case .placeholder(let part) = items[index] {
            flush()
            pieces.append(.parameter(part, cast: false))
          }
          previous = "x"
          index += 1
          continue
        }
        let next = character(index + 1)
        if current == "-", next == "-" {
          lineComment()
        } else if current == "/", next == "*" {
          blockComment()
        } else if current == "\"" {
          quotedIdentifier()
        } else if current == "$", let tagEnd = dollarTagEnd(items, from: index) {
          dollarQuoted(tagEnd: tagEnd)
        } else if current == "'" {
          stringLiteral()
        } else {
          text.append(current)
          previous = current
          index += 1
        }
      }
      flush()
      return pieces
    }

    /// A line comment: copied, placeholders as written.
    mutating func lineComment() {
      // A line comment: copied, placeholders as written.
      while index < items.count, character(index) != "\n" {
        text += literalText(items[index])
        index += 1
      }
    }

    /// A block comment (nested ones too): copied, placeholders as written.
    mutating func blockComment() {
      var depth = 0
      while index < items.count {
        let here = character(index)
        let after = character(index + 1)
        if here == "/", after == "*" {
          depth += 1
          text += "/*"
          index += 2
          continue
        }
        if here == "*", after == "/" {
          depth -= 1
          text += "*/"
          index += 2
          if depth == 0 { break }
          continue
        }
        text += literalText(items[index])
        index += 1
      }
    }

    /// A quoted identifier: a placeholder inside is a problem.
    mutating func quotedIdentifier() {
      // A quoted identifier.
      var end = index + 1
      var inside: [Item] = []
      while end < items.count {
        if character(end) == "\"" {
          if character(end + 1) == "\"" {
            inside.append(items[end])
            inside.append(items[end + 1])
            end += 2
            continue
          }
          break
        }
        inside.append(items[end])
        end += 1
      }
      for case .placeholder(let part) in inside {
        pieces.append(
          .problem(
            "\(ShellInterpolation.placeholderText(part)) sits inside a quoted identifier in SQL; "
              + "identifiers (table and column names) cannot be bound parameters, write the name itself"))
      }
      text += "\"" + inside.map(literalText).joined() + (end < items.count ? "\"" : "")
      index = end + 1
      previous = "\""
    }

    /// A dollar-quoted body: a placeholder inside is a problem.
    mutating func dollarQuoted(tagEnd: Int) {
      let tag = (index...tagEnd).compactMap { character($0) }
      var end = tagEnd + 1
      var inside: [Item] = []
      while end < items.count {
        if character(end) == "$", end + tag.count <= items.count,
          (0..<tag.count).allSatisfy({ character(end + $0) == tag[$0] })
        {
          break
        }
        inside.append(items[end])
        end += 1
      }
      for case .placeholder(let part) in inside {
        pieces.append(
          .problem(
            "\(ShellInterpolation.placeholderText(part)) sits inside a dollar-quoted string in SQL, "
              + "which cannot hold bound parameters; move the value out of the $$…$$ body"))
      }
      text += String(tag) + inside.map(literalText).joined()
      if end < items.count { text += String(tag) }
      index = end + tag.count
      previous = "$"
    }

    /// The literal's text from `start` to its closing quote (or the end), split at its
    /// placeholders: the index of the quote, the segments around the placeholders, the placeholders.
    func literalSegments(from start: Int, escapes: Bool)
      -> (end: Int, segments: [[Item]], placeholders: [Template.Part])
    {
      var end = start
      var segments: [[Item]] = [[]]
      var placeholders: [Template.Part] = []
      while end < items.count {
        if case .placeholder(let part) = items[end] {
          placeholders.append(part)
          segments.append([])
          end += 1
          continue
        }
        let here = character(end)
        if escapes, here == "\\", end + 1 < items.count {
          segments[segments.count - 1] += [items[end], items[end + 1]]
          end += 2
          continue
        }
        if here == "'" {
          if character(end + 1) == "'" {
            segments[segments.count - 1] += [items[end], items[end + 1]]
            end += 2
            continue
          }
          break
        }
        segments[segments.count - 1].append(items[end])
        end += 1
      }
      return (end, segments, placeholders)
    }

    /// A literal with placeholders as a concatenation: `('a' || $1 || 'b')`, each parameter cast.
    mutating func concatenate(_ segments: [[Item]], _ placeholders: [Template.Part], escapes: Bool) {
      if escapes { text.removeLast() }
      text += "("
      var first = true
      for (offset, segment) in segments.enumerated() {
        if !segment.isEmpty {
          if !first { text += " || " }
          text += (escapes ? "E'" : "'") + segment.map(literalText).joined() + "'"
          first = false
        }
        if offset < placeholders.count {
          if !first { text += " || " }
          flush()
          pieces.append(.parameter(placeholders[offset], cast: true))
          first = false
        }
      }
      text += ")"
    }

    /// A string literal; E'…' strings also take backslash escapes.
    mutating func stringLiteral() {
      // A string literal; E'…' strings also take backslash escapes.
      let escapes = (previous == "E" || previous == "e") && isEscapePrefix(text)
      let (end, segments, placeholders) = literalSegments(from: index + 1, escapes: escapes)
      let closed = end < items.count
      // `interval '${n} minutes'` takes a constant; a parameter needs CAST(… AS interval).
      var typeName: String?
      if !placeholders.isEmpty, closed, !escapes, let found = typedLiteralPrefix(text) {
        typeName = found.name
        text = String(text.prefix(found.start))
        text += "CAST("
      }
      if placeholders.isEmpty {
        text += "'" + segments[0].map(literalText).joined() + (closed ? "'" : "")
      } else if !closed {
        pieces.append(.problem("a placeholder sits in an unterminated string literal in SQL"))
      } else if segments.allSatisfy(\.isEmpty), placeholders.count == 1 {
        if escapes { text.removeLast() }
        flush()
        pieces.append(.parameter(placeholders[0], cast: false))
      } else {
        concatenate(segments, placeholders, escapes: escapes)
      }
      if let typeName { text += " AS \(typeName))" }
      index = end + 1
      previous = "'"
    }
  }

  /// Types whose `TYPE 'constant'` literal syntax a parameter cannot fill.
  static let literalTypes: Set<String> = [
    "interval", "timestamp", "timestamptz", "date", "time", "timetz", "numeric", "json", "jsonb", "uuid",
    "inet", "cidr", "boolean", "bool", "bigint", "integer", "int", "smallint", "text", "real",
  ]

  /// When `text` ends with a type name written as a typed literal's prefix (`interval `),
  /// the name and where it starts.
  private static func typedLiteralPrefix(_ text: String) -> (name: String, start: Int)? {
    let characters = Array(text)
    var end = characters.count
    while end > 0, characters[end - 1].isWhitespace { end -= 1 }
    var start = end
    while start > 0, characters[start - 1].isLetter, characters[start - 1].isASCII { start -= 1 }
    guard start < end else { return nil }
    if start > 0 {
      let before = characters[start - 1]
      if before.isNumber || before == "_" || before == "$" || before == "." || before == "\"" { return nil }
    }
    let word = String(characters[start..<end]).lowercased()
    return literalTypes.contains(word) ? (word, start) : nil
  }

  /// Whether the `E` just written starts an escape string (it is not the end of a name).
  private static func isEscapePrefix(_ text: String) -> Bool {
    let beforeE = text.dropLast().last
    guard let beforeE else { return true }
    return !(beforeE.isLetter || beforeE.isNumber || beforeE == "_" || beforeE == "$")
  }

  /// The index of the closing `$` of a dollar-quote tag starting at `start`, if it is one
  /// (`$$` or `$tag$`; `$1` is a parameter, not a tag).
  private static func dollarTagEnd(_ items: [Item], from start: Int) -> Int? {
    var index = start + 1
    while index < items.count, case .character(let found) = items[index] {
      if found == "$" { return index }
      let isTagCharacter = found == "_" || found.isLetter || (index > start + 1 && found.isNumber)
      guard isTagCharacter, found.isASCII else { return nil }
      index += 1
    }
    return nil
  }

  private static func literalText(_ item: Item) -> String {
    switch item {
    case .character(let character): return String(character)
    case .placeholder(let part): return ShellInterpolation.placeholderText(part)
    }
  }
}

extension InterpolationContext {
  /// Resolves SQL with every placeholder as a bound parameter (see ``SQLInterpolation``).
  /// Placeholders that cannot become parameters are errors in `bag`.
  public func resolveSQL(_ template: Template, into bag: inout DiagnosticBag) -> ParameterizedSQL {
    var query = ""
    var parameters: [String] = []
    var secret = false
    for piece in SQLInterpolation.pieces(of: template) {
      switch piece {
      case .text(let text): query += text
      case .problem(let message): bag.error(template.location, message)
      case .parameter(let part, let cast):
        var single = template
        single.parts = [part]
        let resolved = resolve(single, into: &bag)
        parameters.append(resolved.value)
        secret = secret || resolved.hasSecret
        query += "$\(parameters.count)" + (cast ? "::text" : "")
      }
    }
    var shown = DiagnosticBag()
    let display = resolve(template, into: &shown).display
    return ParameterizedSQL(query: query, parameters: parameters, display: display, hasSecret: secret)
  }
}
