import Foundation
import Testing

@testable import RollbackCore

/// docs/runbook-format.md is kept in step with what `validate` accepts.
@Suite("docs/runbook-format.md names every key validate accepts")
struct FormatDocTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  static func document() throws -> String {
    try String(contentsOf: root.appendingPathComponent("docs/runbook-format.md"), encoding: .utf8)
  }

  @Test("every top-level key is documented, as `key`")
  func topLevelKeys() throws {
    let text = try Self.document()
    #expect(!RunbookLoader.topLevelKeys.isEmpty)
    for key in RunbookLoader.topLevelKeys {
      #expect(text.contains("`\(key)`"), "docs/runbook-format.md does not mention the top-level key `\(key)`")
    }
  }

  @Test("every step key and step kind is documented, as `key`")
  func stepKeys() throws {
    let text = try Self.document()
    #expect(RunbookLoader.stepKeys.contains("drill"))
    for key in RunbookLoader.stepKeys {
      #expect(text.contains("`\(key)`"), "docs/runbook-format.md does not mention the step key `\(key)`")
    }
  }

  @Test("a key the document names in its step-key table is one validate accepts")
  func noStaleStepKeys() throws {
    let text = try Self.document()
    // The step-key table: rows `| `key` | … |` between the two markers.
    guard let start = text.range(of: "<!-- step-keys -->"), let end = text.range(of: "<!-- /step-keys -->")
    else {
      Issue.record("docs/runbook-format.md has no <!-- step-keys --> table")
      return
    }
    let table = text[start.upperBound..<end.lowerBound]
    var documented: [String] = []
    for line in table.split(separator: "\n") where line.hasPrefix("| `") {
      let cell = line.dropFirst(3)
      if let close = cell.firstIndex(of: "`") { documented.append(String(cell[..<close])) }
    }
    #expect(!documented.isEmpty)
    for key in documented {
      #expect(RunbookLoader.stepKeys.contains(key), "the document lists `\(key)`, which validate refuses")
    }
    #expect(Set(documented) == Set(RunbookLoader.stepKeys))
  }
}

@Suite("docs/runbook-format.md names every notify key validate accepts, and no other")
struct NotifyFormatDocTests {
  @Test("the notify-keys table lists exactly the keys under notify: and its integrations")
  func notifyKeys() throws {
    let text = try FormatDocTests.document()
    guard let start = text.range(of: "<!-- notify-keys -->"),
      let end = text.range(of: "<!-- /notify-keys -->")
    else {
      Issue.record("docs/runbook-format.md has no <!-- notify-keys --> table")
      return
    }
    // Rows `| `key` | `parent`, `parent` | … |`.
    var documented = Set<String>()
    for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") where line.hasPrefix("| `") {
      let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
      guard cells.count >= 2 else { continue }
      let key = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
      for parent in cells[1].split(separator: ",") {
        documented.insert(
          parent.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            + "." + key)
      }
    }
    var accepted = Set<String>()
    for (parent, keys) in RunbookLoader.notifyKeys {
      for key in keys { accepted.insert(parent + "." + key) }
    }
    #expect(accepted.count > 10)
    #expect(
      documented == accepted,
      "documented but refused: \(documented.subtracting(accepted)); accepted but undocumented: \(accepted.subtracting(documented))"
    )
  }
}
