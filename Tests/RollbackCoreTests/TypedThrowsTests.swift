import Foundation
import RollbackCore
import Testing

/// The loader's, the condition parser's and the resolver's errors are typed: a caller catches
/// the located diagnostics (or the read error) without a `Result` to switch on.
@Suite("Typed throws in the loader, conditions and the resolver")
struct TypedThrowsTests {
  @Test("readFile throws RunbookReadError.notFound for a missing file, and returns the bytes of one")
  func readFile() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "typed-\(UUID().uuidString).yaml"
    ).path
    #expect(throws: RunbookReadError.notFound(path: path)) { try RunbookLoader.readFile(atPath: path) }
    try Data("version: 1\n".utf8).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(try RunbookLoader.readFile(atPath: path) == Data("version: 1\n".utf8))
  }

  @Test("Comparison.parse throws the located diagnostic")
  func comparison() throws {
    let start = SourceLocation(file: "r.yaml", line: 3, column: 10)
    do {
      _ = try Comparison.parse("error_rate => 5%", at: start)
      Issue.record("parsed")
    } catch {
      #expect(
        error.description
          == "r.yaml:3:21: error: expected an operator (> >= < <= == !=) after 'error_rate', found '=>'")
    }
    #expect(try Comparison.parse("error_rate > 5%", at: start).threshold == 0.05)
  }

  @Test("ManualValues(parsing:) throws every bad --signal at once")
  func manualValues() throws {
    let runbook = try #require(RunbookLoader.load(source: validRunbook, file: "demo.yaml").runbook)
    do {
      _ = try ManualValues(parsing: ["error_rat=1", "error_rate=lots", "x"], runbook: runbook)
      Issue.record("parsed")
    } catch {
      #expect(
        error.diagnostics.map(\.message) == [
          "unknown signal 'error_rat'; did you mean 'error_rate'? (signals: error_rate)",
          "--signal error_rate expects a number (5%, 2s, 37), found 'lots'",
          "--signal expects NAME=VALUE, found 'x'",
        ])
    }
    #expect(try ManualValues(parsing: ["error_rate=2%"], runbook: runbook).values == ["error_rate": 0.02])
  }

  @Test("Resolver.resolving and plan(of:) throw DiagnosticList for an unknown environment or level")
  func resolver() throws {
    let runbook = try #require(RunbookLoader.load(source: validRunbook, file: "demo.yaml").runbook)
    do {
      _ = try Resolver.resolving(
        runbook: runbook, environmentName: "prod", processEnvironment: [:], overrides: [:],
        resolveSecrets: false)
      Issue.record("resolved")
    } catch {
      #expect(error.diagnostics.map(\.message) == ["unknown environment 'prod' (environments: production)"])
    }
    let resolver = try Resolver.resolving(
      runbook: runbook, environmentName: nil, processEnvironment: [:], overrides: [:], resolveSecrets: false)
    do {
      _ = try resolver.plan(of: .level(9))
      Issue.record("planned")
    } catch {
      #expect(error.diagnostics.map(\.description) == ["demo.yaml:1:1: error: unknown level 9 (levels: 1)"])
    }
    #expect(try resolver.plan(of: .level(1)).steps.map(\.id) == ["off", "restart-2"])
  }
}
