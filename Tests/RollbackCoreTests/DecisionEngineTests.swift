import Foundation
import RollbackCore
import Testing

/// A runbook whose matrix exercises `any`, `all`, units and every action.
private func decisionRunbook(onUnknown: String? = nil) throws -> Runbook {
  let source = """
    version: 1
    name: decide
    environments:
      production:
        prometheus:
          url: http://127.0.0.1:9090
    flags:
      api:
        key: USE_API
        files: [/srv/app/.env]
        percent_key: API_PERCENT
        stages: [0, 50, 100]
    signals:
      error_rate:
        prometheus: errors
        unit: ratio
      p95:
        prometheus: p95
        unit: seconds
      pool:
        prometheus: pool
        unit: percent
      up:
        prometheus: up
        unit: count
      complaints:
        manual: true
        default: 0
        unit: count
      users:
        manual: true
        unit: ratio
    decision:
      - severity: critical
        label: P0
        symptoms: [API down]
        any: ["error_rate > 5%", "up < 1"]
        action: {level: 3}
        respond_within: 5m
      - severity: high
        all: ["p95 > 2s", "pool > 90%"]
        action: {step_down: api}
        respond_within: 15m
      - severity: medium
        any: ["error_rate > 0.5%", "complaints > 5", "users >= 50%"]
        action: pause
        respond_within: 1h
      - severity: low
        any: ["p95 > 500ms"]
        action: monitor
    \(onUnknown.map { "decision_on_unknown: \($0)" } ?? "")
    levels:
      3:
        name: Full rollback
        target: 5m
        steps:
          - check: [error_rate, p95, pool, up, complaints, users]
    scenarios:
      backend-down:
        title: Backend API down
        steps:
          - check: [up]
    """
  let result = RunbookLoader.load(source: source, file: "decide.yaml")
  let problems = result.errors.map(\.description).joined(separator: "\n")
  return try #require(result.runbook, "\(problems)")
}

/// Readings for every signal of the runbook: a number is known, nil is unknown (timeout).
/// Signals not named are healthy values.
private func readings(_ runbook: Runbook, _ values: [String: Double?] = [:]) -> [SignalReading] {
  let healthy: [String: Double] = [
    "error_rate": 0.001, "p95": 0.2, "pool": 30, "up": 1, "complaints": 0, "users": 0,
  ]
  return runbook.signals.map { signal in
    let value: Double? = values.keys.contains(signal.name) ? values[signal.name] ?? nil : healthy[signal.name]
    return SignalReading(
      name: signal.name, source: signal.sourceName, unit: signal.unit, value: value,
      error: value == nil ? "timeout after 5s" : nil)
  }
}

@Suite("DecisionEngine: first match wins, unknown is never healthy")
struct DecisionEngineTests {
  @Test("every signal known and no rule holding is healthy, exit 0")
  func healthy() throws {
    let runbook = try decisionRunbook()
    let verdict = DecisionEngine.decide(runbook: runbook, readings: readings(runbook))

    #expect(verdict.label == "healthy")
    #expect(verdict.severity == nil)
    #expect(!verdict.inconclusive)
    #expect(verdict.exitCode == 0)
    #expect(verdict.action == .none)
    #expect(verdict.matched.isEmpty)
    #expect(verdict.rules.map(\.holds) == [false, false, false, false])
  }

  @Test("any: one comparison is enough; matched lists only the comparisons that held")
  func anyHolds() throws {
    let runbook = try decisionRunbook()
    let verdict = DecisionEngine.decide(runbook: runbook, readings: readings(runbook, ["up": 0]))

    #expect(verdict.severity == .critical)
    #expect(verdict.matched == ["up < 1"])
    #expect(verdict.action == .level(3))
    #expect(verdict.respondWithin == 300)
    #expect(verdict.rule?.label == "P0")
    #expect(verdict.exitCode == 13)
  }

  @Test("all: holds only when every comparison holds")
  func allNeedsEveryComparison() throws {
    let runbook = try decisionRunbook()
    let one = DecisionEngine.decide(runbook: runbook, readings: readings(runbook, ["p95": 2.5]))
    let both = DecisionEngine.decide(runbook: runbook, readings: readings(runbook, ["p95": 2.5, "pool": 95]))

    // p95 alone falls through the high rule (all) to low (p95 > 500ms).
    #expect(one.severity == .low)
    #expect(one.rules[1].holds == false)
    #expect(one.rules[1].comparisons.map(\.holds) == [true, false])
    #expect(both.severity == .high)
    #expect(both.matched == ["p95 > 2s", "pool > 90%"])
    #expect(both.action == .stepDown("api"))
    #expect(both.exitCode == 12)
  }

