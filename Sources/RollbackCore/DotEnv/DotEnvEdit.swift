/// The outcome of setting one key in a dotenv document: the new bytes and what changed.
public struct DotEnvEdit: Sendable, Equatable {
  /// What happened to the key.
  public enum Change: String, Sendable, Equatable {
    /// The key already had the value; the bytes are identical.
    case unchanged
    /// The value bytes of the existing assignment were replaced.
    case replaced
    /// The key was absent and `KEY=value` was added at the end.
    case appended
  }

  /// The key that was set.
  public let key: String
  /// The value before the edit, or `nil` when the key was absent.
  public let oldValue: String?
  /// The value after the edit.
  public let newValue: String
  /// What happened.
  public let change: Change
  /// The 1-based line of the assignment (for an append, the new last line).
  public let line: Int
  /// The whole document after the edit (identical to the input when `change` is `.unchanged`).
  public let bytes: [UInt8]
  /// The byte range of the original document that was replaced (empty at the end for an append).
  public let replacedRange: Range<Int>
  /// The bytes that took the place of `replacedRange`.
  public let replacement: [UInt8]

  /// Creates an edit description; `DotEnvDocument.setting(key:value:)` is the usual source.
  public init(
    key: String, oldValue: String?, newValue: String, change: Change, line: Int, bytes: [UInt8],
    replacedRange: Range<Int>, replacement: [UInt8]
  ) {
    self.key = key
    self.oldValue = oldValue
    self.newValue = newValue
    self.change = change
    self.line = line
    self.bytes = bytes
    self.replacedRange = replacedRange
    self.replacement = replacement
  }

  /// True when the key already had the value and nothing needs writing.
  public var isUnchanged: Bool { change == .unchanged }

  /// True when the key was absent and was added at the end.
  public var isAppended: Bool { change == .appended }

  /// The edited document, ready for another edit.
  public var document: DotEnvDocument { DotEnvDocument(bytes: bytes) }
}
