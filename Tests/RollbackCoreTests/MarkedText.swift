import RollbackCore

/// A runbook text with markers (`1️⃣` … `9️⃣`) at the places a diagnostic must point to, as in
/// swift-format's `MarkedText`: the markers are taken out, and each one's place in the text
/// that remains (1-based line and column, columns counting Unicode scalars as the loader's
/// do) is kept by name.
struct MarkedText {
  /// The text without its markers.
  let text: String
  /// Each marker's place in ``text``, by the marker's name (`"1️⃣"`).
  let markers: [String: (line: Int, column: Int)]

  /// The markers this helper knows, in order.
  static let names = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣"]

  /// Takes the markers out of `marked`.
  init(_ marked: String) {
    var text = ""
    var markers: [String: (line: Int, column: Int)] = [:]
    var line = 1
    var column = 1
    var rest = Substring(marked)
    scan: while !rest.isEmpty {
      for name in Self.names where rest.hasPrefix(name) {
        markers[name] = (line, column)
        rest = rest.dropFirst(name.count)
        continue scan
      }
      guard let character = rest.first else { break }
      rest = rest.dropFirst()
      text.append(character)
      if character == "\n" {
        line += 1
        column = 1
      } else {
        column += character.unicodeScalars.count
      }
    }
    self.text = text
    self.markers = markers
  }

  /// `LINE:COL` of the marker `name`, or `?` when the text has no such marker.
  func place(_ name: String = "1️⃣") -> String {
    markers[name].map { "\($0.line):\($0.column)" } ?? "?"
  }
}