  @Test(
    "thresholds compare in base units: percent-unit values, ratios, seconds in ms",
    arguments: [
      // pool is a percent-unit signal: 91 is above 90%, 90 is not.
      (["p95": 2.5, "pool": 91.0], Severity?.some(.high)),
      (["p95": 2.5, "pool": 90.0], Severity?.some(.low)),
      // error_rate is a ratio: 0.006 is above 0.5%, 0.004 is not.
      (["error_rate": 0.006], Severity?.some(.medium)),
      (["error_rate": 0.004], Severity?.none),
      // p95 in seconds against 500ms.
      (["p95": 0.501], Severity?.some(.low)),
      (["p95": 0.5], Severity?.none),
    ])
  func units(values: [String: Double], expected: Severity?) throws {
    let runbook = try decisionRunbook()
    let verdict = DecisionEngine.decide(runbook: runbook, readings: readings(runbook, values))

    #expect(verdict.severity == expected)
    #expect(!verdict.inconclusive)
  }

  @Test("the first rule that holds wins; later rules are marked not reached")
  func firstMatchWins() throws {
    let runbook = try decisionRunbook()
    let verdict = DecisionEngine.decide(
      runbook: runbook, readings: readings(runbook, ["error_rate": 0.08, "p95": 3, "pool": 99]))

    #expect(verdict.severity == .critical)
    #expect(verdict.matched == ["error_rate > 5%"])
    #expect(verdict.rules.map(\.reached) == [true, false, false, false])
    // The rules below are still evaluated, so a report can say they would hold too.
    #expect(verdict.rules.map(\.holds) == [true, true, true, true])
  }

  @Test(
    "each severity has its exit status",
    arguments: [
      (["up": 0.0], Int32(13), "critical"), (["p95": 3.0, "pool": 95.0], 12, "high"),
      (["complaints": 6.0], 11, "medium"), (["p95": 0.7], 10, "low"), ([:], 0, "healthy"),
    ])
  func exitCodes(values: [String: Double], code: Int32, label: String) throws {
    let runbook = try decisionRunbook()
    let verdict = DecisionEngine.decide(runbook: runbook, readings: readings(runbook, values))

    #expect(verdict.exitCode == code)
    #expect(verdict.label == label)
  }

  @Test("an unknown signal in the first rule makes the result inconclusive even if a lower rule holds")
  func unknownAboveIsInconclusive() throws {
    let runbook = try decisionRunbook()
    let verdict = DecisionEngine.decide(
      runbook: runbook, readings: readings(runbook, ["up": nil, "p95": 3, "pool": 95]))

    #expect(verdict.inconclusive)
    #expect(verdict.severity == nil)
    #expect(verdict.label == "inconclusive")
    #expect(verdict.exitCode == 3)
    #expect(verdict.unknownSignals == ["up"])
    #expect(verdict.action == .none)
    #expect(verdict.rule?.severity == .critical)
  }

  @Test("an unknown signal below a rule that holds does not matter")
  func unknownBelowDoesNotMatter() throws {
    let runbook = try decisionRunbook()
    let verdict = DecisionEngine.decide(runbook: runbook, readings: readings(runbook, ["up": 0, "p95": nil]))

    #expect(verdict.severity == .critical)
    #expect(!verdict.inconclusive)
    #expect(verdict.unknownSignals.isEmpty)
  }

  @Test("any: a comparison that holds decides the rule even when another signal in it is unknown")
  func anyWithUnknownStillHolds() throws {
    let runbook = try decisionRunbook()
    let verdict = DecisionEngine.decide(
      runbook: runbook, readings: readings(runbook, ["error_rate": 0.2, "up": nil]))

    #expect(verdict.severity == .critical)
    #expect(!verdict.inconclusive)
    #expect(verdict.rules[0].comparisons.map(\.holds) == [true, nil])
  }

  @Test("all: a comparison that fails decides the rule even when another signal in it is unknown")
  func allWithUnknownStillFails() throws {
    let runbook = try decisionRunbook()
    let verdict = DecisionEngine.decide(
      runbook: runbook, readings: readings(runbook, ["p95": 0.1, "pool": nil]))

    #expect(verdict.rules[1].holds == false)
    #expect(verdict.label == "healthy")
  }

