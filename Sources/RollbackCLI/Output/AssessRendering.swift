import Foundation
import RollbackCore
import RollbackSystem

/// Renders assessments for people (`human`), for programs (`json`) and as changes (`changes`).
enum AssessRendering {
  // MARK: JSON

  /// The `assess --json` document of `../shared/design/cli.md`, with extra fields.
  static func json(_ assessment: Assessment) -> JSONValue {
    let verdict = assessment.verdict
    let described = assessment.action
    var action = actionJSON(verdict.action)
    if case .object(var members) = action {
      members.append(("description", .string(described.words)))
      members.append(("command", .string(described.command)))
      action = .object(members)
    }
    let severity: JSONValue =
      verdict.severity.map { .string($0.rawValue) } ?? (verdict.inconclusive ? .null : .string("healthy"))
    return .object([
      ("severity", severity),
      ("inconclusive", .bool(verdict.inconclusive)),
      ("action", action),
      ("respond_within_s", .number(verdict.respondWithin)),
      ("matched", .array(verdict.matched.map { .string($0) })),
      ("signals", .array(assessment.readings.map { signalJSON($0, runbook: assessment.runbook) })),
      ("duration_s", .number(milliseconds(assessment.duration))),
      ("verdict", .string(verdict.label)),
      ("exit_code", .int(Int(verdict.exitCode))),
      ("unknown", .array(verdict.unknownSignals.map { .string($0) })),
      (
        "rule",
        verdict.rule.map { rule in
          .object([("severity", .string(rule.severity.rawValue)), ("label", .string(rule.label))])
        } ?? .null
      ),
      ("runbook", .string(assessment.runbook.name)),
      ("environment", .string(assessment.environment)),
      ("assessed_at", .string(Timestamp.iso(assessment.assessedAt))),
      ("rules", .array(verdict.rules.map(ruleJSON))),
    ])
  }

  static func actionJSON(_ action: Action) -> JSONValue {
    switch action {
    case .level(let number): return .object([("kind", .string("level")), ("level", .int(number))])
    case .scenario(let name): return .object([("kind", .string("scenario")), ("scenario", .string(name))])
    case .stepDown(let flag): return .object([("kind", .string("step_down")), ("flag", .string(flag))])
    case .pause: return .object([("kind", .string("pause"))])
    case .monitor: return .object([("kind", .string("monitor"))])
    case .none: return .object([("kind", .string("none"))])
    }
  }

  static func signalJSON(_ reading: SignalReading, runbook: Runbook) -> JSONValue {
    let known = reading.isKnown
    var members: [(String, JSONValue)] = [
      ("name", .string(reading.name)),
      ("source", .string(reading.source)),
      ("value", known ? .number(reading.value) : .null),
      ("unit", .string(reading.unit.rawValue)),
      ("error", known ? .null : .string(reading.error ?? "no value")),
      ("display", .string(reading.formatted)),
    ]
    if let count = reading.seriesCount {
      members.append(("series", .int(count)))
      if count > 1, let signal = runbook.signal(named: reading.name) {
        members.append(("reduce", .string(signal.reduce.rawValue)))
      }
    }
    members.append(("warnings", .array(reading.warnings.map { .string($0) })))
    members.append(("set_by_hand", .bool(reading.setByHand)))
    members.append(("default", .bool(reading.isDefault)))
    members.append(("duration_s", .number(milliseconds(reading.duration))))
    return .object(members)
  }

  static func ruleJSON(_ rule: EvaluatedRule) -> JSONValue {
    .object([
      ("severity", .string(rule.rule.severity.rawValue)),
      ("label", .string(rule.rule.label)),
      ("holds", rule.holds.map { .bool($0) } ?? .null),
      ("reached", .bool(rule.reached)),
      (
        "comparisons",
        .array(
          rule.comparisons.map { comparison in
            .object([
              ("text", .string(comparison.text)), ("signal", .string(comparison.signal)),
              ("holds", comparison.holds.map { .bool($0) } ?? .null),
            ])
          })
      ),
    ])
  }

  static func milliseconds(_ seconds: Double) -> Double { (seconds * 1000).rounded() / 1000 }

  // MARK: Human

  /// The full report: signals, rules, verdict.
  static func human(_ assessment: Assessment) -> String {
    var lines: [String] = []
    lines.append(
      "Assessment — runbook \(assessment.runbook.name) · environment \(assessment.environment) · "
        + "\(Timestamp.iso(assessment.assessedAt)) · \(seconds(assessment.duration))")
    lines.append("")
    lines.append("Signals")
    lines += signalLines(assessment)
    if !assessment.runbook.decision.isEmpty {
      lines.append("")
      lines.append("Decision matrix (first match wins)")
      lines += ruleLines(assessment)
    }
    lines.append("")
    lines += verdictLines(assessment)
    // Readings carry what Prometheus and Postgres said: shown, never obeyed.
    return TerminalText.escaped(lines.joined(separator: "\n"))
  }

