import ArgumentParser
import Foundation
import RollbackCore

/// `--var NAME=VALUE` options.
struct VariableOptions: ParsableArguments {
  @Option(
    name: .customLong("var"),
    help: ArgumentHelp("Set or override a runbook variable (repeatable).", valueName: "name=value"))
  var vars: [String] = []

  /// Refuses a `--var` without `NAME=`.
  func validate() throws {
    for item in vars where !Self.isAssignment(item) {
      throw ValidationError("--var expects NAME=VALUE, found '\(item)'")
    }
  }

  /// Whether `item` is `NAME=VALUE` with a name.
  static func isAssignment(_ item: String) -> Bool {
    guard let equals = item.firstIndex(of: "=") else { return false }
    return equals != item.startIndex
  }

  /// The overrides as a dictionary.
  func overrides() throws -> [String: String] {
    var result: [String: String] = [:]
    for item in vars {
      guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
        throw CLIError.usage("--var expects NAME=VALUE, found '\(item)'")
      }
      result[String(item[..<equals])] = String(item[item.index(after: equals)...])
    }
    return result
  }
}
