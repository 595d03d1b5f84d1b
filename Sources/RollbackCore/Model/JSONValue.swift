import Foundation

/// A JSON value that keeps object members in the order they were added.
public indirect enum JSONValue: Sendable, Equatable {
  /// `null`.
  case null
  /// `true` or `false`.
  case bool(Bool)
  /// A number; non-finite numbers render as `null`.
  case number(Double)
  /// A whole number.
  case int(Int)
  /// A string.
  case string(String)
  /// An array.
  case array([JSONValue])
  /// An object, members in order.
  case object([(String, JSONValue)])

  /// Equality by rendered text.
  public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.rendered() == rhs.rendered() }

  /// A string or null.
  public static func string(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
  /// A number or null.
  public static func number(_ value: Double?) -> JSONValue { value.map { .number($0) } ?? .null }
  /// A whole number or null.
  public static func int(_ value: Int?) -> JSONValue { value.map { .int($0) } ?? .null }

  /// The same value with `transform` applied to every string value (not to member names), so
  /// that masking a secret can never change the JSON's structure (a secret "true" would
  /// otherwise turn `"dry_run":true` into invalid JSON).
  public func mappingStrings(_ transform: (String) -> String) -> JSONValue {
    switch self {
    case .string(let value): .string(transform(value))
    case .array(let items): .array(items.map { $0.mappingStrings(transform) })
    case .object(let members): .object(members.map { ($0.0, $0.1.mappingStrings(transform)) })
    case .null, .bool, .number, .int: self
    }
  }

  /// Compact JSON text.
  public func rendered() -> String {
    var out = ""
    write(into: &out, indent: nil, level: 0)
    return out
  }

  /// Indented JSON text.
  public func pretty() -> String {
    var out = ""
    write(into: &out, indent: "  ", level: 0)
    return out
  }

  private func write(into out: inout String, indent: String?, level: Int) {
    let newline = indent == nil ? "" : "\n"
    let pad = { (n: Int) in String(repeating: indent ?? "", count: n) }
    switch self {
    case .null: out += "null"
    case .bool(let value): out += value ? "true" : "false"
    case .int(let value): out += String(value)
    case .number(let value):
      if !value.isFinite {
        out += "null"
      } else if value == value.rounded(), abs(value) < 1e15 {
        out += String(Int(value))
      } else {
        out += String(value)
      }
    case .string(let value): out += JSONTemplate.quote(value)
    case .array(let items):
      if items.isEmpty {
        out += "[]"
        return
      }
      out += "[" + newline
      for (index, item) in items.enumerated() {
        out += pad(level + 1)
        item.write(into: &out, indent: indent, level: level + 1)
        out += (index < items.count - 1 ? "," : "") + newline
      }
      out += pad(level) + "]"
    case .object(let members):
      if members.isEmpty {
        out += "{}"
        return
      }
      out += "{" + newline
      for (index, (key, value)) in members.enumerated() {
        out += pad(level + 1) + JSONTemplate.quote(key) + (indent == nil ? ":" : ": ")
        value.write(into: &out, indent: indent, level: level + 1)
        out += (index < members.count - 1 ? "," : "") + newline
      }
      out += pad(level) + "}"
    }
  }
}
