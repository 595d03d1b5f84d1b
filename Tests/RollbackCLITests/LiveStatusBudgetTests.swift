import Foundation
import Testing

/// `flag status --live` and the live time budget, on the harness.
extension SharedAppTests {
  @Suite("flag status --live and the time budget, on the real harness")
  struct LiveStatusBudgetTests {
    static let atom = "runbooks/frontend-backend-migration.yaml"

    @Test("flag status --live: file values beside the process's value; a mismatch is marked, exit 1")
    func liveStatus() throws {
      let harness = try Harness.current()
      try harness.resetApp()
      defer { try? harness.resetApp() }
      let arguments = ["flag", "status", "backend-api", "--live", "--runbook", Self.atom, "--env", "local"]
      let same = try CLI.run(arguments, environment: harness.runbookEnvironment)
      #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
      #expect(
        same.stdout.contains(
          "backend-api (NEXT_PUBLIC_USE_BACKEND_API): files true · running process reports true ✓"),
        "\(same.stdout)")
      #expect(same.stdout.contains("  live: \(harness.appURL)/api/config"))

      // The files say false; the process, not restarted, still serves true.
      for name in Harness.flagFiles {
        let path = harness.file(name)
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
          of: "NEXT_PUBLIC_USE_BACKEND_API=true", with: "NEXT_PUBLIC_USE_BACKEND_API=false")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
      }
      let differs = try CLI.run(arguments, environment: harness.runbookEnvironment)
      #expect(differs.status == 1, "\(differs.stdout)\(differs.stderr)")
      #expect(
        differs.stdout.contains(
          "files false · running process reports true ✗ MISMATCH: the running process does not serve the files' value"
        ),
        "\(differs.stdout)")
      let json = try CLI.run(arguments + ["--json"], environment: harness.runbookEnvironment)
      #expect(json.status == 1)
      let list = try #require(
        try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
      let entry = try #require(list.first)
      #expect(entry["flag"] as? String == "backend-api")
      #expect(entry["live_value"] as? String == "true")
      #expect(entry["mismatch"] as? Bool == true)
      let files = entry["files"] as? [[String: Any]] ?? []
      #expect(files.count == 3 && files.allSatisfy { $0["value"] as? String == "false" }, "\(files)")
    }

    /// A level whose waits declare more than its target.
    func budgetRunbook(_ harness: Harness, target: String) -> String {
      """
      version: 1
      name: budget
      environments:
        local:
          prometheus: {url: "\(harness.promURL)"}
      signals:
        up: {prometheus: "max(test_up)", unit: count}
      levels:
        1:
          target: \(target)
          steps:
            - {id: first, wait: "up == 1", within: 20s, interval: 200ms}
            - {id: second, wait: "up == 1", within: 20s, interval: 200ms}
            - {id: third, wait: "up == 1", within: 20s, interval: 200ms}
      """
    }

    @Test("a level whose waits declare more than its target warns once that the projection passes it")
    func budgetWarningOnce() throws {
      let harness = try Harness.current()
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      let path = directory.appendingPathComponent("rollback.yaml")
      let state = directory.appendingPathComponent("state").path
      try budgetRunbook(harness, target: "30s").write(to: path, atomically: true, encoding: .utf8)
      let over = try CLI.run([
        "execute", "--level", "1", "--yes", "--runbook", path.path, "--state-dir", state,
      ])
      #expect(over.status == 0, "\(over.stdout)\(over.stderr)")
      let all = over.stdout + over.stderr
      let warnings = all.components(separatedBy: "warning: projected finish ").count - 1
      #expect(warnings == 1, "\(all)")
      #expect(all.contains("passes the target 30s"), "\(all)")

      try budgetRunbook(harness, target: "5m").write(to: path, atomically: true, encoding: .utf8)
      let within = try CLI.run([
        "execute", "--level", "1", "--yes", "--runbook", path.path, "--state-dir", state,
      ])
      #expect(within.status == 0, "\(within.stdout)\(within.stderr)")
      #expect(!(within.stdout + within.stderr).contains("warning: projected finish"))
    }
  }
}
