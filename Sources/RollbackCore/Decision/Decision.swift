import Foundation

/// One comparison of a rule, evaluated.
public struct EvaluatedComparison: Sendable, Equatable {
  /// The comparison as written.
  public var text: String
  /// The signal's name in the runbook.
  public var signal: String
  /// The signal's value, nil when unknown.
  public var value: Double?
  /// true, false, or nil when the signal is unknown.
  public var holds: Bool?
}

/// One rule of the matrix, evaluated.
public struct EvaluatedRule: Sendable {
  /// The decision-matrix rule this verdict is about.
  public var rule: Rule
  /// true, false, or nil when unknown signals leave it undecided.
  public var holds: Bool?
  /// Each comparison's outcome.
  public var comparisons: [EvaluatedComparison]
  /// Whether the rule was reached (rules after the deciding one are not).
  public var reached: Bool
}

/// The outcome of the decision matrix.
public struct Verdict: Sendable {
  /// The severity that holds; nil when healthy or inconclusive.
  public var severity: Severity?
  /// Whether an unknown signal kept the matrix from deciding.
  public var inconclusive: Bool
  /// The rule that decided, if any.
  public var rule: Rule?
  /// The recommended action.
  public var action: Action
  /// How soon to act, seconds.
  public var respondWithin: Double?
  /// The comparisons that held in the deciding rule.
  public var matched: [String]
  /// Signals that are unknown and needed.
  public var unknownSignals: [String]
  /// Every rule, evaluated in order.
  public var rules: [EvaluatedRule]

  /// `healthy`, `inconclusive` or the severity's name.
  public var label: String {
    if let severity { return severity.rawValue }
    return inconclusive ? "inconclusive" : "healthy"
  }

  /// The exit status of `rollback assess` for this verdict.
  public var exitStatus: ExitStatus {
    if let severity { return .assess(severity) }
    return inconclusive ? .inconclusive : .success
  }

  /// The exit status of `rollback assess` for this verdict, as a number.
  public var exitCode: Int32 { exitStatus.rawValue }
}

/// The decision matrix: rules top to bottom, first match wins, unknown is never healthy.
public enum DecisionEngine {
  /// Decides a verdict from the readings.
  public static func decide(runbook: Runbook, readings: [SignalReading]) -> Verdict {
    var byName: [String: Double] = [:]
    for reading in readings { if let value = reading.comparableValue { byName[reading.name] = value } }
    let lookup: (String) -> Double? = { byName[$0] }
    var evaluated: [EvaluatedRule] = []
    var decided: Verdict?
    for rule in runbook.decision {
      let comparisons = (rule.any + rule.all).map { comparison in
        let value = lookup(comparison.signal)
        return EvaluatedComparison(
          text: comparison.text, signal: comparison.signal, value: value,
          holds: value.map { comparison.op.holds($0, comparison.threshold) })
      }
      let holds = rule.condition.evaluate(lookup)
      evaluated.append(
        EvaluatedRule(rule: rule, holds: holds, comparisons: comparisons, reached: decided == nil))
      guard decided == nil else { continue }
      switch holds {
      case .some(true):
        decided = Verdict(
          severity: rule.severity, inconclusive: false, rule: rule, action: rule.action,
          respondWithin: rule.respondWithin, matched: comparisons.filter { $0.holds == true }.map(\.text),
          unknownSignals: [], rules: [])
      case .none:
        let unknown = comparisons.filter { $0.holds == nil }.map(\.signal)
        if let configured = runbook.decisionOnUnknown {
          // Rules above were all false, so the truth is at most this rule's severity: never escalate past it.
          let severity = min(configured, rule.severity)
          let model = runbook.decision.first { $0.severity == severity }
          decided = Verdict(
            severity: severity, inconclusive: true, rule: model, action: model?.action ?? .none,
            respondWithin: model?.respondWithin, matched: [], unknownSignals: unknown, rules: [])
        } else {
          decided = Verdict(
            severity: nil, inconclusive: true, rule: rule, action: .none, respondWithin: nil, matched: [],
            unknownSignals: unknown, rules: [])
        }
      case .some(false):
        continue
      }
    }
    var verdict =
      decided
      ?? Verdict(
        severity: nil, inconclusive: false, rule: nil, action: .none, respondWithin: nil, matched: [],
        unknownSignals: [], rules: [])
    verdict.rules = evaluated
    if verdict.inconclusive {
      var seen = Set<String>()
      verdict.unknownSignals = verdict.unknownSignals.filter { seen.insert($0).inserted }
    }
    return verdict
  }

  /// The action in words and the command that carries it out.
  public static func describe(_ action: Action, runbook: Runbook, environment: String) -> (
    words: String, command: String?
  ) {
    let env = "--env \(environment)"
    switch action {
    case .level(let number):
      let name = runbook.level(number)?.name ?? "level \(number)"
      return ("execute level \(number) (\(name))", "rollback execute --level \(number) \(env)")
    case .scenario(let name):
      let title = runbook.scenario(named: name)?.title ?? name
      return ("run the \(name) procedure (\(title))", "rollback execute --scenario \(name) \(env)")
    case .stepDown(let flag):
      return ("step flag \(flag) down one stage of its rollout", "rollback flag step-down \(flag) \(env)")
    case .pause:
      return ("pause the rollout and investigate", nil)
    case .monitor:
      return ("keep monitoring; no rollback needed yet", nil)
    case .none:
      return ("nothing to do", nil)
    }
  }
}
