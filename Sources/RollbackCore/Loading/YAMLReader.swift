import Foundation
import Yams

/// Reads composed YAML nodes into typed values, collecting located diagnostics.
struct YAMLReader {
  let file: String
  var bag = DiagnosticBag()

  init(file: String) { self.file = file }

  func location(_ node: Node) -> SourceLocation {
    let mark = node.mark
    return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
  }

  /// Columns between a scalar's mark and its first content character.
  func contentOffset(_ node: Node) -> Int {
    guard let scalar = node.scalar else { return 0 }
    switch scalar.style {
    case .singleQuoted, .doubleQuoted: return 1
    case .plain, .any: return 0
    default: return 0
    }
  }

  static func isNull(_ node: Node) -> Bool {
    guard let scalar = node.scalar, scalar.style == .plain || scalar.style == .any else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
  }

  func describe(_ node: Node) -> String {
    switch node {
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .scalar(let scalar):
      if Self.isNull(node) { return "nothing" }
      let text = scalar.string.count > 40 ? String(scalar.string.prefix(40)) + "…" : scalar.string
      return "'\(text)'"
    case .alias: return "an alias"
    }
  }

  /// A mapping's pairs with string keys; nil (and an error) when it is not a mapping.
  mutating func pairs(_ node: Node, _ what: String) -> [(key: String, keyNode: Node, value: Node)]? {
    guard let mapping = node.mapping else {
      bag.error(location(node), "expected a mapping for \(what), found \(describe(node))")
      return nil
    }
    var result: [(String, Node, Node)] = []
    for (key, value) in mapping {
      guard let scalar = key.scalar else {
        bag.error(location(key), "keys in \(what) must be plain words, found \(describe(key))")
        continue
      }
      result.append((scalar.string, key, value))
    }
    return result
  }

  /// A mapping's fields checked against the allowed keys; unknown keys get a did-you-mean hint.
  mutating func fields(
    _ node: Node, _ what: String, allowed: [String], required: [String] = []
  ) -> Fields? {
    guard let list = pairs(node, what) else { return nil }
    var fields = Fields(node: node)
    for (key, keyNode, value) in list {
      guard allowed.contains(key) else {
        bag.error(
          location(keyNode), "unknown key '\(key)' in \(what)\(Suggest.hint(for: key, in: allowed))")
        continue
      }
      fields.values[key] = (keyNode, value)
    }
    for key in required where fields.values[key] == nil {
      bag.error(location(node), "missing required key '\(key)' in \(what)")
    }
    return fields
  }

  struct Fields {
    let node: Node
    var values: [String: (key: Node, value: Node)] = [:]
    subscript(_ key: String) -> Node? { values[key]?.value }
    func keyNode(_ key: String) -> Node? { values[key]?.key }
    func has(_ key: String) -> Bool { values[key] != nil }
  }

  mutating func string(_ node: Node, _ what: String) -> String? {
    guard let scalar = node.scalar, !Self.isNull(node) else {
      bag.error(location(node), "expected a string for \(what), found \(describe(node))")
      return nil
    }
    return scalar.string
  }

  mutating func optionalString(_ node: Node?, _ what: String) -> String? {
    guard let node else { return nil }
    return string(node, what)
  }

  mutating func template(_ node: Node, _ what: String) -> Template? {
    guard let text = string(node, what) else { return nil }
    return Template(parsing: text, at: location(node), contentOffset: contentOffset(node), into: &bag)
  }

  mutating func stringList(_ node: Node, _ what: String) -> [String]? {
    guard let sequence = node.sequence else {
      bag.error(location(node), "expected a list for \(what), found \(describe(node))")
      return nil
    }
    return sequence.compactMap { string($0, "an item of \(what)") }
  }

  mutating func int(_ node: Node, _ what: String) -> Int? {
    guard let text = node.scalar?.string, !Self.isNull(node), let value = Int(text) else {
      bag.error(location(node), "expected a whole number for \(what), found \(describe(node))")
      return nil
    }
    return value
  }

  mutating func bool(_ node: Node, _ what: String) -> Bool? {
    switch node.scalar?.string {
    case "true": return true
    case "false": return false
    default:
      bag.error(location(node), "expected true or false for \(what), found \(describe(node))")
      return nil
    }
  }

  mutating func duration(_ node: Node, _ what: String) -> Double? {
    guard let text = string(node, what) else { return nil }
    guard let seconds = Quantity.seconds(text) else {
      bag.error(
        location(node).advanced(by: contentOffset(node)),
        "bad duration '\(text)' for \(what); write e.g. 500ms, 30s, 5m, 1h or 1m30s")
      return nil
    }
    guard seconds <= Quantity.maximumSeconds else {
      bag.error(
        location(node).advanced(by: contentOffset(node)),
        "duration '\(text)' for \(what) is too long; at most 168h (7 days)")
      return nil
    }
    return seconds
  }

  mutating func condition(_ node: Node, _ what: String) -> Condition? {
    if let mapping = node.mapping {
      guard mapping.count == 1, let (key, value) = mapping.first.map({ ($0.key, $0.value) }),
        let word = key.scalar?.string, word == "any" || word == "all"
      else {
        bag.error(
          location(node), "expected a condition for \(what): 'SIGNAL OP NUMBER', {any: [...]} or {all: [...]}"
        )
        return nil
      }
      guard let sequence = value.sequence, !sequence.isEmpty else {
        bag.error(location(value), "'\(word)' needs a non-empty list of conditions")
        return nil
      }
      let list = sequence.compactMap { condition($0, what) }
      guard list.count == sequence.count else { return nil }
      return word == "any" ? .any(list) : .all(list)
    }
    guard let text = string(node, what) else { return nil }
    do {
      return .comparison(try Comparison.parse(text, at: location(node).advanced(by: contentOffset(node))))
    } catch {
      bag.append(contentsOf: [error])
      return nil
    }
  }