  /// Whether human text on this descriptor gets colour: a terminal, TERM not dumb, NO_COLOR unset.
  static func wantsColour(_ descriptor: Int32, processEnvironment: [String: String]) -> Bool {
    isatty(descriptor) == 1 && processEnvironment["TERM"] != "dumb"
      && (processEnvironment["NO_COLOR"] ?? "").isEmpty
  }

  /// The human text painted as `execute` paints its output: headings bold, the verdict red
  /// (critical, high), yellow (medium, low, inconclusive) or green (healthy), unknown values yellow.
  static func coloured(_ text: String, assessment: Assessment) -> String {
    func paint(_ line: String, _ code: String) -> String { "\u{1B}[\(code)m\(line)\u{1B}[0m" }
    let verdict = assessment.verdict
    let verdictCode: String
    switch (verdict.severity, verdict.inconclusive) {
    case (.some(.critical), _), (.some(.high), _): verdictCode = "1;31"
    case (nil, false): verdictCode = "1;32"
    default: verdictCode = "1;33"
    }
    return text.split(separator: "\n", omittingEmptySubsequences: false).map { piece in
      let line = String(piece)
      if line.hasPrefix("Verdict:") { return paint(line, verdictCode) }
      if line == "Signals" || line.hasPrefix("Decision matrix") || line.hasPrefix("Assessment — ") {
        return paint(line, "1")
      }
      if line.hasPrefix("  "), line.contains("unknown") { return paint(line, "33") }
      return line
    }.joined(separator: "\n")
  }

  static func signalLines(_ assessment: Assessment) -> [String] {
    let readings = assessment.readings
    guard !readings.isEmpty else { return ["  (the runbook has no signals)"] }
    let nameWidth = readings.map(\.name.count).max() ?? 0
    let knownWidth = readings.filter(\.isKnown).map(\.formatted.count).max() ?? 0
    var lines: [String] = []
    var warnings: [String] = []
    for reading in readings {
      let name = reading.name.rightPadded(to: nameWidth)
      let notes = signalNotes(reading, runbook: assessment.runbook)
      let value =
        reading.isKnown && !notes.isEmpty ? reading.formatted.rightPadded(to: knownWidth) : reading.formatted
      lines.append(("  \(name)  \(value)" + (notes.isEmpty ? "" : "  " + notes.joined(separator: ", "))))
      warnings += reading.warnings.map { "  warning: \(reading.name): \($0)" }
    }
    return lines + warnings
  }

  /// `set by hand`, `default`, `max of 3 series`.
  static func signalNotes(_ reading: SignalReading, runbook: Runbook) -> [String] {
    var notes: [String] = []
    if reading.setByHand { notes.append("set by hand") }
    if reading.isDefault { notes.append("default (not given)") }
    if let count = reading.seriesCount, count > 1 {
      let reduce = runbook.signal(named: reading.name)?.reduce.rawValue ?? "max"
      notes.append("\(reduce) of \(count) series")
    }
    return notes
  }

  static func ruleLines(_ assessment: Assessment) -> [String] {
    let units = Dictionary(
      assessment.readings.map { ($0.name, $0.unit) }, uniquingKeysWith: { first, _ in first })
    let names = assessment.verdict.rules.map(ruleName)
    let width = names.map(\.count).max() ?? 0
    var lines: [String] = []
    for (rule, name) in zip(assessment.verdict.rules, names) {
      let held = rule.comparisons.filter { $0.holds == true }.map { comparisonText($0, units: units) }
      let unknown = unique(rule.comparisons.filter { $0.holds == nil }.map(\.signal))
      let status: String
      switch (rule.reached, rule.holds) {
      case (true, .some(true)):
        status = "HOLDS: " + held.joined(separator: "; ")
      case (true, .some(false)):
        status = "does not hold"
      case (true, .none):
        status =
          "undecided: \(unknown.joined(separator: ", ")) unknown"
          + (held.isEmpty ? "" : "; held: " + held.joined(separator: "; "))
      case (false, .some(true)):
        status = "not reached (would hold: " + held.joined(separator: "; ") + ")"
      case (false, _):
        status = "not reached" + (held.isEmpty ? "" : " (held: " + held.joined(separator: "; ") + ")")
      }
      lines.append("  \(name.rightPadded(to: width))  \(status)")
    }
    return lines
  }

  static func ruleName(_ rule: EvaluatedRule) -> String {
    let severity = rule.rule.severity.rawValue
    guard let label = rule.rule.label, label.lowercased() != severity else { return severity }
    return "\(severity) (\(label))"
  }

