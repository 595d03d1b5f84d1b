import RollbackCore
import Testing

/// A small valid runbook; each broken case replaces one line of it.
let validRunbook = """
  version: 1
  name: demo
  environments:
    production:
      vars: {app_dir: /srv/app}
      prometheus: {url: "http://127.0.0.1:9090"}
  flags:
    api:
      key: USE_API
      files: ["${app_dir}/.env"]
      service: web
  services:
    web:
      restart: [systemctl, restart, web]
  signals:
    error_rate:
      prometheus: rate(errors_total[5m])
      unit: ratio
  decision:
    # first match wins
    - severity: critical
      any: ["error_rate > 5%"]
      action: {level: 1}
  levels:
    1:
      name: Full
      target: 5m
      steps:
        - id: off
          flag: {name: api, set: disabled}
        - restart: web
  """

/// The valid runbook with line `number` (1-based) replaced by `lines`.
func replacing(line number: Int, with lines: String) -> String {
  replacing(lines: number...number, with: lines)
}

/// The valid runbook with the lines `numbers` (1-based) replaced by `lines`.
func replacing(lines numbers: ClosedRange<Int>, with lines: String) -> String {
  var all = validRunbook.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
  all.replaceSubrange((numbers.lowerBound - 1)..<numbers.upperBound, with: [lines])
  return all.joined(separator: "\n")
}

/// A broken runbook whose text marks with `1️⃣` the place its error must point to.
struct BrokenCase: CustomTestStringConvertible, Sendable {
  let name: String
  /// The runbook, its marker taken out.
  let source: String
  /// `LINE:COL` of the marker.
  let place: String
  /// `error: message` as printed after `FILE:LINE:COL: `.
  let message: String
  var environment: [String: String] = [:]
  var testDescription: String { name }

  init(name: String, source marked: String, message: String, environment: [String: String] = [:]) {
    let text = MarkedText(marked)
    self.name = name
    self.source = text.text
    self.place = text.place()
    self.message = message
    self.environment = environment
  }

  /// A case whose place is written by hand: `expected` is `LINE:COL: error: message`.
  init(name: String, source: String, expected: String, environment: [String: String] = [:]) {
    let parts = expected.split(separator: ":", maxSplits: 2)
    self.name = name
    self.source = source
    self.place = parts.count == 3 ? "\(parts[0]):\(parts[1])" : "?"
    self.message = parts.count == 3 ? String(parts[2].dropFirst()) : expected
    self.environment = environment
  }
}