  @Test("all: an unknown signal with every other comparison holding is undecided")
  func allWithUnknownUndecided() throws {
    let runbook = try decisionRunbook()
    let verdict = DecisionEngine.decide(
      runbook: runbook, readings: readings(runbook, ["p95": 3, "pool": nil]))

    #expect(verdict.inconclusive)
    #expect(verdict.rule?.severity == .high)
    #expect(verdict.unknownSignals == ["pool"])
  }

  @Test("an unknown signal no rule reads leaves a healthy verdict healthy")
  func unusedUnknown() throws {
    var runbook = try decisionRunbook()
    runbook.decision.removeLast()  // the low rule, the only one reading p95 alone
    runbook.decision[1].all.removeAll { $0.signal == "p95" }
    let verdict = DecisionEngine.decide(runbook: runbook, readings: readings(runbook, ["p95": nil]))

    #expect(verdict.label == "healthy")
  }

  @Test(
    "NaN and infinities are unknown, never a value that compares",
    arguments: [Double.nan, .infinity, -.infinity])
  func nonFiniteIsUnknown(value: Double) throws {
    let runbook = try decisionRunbook()
    let verdict = DecisionEngine.decide(runbook: runbook, readings: readings(runbook, ["up": value]))

    #expect(verdict.inconclusive)
    #expect(verdict.unknownSignals == ["up"])
    #expect(verdict.exitCode == 3)
  }

  @Test("decision_on_unknown names the severity to act on, with that rule's action and deadline")
  func decisionOnUnknown() throws {
    let runbook = try decisionRunbook(onUnknown: "high")
    let verdict = DecisionEngine.decide(runbook: runbook, readings: readings(runbook, ["up": nil]))

    #expect(verdict.severity == .high)
    #expect(verdict.inconclusive)
    #expect(verdict.action == .stepDown("api"))
    #expect(verdict.respondWithin == 900)
    #expect(verdict.matched.isEmpty)
    #expect(verdict.unknownSignals == ["up"])
    #expect(verdict.exitCode == 12)
  }

  @Test("decision_on_unknown never escalates past the undecided rule's own severity")
  func decisionOnUnknownIsCapped() throws {
    let runbook = try decisionRunbook(onUnknown: "critical")
    // Only the low rule reads p95 alone... but p95 is also in the high rule (all), which
    // a healthy pool decides as false. So the low rule is the one left undecided.
    let verdict = DecisionEngine.decide(runbook: runbook, readings: readings(runbook, ["p95": nil]))

    #expect(verdict.severity == .low)
    #expect(verdict.inconclusive)
    #expect(verdict.action == .monitor)
    #expect(verdict.exitCode == 10)
  }

  @Test("decision_on_unknown does not apply when a rule above holds, or when nothing is unknown")
  func decisionOnUnknownOnlyWhenUndecided() throws {
    let runbook = try decisionRunbook(onUnknown: "high")
    let holds = DecisionEngine.decide(runbook: runbook, readings: readings(runbook, ["up": 0, "p95": nil]))
    let healthy = DecisionEngine.decide(runbook: runbook, readings: readings(runbook))

    #expect(holds.severity == .critical)
    #expect(!holds.inconclusive)
    #expect(healthy.label == "healthy")
  }

  @Test("the action in words and the exact command")
  func describeActions() throws {
    let runbook = try decisionRunbook()
    let level = DecisionEngine.describe(.level(3), runbook: runbook, environment: "production")
    let stepDown = DecisionEngine.describe(.stepDown("api"), runbook: runbook, environment: "production")
    let scenario = DecisionEngine.describe(
      .scenario("backend-down"), runbook: runbook, environment: "staging")
    let pause = DecisionEngine.describe(.pause, runbook: runbook, environment: "production")

    #expect(level.words == "execute level 3 (Full rollback)")
    #expect(level.command == "rollback execute --level 3 --env production")
    #expect(stepDown.command == "rollback flag step-down api --env production")
    #expect(scenario.words == "run the backend-down procedure (Backend API down)")
    #expect(scenario.command == "rollback execute --scenario backend-down --env staging")
    #expect(pause.words == "pause the rollout and investigate")
    #expect(pause.command == nil)
  }
}

@Suite("Manual signals: --signal NAME=VALUE and defaults")
struct DecisionManualValuesTests {
  /// Readings as a reader leaves them: manual signals unknown, measured ones healthy.
  func measured(_ runbook: Runbook) -> [SignalReading] {
    readings(runbook).map { reading in
      guard reading.source == "manual" else { return reading }
      var unread = reading
      unread.value = nil
      unread.error = "not set; pass --signal \(reading.name)=VALUE"
      return unread
    }
  }

