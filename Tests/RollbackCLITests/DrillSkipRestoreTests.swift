import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `drill: skip`, `[DRILL]` notifications, `restore`, `plan --list`, flag files relative to the
/// runbook, and how the runbook file itself is read: on real files and processes, no servers.
@Suite("drill skip, restore, plan --list and reading the runbook file")
struct DrillSkipRestoreTests {
  /// Writes `text` as `rollback.yaml` in a new directory and returns the directory.
  static func runbookDirectory(_ text: String) throws -> URL {
    let directory = try CLI.temporaryDirectory()
    try text.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    return directory
  }

  static func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }

  static func pagingRunbook(_ directory: URL) -> String {
    """
    version: 1
    name: drill-skip
    environments:
      local:
        vars: {dir: "\(directory.path)"}
    levels:
      1:
        name: Roll back and page
        target: 1m
        steps:
          - {id: roll-back, run: [touch, "${dir}/rolled-back"]}
          - id: page-oncall
            run: [touch, "${dir}/paged"]
            drill: skip
          - {id: tell, notify: "Rolled back the widget."}
    """
  }

  @Test("a drill does not run a drill: skip step, shows it skipped, and marks its notifications [DRILL]")
  func drillSkipsPaging() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let runbook = directory.appendingPathComponent("rollback.yaml")
    try Self.pagingRunbook(directory).write(to: runbook, atomically: true, encoding: .utf8)
    let paged = directory.appendingPathComponent("paged").path
    let state = directory.appendingPathComponent("state").path

    let drill = try CLI.run(
      ["drill", "--runbook", runbook.path, "--level", "1", "--yes", "--state-dir", state, "--json"])
    #expect(drill.status == 0, "\(drill.stdout)\(drill.stderr)")
    #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("rolled-back").path))
    #expect(!FileManager.default.fileExists(atPath: paged), "the drill paged")
    #expect(drill.stderr.contains("page-oncall: skipped for the drill (drill: skip)"), "\(drill.stderr)")
    #expect(drill.stderr.contains("📣 [DRILL] Rolled back the widget."), "\(drill.stderr)")
    let steps = try #require(try Self.json(drill.stdout)["steps"] as? [[String: Any]])
    let page = try #require(steps.first { $0["id"] as? String == "page-oncall" })
    #expect(page["status"] as? String == "skipped")
    #expect(page["detail"] as? String == "skipped for the drill (drill: skip)")
    let tell = try #require(steps.first { $0["id"] as? String == "tell" })
    #expect((tell["detail"] as? String)?.contains("[DRILL] Rolled back the widget.") == true)

    // The plan says so too.
    let plan = try CLI.run(["plan", "--runbook", runbook.path, "--level", "1"])
    #expect(plan.status == 0, "\(plan.stderr)")
    #expect(plan.stdout.contains("drill: skipped in a drill (drill: skip)"), "\(plan.stdout)")
    let planJSON = try CLI.run(["plan", "--runbook", runbook.path, "--level", "1", "--json"])
    let planned = try #require(try Self.json(planJSON.stdout)["steps"] as? [[String: Any]])
    #expect(planned.map { $0["drill"] as? String } == ["run", "skip", "run"])

    // A real execute does page, unmarked: the skip is the drill's alone.
    let execute = try CLI.run([
      "execute", "--runbook", runbook.path, "--level", "1", "--yes", "--state-dir", state,
    ])
    #expect(execute.status == 0, "\(execute.stdout)\(execute.stderr)")
    #expect(FileManager.default.fileExists(atPath: paged))
    #expect(execute.stdout.contains("📣 Rolled back the widget."), "\(execute.stdout)")
    #expect(!execute.stdout.contains("[DRILL]"))
  }

  @Test("the seed runbook's page-oncall step is skipped by drills")
  func seedPagingIsDrillSkip() throws {
    let plan = try CLI.run([
      "plan", "--runbook", "runbooks/frontend-backend-migration.yaml", "--level", "3", "--json",
    ])
    #expect(plan.status == 0, "\(plan.stderr)")
    let steps = try #require(try Self.json(plan.stdout)["steps"] as? [[String: Any]])
    let page = try #require(steps.first { $0["id"] as? String == "page-oncall" })
    #expect(page["drill"] as? String == "skip")
    #expect(steps.filter { $0["drill"] as? String == "skip" }.count == 1)
  }

  static let restoreRunbook = """
    version: 1
    name: restore-demo
    environments:
      local: {vars: {}}
    flags:
      api:
        key: USE_API
        files: [".env.local", "config/.env"]
    levels:
      3:
        name: Full rollback
        steps:
          - {id: disable-flag, flag: {name: api, set: disabled}}
    """

  @Test(
    "execute flips relative flag files beside the runbook; restore puts back the exact bytes and journals it")
  func restoreAfterExecute() throws {
    let directory = try Self.runbookDirectory(Self.restoreRunbook)
    let elsewhere = try CLI.temporaryDirectory()
    defer {
      try? FileManager.default.removeItem(at: directory)
      try? FileManager.default.removeItem(at: elsewhere)
    }
    try FileManager.default.createDirectory(
      at: directory.appendingPathComponent("config"), withIntermediateDirectories: true)
    let local = directory.appendingPathComponent(".env.local")
    let config = directory.appendingPathComponent("config/.env")
    let localBytes = Data("# local\r\nUSE_API=true\r\nOTHER='a b'  # kept\r\n".utf8)
    let configBytes = Data("export USE_API=\"true\"\nZ=1".utf8)
    try localBytes.write(to: local)
    try configBytes.write(to: config)
    let runbook = directory.appendingPathComponent("rollback.yaml").path
    let state = directory.appendingPathComponent("state").path

    // Run from another directory: the files are the ones beside the runbook.
    let execute = try CLI.run(
      ["execute", "--runbook", runbook, "--level", "3", "--yes", "--json", "--state-dir", state],
      in: elsewhere)
    #expect(execute.status == 0, "\(execute.stdout)\(execute.stderr)")
    #expect(try String(contentsOf: local, encoding: .utf8).contains("USE_API=false"))
    #expect(try String(contentsOf: config, encoding: .utf8).contains("USE_API=\"false\""))
    #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
    let runID = try #require(try Self.json(execute.stdout)["run_id"] as? String)

    // One file only, then the rest.
    let one = try CLI.run(["restore", runID, config.path, "--state-dir", state], in: elsewhere)
    #expect(one.status == 0, "\(one.stderr)")
    #expect(try Data(contentsOf: config) == configBytes)
    #expect(try Data(contentsOf: local) != localBytes)
    let all = try CLI.run(["restore", runID, "--state-dir", state, "--json"], in: elsewhere)
    #expect(all.status == 0, "\(all.stderr)")
    #expect(try Data(contentsOf: local) == localBytes)
    #expect(try Data(contentsOf: config) == configBytes)
    let files = try #require(try Self.json(all.stdout)["files"] as? [[String: Any]])
    #expect(Set(files.compactMap { $0["status"] as? String }) == ["restored", "unchanged"])

    let journal = try String(contentsOfFile: "\(state)/runs/\(runID).jsonl", encoding: .utf8)
    #expect(journal.components(separatedBy: "\"event\":\"restored\"").count - 1 == 2, "\(journal)")

    // A run that does not exist, or a file the run did not change: exit 2, nothing written.
    let missing = try CLI.run(["restore", "20000101T000000Z-nope", "--state-dir", state])
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("no run 20000101T000000Z-nope"), "\(missing.stderr)")
    let stranger = try CLI.run(["restore", runID, "/etc/hostname", "--state-dir", state])
    #expect(stranger.status == 2)
    #expect(stranger.stderr.contains("did not change /etc/hostname"), "\(stranger.stderr)")
  }

  @Test("plan --list shows every level and scenario with title and target, for people and as JSON")
  func planList() throws {
    let atom = "runbooks/frontend-backend-migration.yaml"
    let human = try CLI.run(["plan", "--list", "--runbook", atom])
    #expect(human.status == 0, "\(human.stderr)")
    #expect(human.stdout.contains("Levels (rollback plan --level N)"))
    #expect(human.stdout.contains("   3  Full rollback · target 5m · 8 steps"), "\(human.stdout)")
    #expect(human.stdout.contains("Scenarios (rollback plan --scenario NAME)"))
    #expect(human.stdout.contains("backend-down"))
    #expect(human.stdout.contains("Backend API down · target 5m"), "\(human.stdout)")

    let json = try CLI.run(["plan", "--list", "--runbook", atom, "--json"])
    #expect(json.status == 0, "\(json.stderr)")
    let document = try Self.json(json.stdout)
    let levels = try #require(document["levels"] as? [[String: Any]])
    #expect(levels.compactMap { $0["level"] as? Int } == [1, 2, 3])
    #expect(levels.last?["name"] as? String == "Full rollback")
    #expect(levels.last?["target_s"] as? Int == 300)
    let scenarios = try #require(document["scenarios"] as? [[String: Any]])
    let backendDown = try #require(scenarios.first { $0["scenario"] as? String == "backend-down" })
    #expect(backendDown["title"] as? String == "Backend API down")
    // Every scenario listed is one that plan accepts.
    for scenario in scenarios.compactMap({ $0["scenario"] as? String }) {
      #expect(try CLI.run(["plan", "--runbook", atom, "--scenario", scenario]).status == 0, "\(scenario)")
    }
    #expect(try CLI.run(["plan", "--list", "--level", "3", "--runbook", atom]).status == 2)
  }

  @Test("a 2 GB sparse runbook is refused from its size alone, fast")
  func hugeFileRefusedBeforeReading() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let path = directory.appendingPathComponent("huge.yaml").path
    #expect(FileManager.default.createFile(atPath: path, contents: Data("version: 1\n".utf8)))
    let handle = try #require(FileHandle(forWritingAtPath: path))
    try handle.truncate(atOffset: 2 << 30)
    try handle.close()
    let started = Date()
    let result = try CLI.run(["validate", "--runbook", path])
    let elapsed = Date().timeIntervalSince(started)
    #expect(result.status == 2)
    #expect(result.stderr.contains("file is larger than 8 MiB (2147483648 bytes)"), "\(result.stderr)")
    #expect(elapsed < 5, "took \(elapsed) s")
  }

  @Test("a runbook path that is a directory or a FIFO gets its own message, without hanging")
  func directoryAndFIFO() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let folder = try CLI.run(["validate", "--runbook", directory.path])
    #expect(folder.status == 2)
    #expect(
      folder.stderr.contains("runbook \(directory.path) is a directory, not a file"), "\(folder.stderr)")

    let fifo = directory.appendingPathComponent("pipe.yaml").path
    #expect(mkfifo(fifo, 0o600) == 0)
    let started = Date()
    let pipe = try CLI.run(["plan", "--runbook", fifo, "--level", "1"])
    #expect(Date().timeIntervalSince(started) < 5)
    #expect(pipe.status == 2)
    #expect(pipe.stderr.contains("is a FIFO (named pipe), not a regular file"), "\(pipe.stderr)")
  }

  @Test("validate warns when a ratio or percent signal is a bare rate() with no division")
  func bareRateRatioWarning() throws {
    func runbook(_ query: String, unit: String) -> String {
      """
      version: 1
      name: ratios
      environments:
        production:
          prometheus: {url: "http://127.0.0.1:9090"}
      signals:
        errors: {prometheus: '\(query)', unit: \(unit)}
      decision:
        - {severity: critical, any: ["errors > 5%"], action: monitor}
      levels:
        1:
          steps:
            - {id: look, check: [errors]}
      """
    }
    let cases: [(String, String, Bool)] = [
      ("rate(api_errors_total[5m])", "ratio", true),
      ("sum(irate(api_errors_total{path=\"/a/b\"}[1m]))", "percent", true),
      ("increase (api_errors_total[1h])", "ratio", true),
      ("sum(rate(api_errors_total[5m])) / sum(rate(api_requests_total[5m]))", "ratio", false),
      ("rate(api_errors_total[5m])", "count", false),
      ("error_ratio", "ratio", false),
    ]
    for (query, unit, warns) in cases {
      let directory = try Self.runbookDirectory(runbook(query, unit: unit))
      defer { try? FileManager.default.removeItem(at: directory) }
      let result = try CLI.run(["validate"], in: directory)
      #expect(result.status == 0, "\(query): \(result.stderr)")
      let warned = result.stderr.contains("is a bare rate/irate/increase with no division")
      #expect(warned == warns, "\(query) (\(unit)): \(result.stderr)")
      if warns {
        #expect(try CLI.run(["validate", "--strict"], in: directory).status == 2)
      }
    }
  }
}
