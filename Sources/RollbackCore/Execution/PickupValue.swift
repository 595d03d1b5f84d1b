import Foundation

/// The value an application reports about a flag (`pickup.http`), read from its JSON answer
/// and compared with the value the run wrote.
public enum PickupValue {
  /// A JSON document, decoded just enough to walk a dotted path to a scalar.
  indirect enum Node: Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([Node])
    case object([String: Node])

    init(from decoder: any Decoder) throws {
      let container = try decoder.singleValueContainer()
      if container.decodeNil() {
        self = .null
      } else if let value = try? container.decode(Bool.self) {
        self = .bool(value)
      } else if let value = try? container.decode(Double.self) {
        self = .number(value)
      } else if let value = try? container.decode(String.self) {
        self = .string(value)
      } else if let value = try? container.decode([Node].self) {
        self = .array(value)
      } else {
        self = .object(try container.decode([String: Node].self))
      }
    }
  }

  /// The scalar at `path` (object keys) in a JSON body, as text: strings as they are,
  /// `true`/`false`, whole numbers without a fraction, `null`. A reason when the body is not
  /// JSON, a key is missing, or the value is an object or array.
  public static func text(at path: [String], in body: Data) -> Result<String, PickupValueError> {
    let dotted = path.joined(separator: ".")
    guard var node = try? JSONDecoder().decode(Node.self, from: body) else {
      return .failure(PickupValueError(text: "the answer is not JSON"))
    }
    for key in path {
      guard case .object(let members) = node, let next = members[key] else {
        return .failure(PickupValueError(text: "the answer has no \(dotted)"))
      }
      node = next
    }
    switch node {
    case .null: return .success("null")
    case .bool(let value): return .success(value ? "true" : "false")
    case .number(let value):
      if value.rounded() == value, abs(value) < 1e15 { return .success(String(Int64(value))) }
      return .success(String(value))
    case .string(let value): return .success(value)
    case .array, .object:
      return .failure(PickupValueError(text: "\(dotted) in the answer is not a single value"))
    }
  }

  /// Whether a reported value is the written one: `"false"` ≡ `false`, numbers as text,
  /// surrounding blanks and quotes of the dotenv value ignored, booleans in any case.
  public static func matches(reported: String, written: String) -> Bool {
    func normal(_ text: String) -> String {
      var value = text.trimmingCharacters(in: .whitespaces)
      if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "'" {
        value = String(value.dropFirst().dropLast())
      }
      let lower = value.lowercased()
      if lower == "true" || lower == "false" { return lower }
      if let number = Double(value), number.rounded() == number, abs(number) < 1e15 {
        return String(Int64(number))
      }
      return value
    }
    return normal(reported) == normal(written)
  }
}

/// Why the reported value could not be read.
public struct PickupValueError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What went wrong, lowercase.
  public var text: String
  /// Why the proof failed, as the step's error shows it.
  public var description: String { text }

  /// Creates an error with its reason.
  public init(text: String) { self.text = text }
}
