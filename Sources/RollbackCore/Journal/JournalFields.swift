import Foundation

/// A JSON object's member name, any string.
struct JournalKey: CodingKey {
  var stringValue: String
  var intValue: Int? { nil }
  init(_ name: String) { stringValue = name }
  init?(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

/// A JSON object read leniently: a member that is absent, null or of another type reads as nil
/// (or empty), and so does a number that is not finite or does not fit.
struct JournalFields: Decodable {
  let container: KeyedDecodingContainer<JournalKey>

  init(_ decoder: any Decoder) throws { container = try decoder.container(keyedBy: JournalKey.self) }
  init(from decoder: any Decoder) throws { try self.init(decoder) }

  func string(_ name: String) -> String? {
    try? container.decodeIfPresent(String.self, forKey: JournalKey(name))
  }
  func bool(_ name: String) -> Bool? { try? container.decodeIfPresent(Bool.self, forKey: JournalKey(name)) }
  func int(_ name: String) -> Int? { try? container.decodeIfPresent(Int.self, forKey: JournalKey(name)) }

  /// A finite number; nil for anything else.
  func number(_ name: String) -> Double? {
    guard let value = try? container.decodeIfPresent(Double.self, forKey: JournalKey(name)), value.isFinite
    else { return nil }
    return value
  }

  /// The array's strings, other elements left out; empty when it is not an array.
  func strings(_ name: String) -> [String] {
    guard var items = try? container.nestedUnkeyedContainer(forKey: JournalKey(name)) else { return [] }
    var result: [String] = []
    while !items.isAtEnd {
      if let text = try? items.decode(String.self) {
        result.append(text)
      } else if (try? items.decode(JournalSkip.self)) == nil {
        break
      }
    }
    return result
  }

  /// The array's objects; empty when it is not an array of objects only.
  func objects(_ name: String) -> [JournalFields] {
    (try? container.decodeIfPresent([JournalFields].self, forKey: JournalKey(name))) ?? []
  }

  /// The object's string members by name, sorted by name; other members left out.
  func stringMembers(_ name: String) -> [(name: String, value: String)] {
    guard let object = try? container.nestedContainer(keyedBy: JournalKey.self, forKey: JournalKey(name))
    else {
      return []
    }
    return object.allKeys.compactMap { key in
      (try? object.decode(String.self, forKey: key)).map { (name: key.stringValue, value: $0) }
    }.sorted { $0.name < $1.name }
  }
}

/// Any JSON value, read and dropped.
private struct JournalSkip: Decodable {
  init(from decoder: any Decoder) throws {}
}

extension JSONValue: Encodable {
  /// Encodes the value, object members in order.
  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .null:
      var single = encoder.singleValueContainer()
      try single.encodeNil()
    case .bool(let value):
      var single = encoder.singleValueContainer()
      try single.encode(value)
    case .int(let value):
      var single = encoder.singleValueContainer()
      try single.encode(value)
    case .number(let value):
      var single = encoder.singleValueContainer()
      if value.isFinite { try single.encode(value) } else { try single.encodeNil() }
    case .string(let value):
      var single = encoder.singleValueContainer()
      try single.encode(value)
    case .array(let items):
      var list = encoder.unkeyedContainer()
      for item in items { try list.encode(item) }
    case .object(let members):
      var object = encoder.container(keyedBy: JournalKey.self)
      for (name, value) in members { try object.encode(value, forKey: JournalKey(name)) }
    }
  }
}
