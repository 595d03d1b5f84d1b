import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `rollback drill`: the seed's rollback test, scripted.
struct DrillCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "drill",
    abstract:
      "Rehearse a level for real: flag on, restart and verify, execute the level, verify again, time it.",
    usage: "rollback drill --level <n> [--junit <file>] [--yes] [<options>]",
    discussion: """
      Meant for staging and CI. Exit 0 only when every step passed and the rollback (the level's \
      own steps) finished within the level's target. --junit writes one test case per step.
      """)

  @OptionGroup var options: RunbookOptions
  @OptionGroup var variables: VariableOptions

  @Option(
    name: .long, help: ArgumentHelp("The level to drill.", valueName: "n"), completion: Completions.levels)
  var level: Int

  @Option(name: .long, help: ArgumentHelp("Write a JUnit XML report here.", valueName: "file"))
  var junit: String?

  @Flag(name: .long, help: "Answer yes to every confirm gate.")
  var yes = false

  func run() async throws {
    let overrides = try variables.overrides()
    let loaded = try LoadedRunbook.load(options, overrides: overrides, printWarnings: false)
    let runbook = try loaded.runbook()
    try CommandLineChecks.check(.level(level), in: runbook)
    let request = ExecutionRequest(
      runbook: runbook, runbookPath: loaded.path,
      runbookHash: ContentHash.of(Array(loaded.result.source.utf8)),
      target: .level(level), environmentName: options.env, overrides: overrides,
      processEnvironment: ProcessInfo.processInfo.environment, manual: ManualValues(), dryRun: false,
      assumeYes: yes,
      canPrompt: isatty(STDIN_FILENO) == 1, stateDirectory: stateDirectory(options, runbookPath: loaded.path),
      kind: .drill)
    let result = try await perform(request, options: options)
    if let junit {
      do {
        try JUnitReport.xml(result).write(toFile: junit, atomically: true, encoding: .utf8)
      } catch {
        Console.error("error: cannot write \(junit): \(error.localizedDescription)")
        throw ExitCode(.failed)
      }
    }
    if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    if result.withinTarget == false {
      Console.error("drill failed: the rollback took longer than the level's target")
      throw ExitCode(.failed)
    }
  }
}

/// JUnit XML that CI systems read: one test case per step, plus the time target.
enum JUnitReport {
  /// Text made safe for the XML document (control characters become U+FFFD).
  static func escape(_ text: String) -> String { XMLText.escaped(text) }

  static func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

  static func xml(_ result: RunResult) -> String {
    let what = result.level.map { "level\($0)" } ?? "scenario-\(result.scenario ?? "")"
    let suite = "rollback.drill.\(result.runbook).\(what)"
    var cases: [String] = []
    var failures = 0
    var skipped = 0
    for step in result.steps {
      var body = ""
      switch step.status {
      case .succeeded:
        break
      case .skipped:
        skipped += 1
        body = "<skipped message=\"\(escape(step.detail))\"/>"
      case .pending:
        failures += 1
        body = "<failure message=\"not reached: the drill stopped before this step\" type=\"pending\"/>"
      case .failed, .wouldRun, .sampled:
        failures += 1
        let tail = step.output.map { String($0.suffix(4000)) } ?? ""
        body =
          "<failure message=\"\(escape(step.error ?? "failed"))\" type=\"\(step.kind)\">\(escape(tail))</failure>"
      }
      cases.append(
        "    <testcase classname=\"\(escape(suite))\" name=\"\(escape(step.id))\" time=\"\(seconds(step.duration))\">"
          + body + "</testcase>")
    }
    if let target = result.target {
      let time = result.rollbackDuration ?? result.duration
      var body = ""
      if result.withinTarget != true {
        failures += 1
        body =
          "<failure message=\"rollback took \(seconds(time)) s, target \(seconds(target)) s\" type=\"target\"/>"
      }
      cases.append(
        "    <testcase classname=\"\(escape(suite))\" name=\"within-target\" time=\"\(seconds(time))\">\(body)</testcase>"
      )
    }
    let timestamp = Timestamp.iso(result.startedAt)
    return """
      <?xml version="1.0" encoding="UTF-8"?>
      <testsuites name="rollback drill" tests="\(cases.count)" failures="\(failures)" time="\(seconds(result.duration))">
        <testsuite name="\(escape(suite))" tests="\(cases.count)" failures="\(failures)" errors="0" skipped="\(skipped)" time="\(seconds(result.duration))" timestamp="\(timestamp)">
      \(cases.joined(separator: "\n"))
        </testsuite>
      </testsuites>

      """
  }
}