let brokenCases: [BrokenCase] = [
  BrokenCase(
    name: "wrong version", source: replacing(line: 1, with: "version: 1️⃣2"),
    message: "error: unsupported version '2'; this tool reads runbook format version 1"),
  BrokenCase(
    name: "unknown top-level key with hint", source: replacing(line: 2, with: "name: demo\n1️⃣descriptoin: x"),
    message: "error: unknown key 'descriptoin' in the runbook; did you mean 'description'?"),
  BrokenCase(
    name: "unknown step key with hint",
    source: replacing(line: 30, with: "        flag: {name: api, set: disabled}\n        1️⃣timout: 5s"),
    message: "error: unknown key 'timout' in step 'off' of level 1; did you mean 'timeout'?"),
  BrokenCase(
    name: "bad duration", source: replacing(line: 27, with: "    target: 1️⃣5 minutes"),
    message:
      "error: bad duration '5 minutes' for target of level 1; write e.g. 500ms, 30s, 5m, 1h or 1m30s"),
  BrokenCase(
    name: "bad unit in a condition", source: replacing(line: 22, with: "    any: [\"error_rate > 51️⃣pc\"]"),
    message: "error: unknown unit 'pc' in '5pc' (units: %, ms, s, m, h, KB, MB, GB, KiB, MiB, GiB)"),
  BrokenCase(
    name: "unknown signal in a rule", source: replacing(line: 22, with: "    any: [\"1️⃣eror_rate > 5%\"]"),
    message: "error: unknown signal 'eror_rate'; did you mean 'error_rate'?"),
  BrokenCase(
    name: "unknown flag in a step",
    source: replacing(line: 30, with: "        flag: {name: 1️⃣apii, set: disabled}"),
    message: "error: unknown flag 'apii'; did you mean 'api'?"),
  BrokenCase(
    name: "two kinds in one step",
    source: replacing(line: 30, with: "        flag: {name: api, set: disabled}\n        1️⃣restart: web"),
    message:
      "error: step 'off' of level 1 has two kinds, 'flag' and 'restart'; a step has exactly one kind — split it into two steps"
  ),
  BrokenCase(
    name: "duplicate step id", source: replacing(line: 31, with: "      - 1️⃣id: off\n        restart: web"),
    message: "error: duplicate step id 'off' in level 1 (first at line 29); ids must be unique"),
  BrokenCase(
    name: "include cycle",
    source: replacing(line: 31, with: "      - restart: web\n      - include: 1️⃣level 1"),
    message: "error: include cycle: level 1 -> level 1"),
  BrokenCase(
    name: "unset ${env.X} without default",
    source: replacing(line: 5, with: "    vars: {app_dir: 1️⃣\"${env.APP_DIR_UNSET}\"}"),
    message:
      "error: environment variable APP_DIR_UNSET is not set; set it or write '${env.APP_DIR_UNSET:-default}'"
  ),
  BrokenCase(
    name: "YAML syntax error",
    source: replacing(lines: 22...23, with: "    any: [\"error_rate > 5%\"\n    1️⃣action: {level: 1}"),
    message:
      "error: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 22, column 10)"
  ),
  BrokenCase(
    name: "wrong type", source: replacing(line: 10, with: "    files: 1️⃣{a: b}"),
    message: "error: expected a string for files of flag 'api', found a mapping"),
  BrokenCase(
    name: "empty levels",
    source: String(validRunbook.split(separator: "\n").prefix(23).joined(separator: "\n")) + "\nlevels: 1️⃣{}",
    message: "error: levels is empty; declare at least one level"),
  BrokenCase(
    name: "missing required key", source: replacing(lines: 1...2, with: "1️⃣version: 1\ndescription: no name"),
    message: "error: missing required key 'name' in the runbook"),
  BrokenCase(
    name: "unknown service in a restart", source: replacing(line: 31, with: "      - restart: 1️⃣webb"),
    message: "error: unknown service 'webb'; did you mean 'web'?"),
  BrokenCase(
    name: "unknown level in an action", source: replacing(line: 23, with: "    action: 1️⃣{level: 7}"),
    message: "error: unknown level 7 in the action (levels: 1)"),
  BrokenCase(
    name: "unknown scenario in an include",
    source: replacing(line: 31, with: "      - include: 1️⃣scenario db-down"),
    message: "error: unknown scenario 'db-down'"),
  BrokenCase(
    name: "step without a kind", source: replacing(line: 31, with: "      - 1️⃣name: nothing to do"),
    message:
      "error: step 2 of level 1 has no kind; give exactly one of check, assert, wait, flag, restart, run, http, sql, notify, confirm, include, rolling, silence"
  ),
  BrokenCase(
    name: "bad operator", source: replacing(line: 22, with: "    any: [\"error_rate 1️⃣=> 5%\"]"),
    message: "error: expected an operator (> >= < <= == !=) after 'error_rate', found '=>'"),
  BrokenCase(
    name: "missing number", source: replacing(line: 22, with: "    any: [\"error_rate > 1️⃣\"]"),
    message: "error: expected a number after 'error_rate >', found nothing"),
  BrokenCase(
    name: "unknown severity with hint", source: replacing(line: 21, with: "  - severity: 1️⃣critcal"),
    message:
      "error: unknown severity 'critcal'; did you mean 'critical'? (critical, high, medium or low)"),
  BrokenCase(
    name: "unknown variable", source: replacing(line: 10, with: "    files: [1️⃣\"${appdir}/.env\"]"),
    message: "error: unknown variable 'appdir' in environment 'production'; did you mean 'app_dir'?"),
  BrokenCase(
    name: "set value not enabled or disabled",
    source: replacing(line: 30, with: "        flag: {name: api, set: 1️⃣off}"),
    message: "error: set must be enabled or disabled, found 'off'"),
  BrokenCase(
    name: "step down without a ladder",
    source: replacing(line: 30, with: "        flag: {name: 1️⃣api, step_down: true}"),
    message: "error: flag 'api' has no ladder to step down; give it percent_key and stages"),
  BrokenCase(
    name: "unknown signal unit", source: replacing(line: 18, with: "    unit: 1️⃣ratoi"),
    message:
      "error: unknown unit 'ratoi' for signal 'error_rate'; did you mean 'ratio'? (units: ratio, seconds, count, bytes, percent)"
  ),
  BrokenCase(
    name: "unterminated placeholder", source: replacing(line: 10, with: "    files: [\"1️⃣${app_dir/.env\"]"),
    message:
      "error: unterminated '${' in '${app_dir/.env'; close it with '}' or write '$${' for a literal '${'"
  ),
  BrokenCase(
    name: "duplicate key", source: replacing(line: 2, with: "1️⃣name: demo\nname: again"),
    message: "error: duplicate key 'name' in a mapping; each key may appear once"),
  BrokenCase(
    name: "within on a flag step",
    source: replacing(line: 30, with: "        flag: {name: api, set: disabled}\n        1️⃣within: 2m"),
    message: "error: 'within' belongs to a wait step, not a flag step"),
  BrokenCase(
    name: "not a mapping at the top", source: "1️⃣- just\n- a list",
    message: "error: expected a mapping for the runbook, found a list"),
  BrokenCase(
    name: "run as a plain string", source: replacing(line: 31, with: "      - run: 1️⃣rm -rf /tmp/x"),
    message:
      "error: run of step 2 of level 1 must be a list (program and arguments, no shell) or {shell: \"…\"}, found 'rm -rf /tmp/x'"
  ),
  BrokenCase(
    name: "a target beyond 7 days", source: replacing(line: 27, with: "    target: 1️⃣999999999999999h"),
    message:
      "error: duration '999999999999999h' for target of level 1 is too long; at most 168h (7 days)"),
  BrokenCase(
    name: "a wait longer than 7 days",
    source: replacing(line: 31, with: "      - wait: \"error_rate < 1%\"\n        within: 1️⃣168h1s"),
    message:
      "error: duration '168h1s' for within of step 2 of level 1 is too long; at most 168h (7 days)"),
  BrokenCase(
    name: "a timeout of 10^20 seconds",
    source: replacing(
      line: 30, with: "        flag: {name: api, set: disabled}\n        timeout: 1️⃣99999999999999999999s"),
    message:
      "error: duration '99999999999999999999s' for timeout of step 'off' of level 1 is too long; at most 168h (7 days)"
  ),
  BrokenCase(
    name: "consecutive out of range",
    source: replacing(line: 31, with: "      - wait: \"error_rate < 1%\"\n        consecutive: 1️⃣99999999999"),
    message: "error: consecutive of step 2 of level 1 must be between 1 and 10000"),
  BrokenCase(
    name: "unknown template in a notify step",
    source: replacing(
      line: 31, with: "      - notify: {template: 1️⃣rollbak}\ntemplates:\n  rollback: \"rolled back\""),
    message: "error: unknown template 'rollbak'; did you mean 'rollback'?"),
]

