import Foundation

/// Placing resolved values into a `/bin/sh` command line as data, never as code.
///
/// Every placeholder becomes exactly one single-quoted shell word (`'` written as `'\''`).
/// A placeholder already inside quotes in the shell text closes those quotes, adds the
/// quoted word and reopens them (`"a ${v} b"` runs as `"a "'VALUE'" b"`), so the value
/// stays part of the same word and is still never parsed. Inside `$(…)` quoting starts
/// afresh, as in the shell. A placeholder inside backquotes or a here-document cannot be
/// quoted that way and is refused: pass such values through `env:` and write `"$NAME"`.
public enum ShellInterpolation {
  /// Where a placeholder sits in the shell text.
  public enum Context: Sendable, Equatable {
    /// Outside any quotes (also inside `$(…)`), or in a comment.
    case unquoted
    /// Inside `'…'`.
    case singleQuoted
    /// Inside `"…"`.
    case doubleQuoted
    /// Inside backquotes, where quoting rules nest differently.
    case backquoted
    /// In the body of a here-document, where quotes are not special.
    case hereDocument
  }

  private enum Frame {
    case plain(depth: Int)
    case single
    case double
    case backquote
  }

  /// The quoting context of each placeholder part of `template`, in order of the parts
  /// (nil for literal parts).
  public static func contexts(of template: Template) -> [Context?] {
    var scanner = QuoteScanner()
    var result: [Context?] = []
    for part in template.parts {
      guard case .literal(let text) = part else {
        result.append(scanner.placeholder())
        continue
      }
      result.append(nil)
      scanner.read(text)
    }
    return result
  }

  /// The shell's quoting state as a template is read from its start.
  private struct QuoteScanner {
    var stack: [Frame] = [.plain(depth: 0)]
    var inComment = false
    var sawHereDocument = false
    var inHereDocument = false
    var previous: Character = " "

    /// The innermost frame.
    var top: Frame { stack.last ?? .plain(depth: 0) }

    /// The context of a placeholder at this point, which reads on as a word character.
    mutating func placeholder() -> Context {
      let context: Context
      if inHereDocument {
        context = .hereDocument
      } else if inComment {
        context = .unquoted
      } else {
        switch top {
        case .plain: context = .unquoted
        case .single: context = .singleQuoted
        case .double: context = .doubleQuoted
        case .backquote: context = .backquoted
        }
      }
      // A placeholder is a word character for what follows.
      previous = "x"
      return context
    }

    /// Reads a literal part of the template.
    mutating func read(_ text: String) {
      let characters = Array(text)
      var index = 0
      while index < characters.count {
        let character = characters[index]
        index += advance(characters, at: index)
        previous = character
      }
    }

    /// Reads `characters[index]`; returns how far to move on (more than 1 when it skips what follows).
    private mutating func advance(_ characters: [Character], at index: Int) -> Int {
      let character = characters[index]
      let next: Character? = index + 1 < characters.count ? characters[index + 1] : nil
      if inHereDocument { return 1 }
      if inComment {
        if character == "\n" { inComment = false }
        return 1
      }
      if character == "\n", sawHereDocument, case .plain = top {
        inHereDocument = true
        return 1
      }
      switch top {
      case .plain(let depth):
        let third: Character? = index + 2 < characters.count ? characters[index + 2] : nil
        return 1 + plain(character, next: next, third: third, depth: depth)
      case .single:
        if character == "'" { stack.removeLast() }
      case .double:
        switch character {
        case "\\": return 2
        case "\"": stack.removeLast()
        case "`": stack.append(.backquote)
        case "$" where next == "(":
          stack.append(.plain(depth: 0))
          return 2
        default: break
        }
      case .backquote:
        switch character {
        case "\\": return 2
        case "`": stack.removeLast()
        default: break
        }
      }
      return 1
    }