  @Test(
    "a manual signal without a value takes its default, marked as such; one without a default stays unknown")
  func defaults() throws {
    let runbook = try decisionRunbook()
    let applied = ManualValues().apply(to: measured(runbook), signals: runbook.signals)
    let complaints = try #require(applied.first { $0.name == "complaints" })
    let users = try #require(applied.first { $0.name == "users" })

    #expect(complaints.value == 0)
    #expect(complaints.isDefault)
    #expect(!complaints.setByHand)
    #expect(users.value == nil)
    #expect(users.formatted == "unknown — not set; pass --signal users=VALUE")
    // users feeds the medium rule: unknown there is inconclusive, never healthy.
    let verdict = DecisionEngine.decide(runbook: runbook, readings: applied)
    #expect(verdict.inconclusive)
    #expect(verdict.unknownSignals == ["users"])
  }

  @Test("values given by hand are set, marked, and decide like measured ones")
  func byHand() throws {
    let runbook = try decisionRunbook()
    let manual = try ManualValues(parsing: ["complaints=7", "users=60%", "error_rate=2%"], runbook: runbook)
    let applied = manual.apply(to: measured(runbook), signals: runbook.signals)
    let byName = Dictionary(uniqueKeysWithValues: applied.map { ($0.name, $0) })

    #expect(byName["complaints"]?.value == 7)
    #expect(byName["complaints"]?.setByHand == true)
    #expect(byName["complaints"]?.isDefault == false)
    #expect(byName["users"]?.value == 0.6)
    #expect(byName["users"]?.formatted == "60 %")
    // A measured signal overridden by hand.
    #expect(byName["error_rate"]?.value == 0.02)
    #expect(byName["error_rate"]?.setByHand == true)
    let verdict = DecisionEngine.decide(runbook: runbook, readings: applied)
    #expect(verdict.severity == .medium)
    #expect(verdict.matched == ["error_rate > 0.5%", "complaints > 5", "users >= 50%"])
  }

  @Test("a percent-unit signal given as 95% or 95 means 95 percent")
  func percentUnit() throws {
    let runbook = try decisionRunbook()
    let withSign = try ManualValues(parsing: ["pool=95%"], runbook: runbook)
    let bare = try ManualValues(parsing: ["pool=95"], runbook: runbook)

    #expect(withSign.values["pool"] == 95)
    #expect(bare.values["pool"] == 95)
  }

  @Test(
    "malformed --signal values are refused with a message naming the problem",
    arguments: [
      ("complaint=7", "unknown signal 'complaint'"),
      ("complaints", "--signal expects NAME=VALUE, found 'complaints'"),
      ("=7", "--signal expects NAME=VALUE"), ("complaints=many", "--signal complaints expects a number"),
    ])
  func refused(item: String, message: String) throws {
    let runbook = try decisionRunbook()
    let list: DiagnosticList
    do {
      _ = try ManualValues(parsing: [item], runbook: runbook)
      Issue.record("'\(item)' was accepted")
      return
    } catch {
      list = error
    }
    let text = list.diagnostics.map(\.message).joined(separator: "\n")
    #expect(text.contains(message), "\(text)")
  }
}

@Suite("SignalReading formats values by unit")
struct DecisionSignalFormattingTests {
  @Test(
    "values read as a person reads them",
    arguments: [
      (0.082, SignalUnit.ratio, "8.2 %"), (2.31, .seconds, "2.31 s"), (0.5, .seconds, "500 ms"),
      (37, .count, "37"), (1_500_000, .bytes, "1.5 MB"), (85, .percent, "85 %"), (0.0005, .ratio, "0.05 %"),
    ])
  func formatted(value: Double, unit: SignalUnit, text: String) {
    let reading = SignalReading(name: "x", source: "prometheus", unit: unit, value: value, error: nil)

    #expect(reading.formatted == text)
  }

  @Test("an unknown value shows why")
  func unknown() {
    let reading = SignalReading(
      name: "x", source: "prometheus", unit: .ratio, value: nil, error: "timeout after 5s")
    let nan = SignalReading(name: "x", source: "prometheus", unit: .ratio, value: .nan, error: nil)

    #expect(reading.formatted == "unknown — timeout after 5s")
    #expect(!nan.isKnown)
    #expect(nan.formatted == "unknown — no value")
  }
}