  /// `error_rate > 5% (8.2 %)`.
  static func comparisonText(_ comparison: EvaluatedComparison, units: [String: SignalUnit]) -> String {
    guard let value = comparison.value else { return comparison.text }
    let unit = units[comparison.signal] ?? .count
    return "\(comparison.text) (\(SignalReading.formatThreshold(value, unit: unit)))"
  }

  static func verdictLines(_ assessment: Assessment) -> [String] {
    let verdict = assessment.verdict
    let action = assessment.action
    var lines: [String] = []
    let within = verdict.respondWithin.map { " — respond within \(Quantity.format(seconds: $0))" } ?? ""
    let unknown = verdict.unknownSignals.joined(separator: ", ")
    switch (verdict.severity, verdict.inconclusive) {
    case (let severity?, false):
      lines.append("Verdict: \(severity.rawValue.uppercased())\(within)")
      lines.append("  because: " + verdict.matched.joined(separator: "; "))
    case (let severity?, true):
      lines.append("Verdict: \(severity.rawValue.uppercased()) (inconclusive)\(within)")
      lines.append(
        "  because: \(unknown) \(verdict.unknownSignals.count == 1 ? "is" : "are") unknown, no rule above holds, "
          + "and decision_on_unknown is \(assessment.runbook.decisionOnUnknown?.rawValue ?? "inconclusive")")
    case (nil, true):
      let rule = verdict.rule.map { " the \($0.severity.rawValue) rule cannot be decided and" } ?? ""
      lines.append("Verdict: INCONCLUSIVE — unknown is never healthy")
      lines.append(
        "  because: \(unknown) \(verdict.unknownSignals.count == 1 ? "is" : "are") unknown:\(rule) no rule above it holds"
      )
      let example = verdict.unknownSignals.first ?? "NAME"
      let command =
        (["rollback", "assess", "--signal", "\(example)=VALUE", "--env", assessment.environment]
        + assessment.invocation)
        .map(ShellInterpolation.word).joined(separator: " ")
      lines.append("  fix the signal, or give it by hand: \(command)")
    case (nil, false):
      lines.append("Verdict: HEALTHY — no rule holds")
    }
    if let rule = verdict.rule, !verdict.inconclusive || verdict.severity != nil, !rule.symptoms.isEmpty {
      lines.append("  symptoms: " + rule.symptoms.joined(separator: "; "))
    }
    if verdict.severity != nil || !verdict.inconclusive {
      lines.append("  Action: \(action.words)")
      if let command = action.command { lines.append("  Run:    \(command)") }
    }
    return lines
  }

  static func seconds(_ value: Double) -> String {
    SignalReading.format(milliseconds(value), unit: .seconds)
  }

  static func unique(_ items: [String]) -> [String] {
    var seen = Set<String>()
    return items.filter { seen.insert($0).inserted }
  }

  // MARK: Changes

  /// The lines that differ between two assessments (empty when nothing a person sees changed).
  static func changes(from old: Assessment, to new: Assessment) -> [String] {
    var lines: [String] = []
    let previous = Dictionary(old.readings.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    for reading in new.readings {
      let before = previous[reading.name].map { display($0, runbook: old.runbook) } ?? "absent"
      let after = display(reading, runbook: new.runbook)
      if before != after { lines.append("  \(reading.name): \(before) → \(after)") }
    }
    let oldVerdict = verdictSummary(old)
    let newVerdict = verdictSummary(new)
    if oldVerdict != newVerdict {
      lines.append("  verdict: \(oldVerdict) → \(newVerdict)")
      let action = new.action
      lines.append("  action: \(action.words)" + (action.command.map { " — run: \($0)" } ?? ""))
    }
    return lines.map { TerminalText.escaped($0) }
  }

  /// A signal's value with its notes, as compared between assessments.
  static func display(_ reading: SignalReading, runbook: Runbook) -> String {
    let notes = signalNotes(reading, runbook: runbook)
    return reading.formatted + (notes.isEmpty ? "" : " (" + notes.joined(separator: ", ") + ")")
  }

  /// `CRITICAL (error_rate > 5%)`, `INCONCLUSIVE (db_pool unknown)`, `HEALTHY`.
  static func verdictSummary(_ assessment: Assessment) -> String {
    let verdict = assessment.verdict
    var text = verdict.label.uppercased()
    if verdict.inconclusive, verdict.severity != nil { text += " (inconclusive)" }
    if !verdict.matched.isEmpty {
      text += " (" + verdict.matched.joined(separator: "; ") + ")"
    } else if verdict.inconclusive {
      text += " (" + verdict.unknownSignals.joined(separator: ", ") + " unknown)"
    }
    return text
  }
}