    /// Reads `character` outside quotes; returns how many of the following characters it used.
    private mutating func plain(_ character: Character, next: Character?, third: Character?, depth: Int)
      -> Int
    {
      switch character {
      case "\\": return 1
      case "'": stack.append(.single)
      case "\"": stack.append(.double)
      case "`": stack.append(.backquote)
      case "$" where next == "(":
        stack.append(.plain(depth: 0))
        return 1
      case "(" where stack.count > 1:
        stack[stack.count - 1] = .plain(depth: depth + 1)
      case ")" where stack.count > 1:
        if depth == 0 { stack.removeLast() } else { stack[stack.count - 1] = .plain(depth: depth - 1) }
      case "#" where previous.isWhitespace || ";&|()".contains(previous):
        inComment = true
      case "<" where next == "<":
        if third != "<" { sawHereDocument = true }
        return third == "<" ? 2 : 1
      default: break
      }
      return 0
    }
  }

  /// Why a placeholder in `template` cannot be placed safely, one message per placeholder.
  public static func problems(in template: Template) -> [String] {
    zip(template.parts, contexts(of: template)).compactMap { part, context in
      context.flatMap { problem(placing: part, in: $0) }
    }
  }

  /// Why `part` cannot be placed in `context`, or nil when it can.
  static func problem(placing part: Template.Part, in context: Context) -> String? {
    let name = placeholderText(part)
    switch context {
    case .backquoted:
      return "\(name) sits inside backquotes in a shell command, where it cannot be quoted safely; "
        + "use $(…) or pass it through env: and write \"$NAME\""
    case .hereDocument:
      return "\(name) sits in a here-document of a shell command, where quotes do not protect it; "
        + "pass it through env: and write $NAME"
    default: return nil
    }
  }

  /// `value` as one single-quoted shell word.
  public static func quoted(_ value: String) -> String {
    "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  /// `value` as one word a POSIX shell reads back: bare when it holds only characters no shell
  /// treats specially, else ``quoted(_:)``. For commands printed for people to paste.
  public static func word(_ value: String) -> String {
    let safe = !value.isEmpty && value.utf8.allSatisfy { wordSafeBytes.contains($0) }
    return safe ? value : quoted(value)
  }

  private static let wordSafeBytes = Set(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%".utf8)

  /// `value` as one shell word placed in `context`.
  static func placed(_ value: String, in context: Context) -> String {
    switch context {
    case .unquoted: return quoted(value)
    case .singleQuoted: return "'" + quoted(value) + "'"
    case .doubleQuoted: return "\"" + quoted(value) + "\""
    case .backquoted, .hereDocument: return ""
    }
  }

  static func placeholderText(_ part: Template.Part) -> String {
    switch part {
    case .literal(let text): return text
    case .variable(let name): return "${\(name)}"
    case .environment(let name, let fallback): return "${env.\(name)\(fallback.map { ":-\($0)" } ?? "")}"
    case .secret(let name): return "${secret.\(name)}"
    case .run(let field): return "${run.\(field)}"
    case .host(let field): return "${host.\(field)}"
    }
  }
}

extension InterpolationContext {
  /// Resolves a `/bin/sh` command line: each placeholder becomes one quoted shell word
  /// (see ``ShellInterpolation``). A placeholder that cannot be quoted safely is an error
  /// in `bag` and is left out.
  public func resolveShell(_ template: Template, into bag: inout DiagnosticBag) -> ResolvedText {
    var value = ""
    var display = ""
    var secret = false
    for (part, context) in zip(template.parts, ShellInterpolation.contexts(of: template)) {
      guard let context else {
        if case .literal(let text) = part {
          value += text
          display += text
        }
        continue
      }
      if let problem = ShellInterpolation.problem(placing: part, in: context) {
        bag.error(template.location, problem)
        continue
      }
      var single = template
      single.parts = [part]
      let resolved = resolve(single, into: &bag)
      value += ShellInterpolation.placed(resolved.value, in: context)
      display += ShellInterpolation.placed(resolved.display, in: context)
      secret = secret || resolved.hasSecret
    }
    return ResolvedText(value: value, display: display, hasSecret: secret)
  }
}
