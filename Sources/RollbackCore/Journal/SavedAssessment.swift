import Foundation

/// An assessment as `rollback assess` saves it in `STATE/assessments/TIMESTAMP.json` (its
/// `--json` document), read back for `rollback report`: only the fields the report shows.
public struct SavedAssessment: Sendable, Equatable, Decodable {
  /// When it was made (ISO time), as written.
  public var assessedAt: String?
  /// The severity it found.
  public var severity: String?
  /// The rules that matched.
  public var matched: [String]
  /// The signals it read; a value that is not a finite number is unknown.
  public var signals: [JournalSignal]

  /// An assessment.
  public init(assessedAt: String?, severity: String?, matched: [String], signals: [JournalSignal]) {
    self.assessedAt = assessedAt
    self.severity = severity
    self.matched = matched
    self.signals = signals
  }

  /// Reads the document leniently: a field of another type reads as absent.
  public init(from decoder: any Decoder) throws {
    let fields = try JournalFields(decoder)
    self.init(
      assessedAt: fields.string("assessed_at"), severity: fields.string("severity"),
      matched: fields.strings("matched"), signals: fields.objects("signals").map(JournalSignal.init))
  }

  /// Reads a saved document; nil when it is not a JSON object.
  public static func decode(_ data: Data) -> SavedAssessment? {
    try? JSONDecoder().decode(SavedAssessment.self, from: data)
  }
}