@Suite("Broken runbooks are reported at the exact place")
struct BrokenRunbookTests {
  @Test("the base runbook is valid")
  func baseIsValid() {
    let result = RunbookLoader.load(source: validRunbook, file: "demo.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
    #expect(result.runbook != nil)
  }

  @Test("each broken runbook gives its located error", arguments: brokenCases)
  func brokenCase(_ item: BrokenCase) {
    let result = RunbookLoader.load(
      source: item.source, file: "demo.yaml", options: LoadOptions(processEnvironment: item.environment))
    let printed = result.errors.map(\.description)
    #expect(item.place != "?", "the case marks no place")
    #expect(printed.contains("demo.yaml:\(item.place): \(item.message)"), "got: \(printed)")
    #expect(result.runbook == nil)
  }

  @Test("a notify step's template is filled in from templates: when the runbook is read")
  func notifyTemplate() throws {
    let source = replacing(
      line: 31,
      with: "      - notify: {template: rollback}\ntemplates:\n  rollback: \"rolled back ${app_dir}\"")
    let result = RunbookLoader.load(source: source, file: "demo.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
    let steps = try #require(result.runbook?.level(1)?.steps)
    guard case .notify(let spec) = steps.last?.kind else {
      Issue.record("the last step is not a notify step")
      return
    }
    #expect(spec.message.raw == "rolled back ${app_dir}")
    #expect(spec.templateName == "rollback")
    #expect(spec.message.location.line == 33)
  }

  @Test("every problem is reported in one pass")
  func allProblemsAtOnce() {
    var source = replacing(line: 22, with: "    any: [\"eror_rate > 5%\"]")
    source = source.replacingOccurrences(of: "target: 5m", with: "target: soon")
    source = source.replacingOccurrences(of: "- restart: web", with: "- restart: webb")
    let result = RunbookLoader.load(source: source, file: "demo.yaml")
    let lines = result.errors.map(\.location.line)
    #expect(lines == [22, 27, 31], "\(result.errors)")
  }

  @Test("a diagnostic renders with the source line and a caret under the column")
  func rendering() throws {
    let source = replacing(line: 22, with: "    any: [\"eror_rate > 5%\"]")
    let result = RunbookLoader.load(source: source, file: "demo.yaml")
    let first = try #require(result.errors.first)
    #expect(
      first.rendered(source: source)
        == """
        demo.yaml:22:12: error: unknown signal 'eror_rate'; did you mean 'error_rate'?
            any: ["eror_rate > 5%"]
                   ^
        """)
  }

  @Test("an alias bomb is refused quickly, not expanded")
  func billionLaughs() {
    var lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    var previous = "a"
    for name in ["b", "c", "d", "e", "f", "g", "h", "i"] {
      lines.append(
        "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]")
      previous = name
    }
    let clock = ContinuousClock()
    let started = clock.now
    let result = RunbookLoader.load(source: lines.joined(separator: "\n"), file: "bomb.yaml")
    #expect(clock.now - started < .seconds(2))
    #expect(result.errors.first?.message.contains("expands to more than") == true, "\(result.errors)")
  }
}

@Suite("numbers that cannot crash")
struct NumberBoundsTests {
  @Test("Quantity.format never traps: huge, negative and non-finite seconds are unknown")
  func formatIsTotal() {
    for value in [1e300, -1e300, .infinity, -.infinity, .nan, 1e19, -1] {
      #expect(Quantity.format(seconds: value) == "unknown", "\(value)")
    }
    #expect(Quantity.format(seconds: Quantity.maximumSeconds) == "168h")
  }

  @Test("a threshold that overflows is not a number")
  func thresholdOverflow() {
    #expect(Quantity.threshold("1e308GiB") == .notANumber)
    #expect(Quantity.threshold("5%") == .value(0.05))
  }

  @Test("out-of-range journal numbers are unknown, and history renders them")
  func journalNumbers() {
    let journal = """
      {"event":"run-started","run_id":"r","level":1,"environment":"prod","target_s":1e300}
      {"event":"run-finished","status":"failed","duration_s":-5.0,"rollback_duration_s":1e300,"within_target":false}
      """
    let events = JournalEvent.events(jsonl: Array(journal.utf8))
    #expect(events.count == 2)
    let summary = RunSummary.parse(events)
    #expect(summary?.targetSeconds == nil)
    #expect(summary?.duration == nil)
    #expect(summary?.rollbackDuration == nil)
    if let summary {
      #expect(HistoryRendering.cells(summary) == ["r", "level 1", "prod", "failed", "—", "—"])
    }
  }
}