  mutating func comparisons(_ node: Node, _ what: String) -> [Comparison]? {
    guard let sequence = node.sequence else {
      bag.error(location(node), "expected a list of conditions for \(what), found \(describe(node))")
      return nil
    }
    if sequence.isEmpty {
      bag.error(location(node), "\(what) is empty; list at least one condition")
      return nil
    }
    var result: [Comparison] = []
    for item in sequence {
      guard let text = string(item, "a condition in \(what)") else { continue }
      do {
        result.append(try Comparison.parse(text, at: location(item).advanced(by: contentOffset(item))))
      } catch {
        bag.append(contentsOf: [error])
      }
    }
    return result
  }

  /// `[argv…]`, `{argv: […], cwd, env}` or `{shell: "…", cwd, env}`.
  mutating func command(_ node: Node, _ what: String) -> CommandSpec? {
    let here = location(node)
    if let sequence = node.sequence {
      guard !sequence.isEmpty else {
        bag.error(here, "\(what) is an empty command; give the program and its arguments")
        return nil
      }
      let argv = sequence.compactMap { template($0, "an argument of \(what)") }
      guard argv.count == sequence.count else { return nil }
      return CommandSpec(program: .argv(argv), cwd: nil, env: [], location: here)
    }
    if node.scalar != nil {
      bag.error(
        here,
        "\(what) must be a list (program and arguments, no shell) or {shell: \"…\"}, found \(describe(node))")
      return nil
    }
    guard let f = fields(node, what, allowed: ["argv", "shell", "cwd", "env"]) else { return nil }
    let program: CommandSpec.Program
    switch (f["argv"], f["shell"]) {
    case (let argvNode?, nil):
      guard let sequence = argvNode.sequence, !sequence.isEmpty else {
        bag.error(location(argvNode), "argv of \(what) must be a non-empty list")
        return nil
      }
      let argv = sequence.compactMap { template($0, "an argument of \(what)") }
      guard argv.count == sequence.count else { return nil }
      program = .argv(argv)
    case (nil, let shellNode?):
      guard let line = template(shellNode, "the shell line of \(what)") else { return nil }
      program = .shell(line)
    case (.some, .some):
      bag.error(location(f.keyNode("shell") ?? node), "\(what) has both argv and shell; keep one")
      return nil
    case (nil, nil):
      bag.error(here, "\(what) needs argv: [...] or shell: \"...\"")
      return nil
    }
    let cwd = f["cwd"].flatMap { template($0, "cwd of \(what)") }
    var env: [(name: String, value: Template)] = []
    if let envNode = f["env"], let list = pairs(envNode, "env of \(what)") {
      for (name, _, value) in list {
        if let value = template(value, "env \(name) of \(what)") { env.append((name, value)) }
      }
    }
    return CommandSpec(program: program, cwd: cwd, env: env, location: here)
  }

  /// Statuses: a number or a list of numbers.
  mutating func statuses(_ node: Node, _ what: String) -> [Int]? {
    if let sequence = node.sequence {
      let list = sequence.compactMap { int($0, what) }
      return list.count == sequence.count ? list : nil
    }
    return int(node, what).map { [$0] }
  }

  /// Any YAML value as JSON, with strings kept as templates.
  mutating func json(_ node: Node, _ what: String) -> JSONTemplate? {
    switch node {
    case .mapping(let mapping):
      var members: [(String, JSONTemplate)] = []
      for (key, value) in mapping {
        guard let name = key.scalar?.string else {
          bag.error(location(key), "JSON object keys in \(what) must be strings")
          return nil
        }
        guard let member = json(value, what) else { return nil }
        members.append((name, member))
      }
      return .object(members)
    case .sequence(let sequence):
      let items = sequence.compactMap { json($0, what) }
      return items.count == sequence.count ? .array(items) : nil
    case .scalar(let scalar):
      if scalar.style == .plain || scalar.style == .any {
        if Self.isNull(node) { return .literal("null") }
        if scalar.string == "true" || scalar.string == "false" { return .literal(scalar.string) }
        if Double(scalar.string) != nil, scalar.string.first.map({ $0.isNumber || $0 == "-" }) == true {
          return .literal(scalar.string)
        }
      }
      guard let text = template(node, what) else { return nil }
      return .string(text)
    case .alias:
      return nil
    }
  }
}

/// A JSON body whose strings may hold placeholders.
public indirect enum JSONTemplate: Sendable {
  /// `null`, `true`, `false` or a number, as written.
  case literal(String)
  /// A string with placeholders.
  case string(Template)
  /// An array.
  case array([JSONTemplate])
  /// An object with members in order.
  case object([(String, JSONTemplate)])

  /// Every template inside.
  public var templates: [Template] {
    switch self {
    case .literal: return []
    case .string(let template): return [template]
    case .array(let items): return items.flatMap(\.templates)
    case .object(let members): return members.flatMap(\.1.templates)
    }
  }

  /// Renders JSON text, escaping each resolved string.
  public func render(_ resolve: (Template) -> String) -> String {
    switch self {
    case .literal(let text): return text
    case .string(let template): return Self.quote(resolve(template))
    case .array(let items): return "[" + items.map { $0.render(resolve) }.joined(separator: ",") + "]"
    case .object(let members):
      return "{" + members.map { Self.quote($0.0) + ":" + $0.1.render(resolve) }.joined(separator: ",") + "}"
    }
  }

  static func quote(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 {
          out += String(format: "\\u%04x", scalar.value)
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }
}
