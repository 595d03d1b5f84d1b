import Foundation

/// The post-mortem report of a run, as Markdown or JSON, and the message to paste in the incident channel.
public enum ReportRendering {
  /// A value with its unit as a person reads it; unknown when nil.
  static func value(_ value: Double?, unit: String, error: String?) -> String {
    guard let value else { return "unknown — \(error ?? "no value")" }
    return SignalReading.format(value, unit: SignalUnit(rawValue: unit) ?? .count)
  }

  /// Seconds as `41.2 s` or `2m3s`; a dash when unknown.
  public static func seconds(_ value: Double?) -> String {
    guard let value else { return "—" }
    return Quantity.formatElapsed(seconds: value)
  }

  static func targetText(_ report: RunReport) -> String {
    guard let target = report.targetSeconds else { return "no target" }
    let untimed = report.dryRun ? "not timed: a dry run" : "not timed: \(report.status)"
    let mark = report.withinTarget.map { $0 ? "✓ within" : "✗ over" } ?? untimed
    return "target \(Quantity.format(seconds: target)) \(mark)"
  }

  /// The assessment's signals: name, value, unit, error.
  static func assessmentSignals(_ assessment: SavedAssessment) -> [(String, Double?, String, String?)] {
    assessment.signals.map { ($0.name ?? "", $0.value, $0.unit ?? "count", $0.error) }
  }

  /// The message for the incident channel, following the seeds' communication templates.
  public static func communication(_ report: RunReport, assessment: SavedAssessment?) -> String {
    let done = report.status == "succeeded" && !report.dryRun
    var lines: [String] = []
    let headline =
      report.dryRun
      ? "🧪 DRY RUN ONLY, NOTHING WAS ROLLED BACK"
      : (done ? "🚨 ROLLBACK COMPLETE" : "🚨 ROLLBACK \(report.status.uppercased())")
    lines.append(
      "\(headline): \(report.runbook) \(report.what)\(report.title.map { " (\($0))" } ?? "") in \(report.environment)"
    )
    lines.append("")
    lines.append(
      "Time: \(report.startedAt) → \(report.finishedAt ?? "not finished") (\(seconds(report.duration)), \(targetText(report)))"
    )
    if let assessment, let severity = assessment.severity {
      let matched = assessment.matched.joined(separator: ", ")
      lines.append("Severity: \(severity)\(matched.isEmpty ? "" : " (\(matched))")")
    }
    lines.append("")
    lines.append("Actions Taken:")
    for step in report.steps where step.mutates {
      let box = step.status == "succeeded" ? "[x]" : "[ ]"
      lines.append("- \(box) \(step.name ?? step.id): \(step.detail)")
    }
    let after = report.signalsAfter
    if !after.isEmpty {
      lines.append("")
      lines.append(
        "Signals after: "
          + after.map { "\($0.name) \(value($0.value, unit: $0.unit, error: $0.error))" }.joined(
            separator: ", "))
    }
    lines.append("")
    lines.append("Next Steps:")
    if report.dryRun {
      lines.append("- This was a rehearsal: nothing was changed; run the rollback for real if it is needed")
    } else if done {
      lines.append("- Monitor system stability for 30 minutes")
      lines.append("- Investigate root cause")
      lines.append("- Plan fix or alternative approach")
    } else {
      lines.append("- \(report.advice ?? "see the run's report")")
    }
    lines.append("")
    lines.append("Run: \(report.runID)")
    return lines.joined(separator: "\n")
  }

  /// `level 2 → level 3 after 3m (--yes, at …)`, or `declined` when the level was kept.
  public static func escalationText(_ event: EscalatedEvent) -> String {
    let from = event.from.map { "level \($0)" } ?? "the level"
    let to = event.to.map { "level \($0)" } ?? "a stronger level"
    let after = event.afterSeconds.map { " after \(Quantity.format(seconds: $0))" } ?? ""
    let verdict = event.accepted == true ? "abandoned for" : "kept, not escalated to"
    return "\(from) \(verdict) \(to)\(after) (\(event.answer ?? "?")\(event.at.map { ", at \($0)" } ?? ""))"
  }

  /// A step's share of the target: `12 %`, `<1 %` for a step that took time but less than
  /// half a percent, `—` for one that took none.
  static func shareText(_ duration: Double?, target: Double) -> String {
    guard let duration, duration > 0, let share = TimeBudget.share(duration: duration, target: target) else {
      return "—"
    }
    return share == 0 ? "<1 %" : "\(share) %"
  }

  /// The post-mortem document: timeline, then the headings people fill in.
  public static func markdown(_ report: RunReport, assessment: SavedAssessment?) -> String {
    var out = markdownSummary(report)
    out.append("## Timeline")
    out.append("")
    out += markdownAssessment(assessment)
    out += markdownSteps(report)
    out += markdownSignalsAfter(report)
    out.append("")
    out.append("## Communication")
    out.append("")
    out.append("```")
    out.append(communication(report, assessment: assessment))
    out.append("```")
    for heading in ["Impact", "Root cause", "Lessons learned", "Action items"] {
      out.append("")
      out.append("## \(heading)")
      out.append("")
      out.append(placeholder(heading))
    }
    // Step details hold what servers and processes said: shown, never obeyed.
    return TerminalText.escaped(out.joined(separator: "\n") + "\n")
  }

  /// The title and the run's summary table.
  static func markdownSummary(_ report: RunReport) -> [String] {
    var out: [String] = []
    out.append(
      "# \(report.dryRun ? "Dry run (nothing was changed)" : "Post-mortem"): \(report.runbook) \(report.what)"
        + (report.title.map { " — \($0)" } ?? ""))
    out.append("")
    out.append("| | |")
    out.append("| --- | --- |")
    out.append(
      "| Run | `\(report.runID)` (\(report.command)\(report.dryRun ? ", dry run" : "")\(report.resumes > 0 ? ", resumed \(report.resumes)×" : "")) |"
    )
    out.append("| Environment | \(report.environment) |")
    out.append("| Outcome | \(report.status) |")
    out.append("| Started | \(report.startedAt) |")
    out.append("| Finished | \(report.finishedAt ?? "not finished") |")
    out.append("| Duration | \(seconds(report.duration)) |")
    if let rollback = report.rollbackDuration { out.append("| Rollback time | \(seconds(rollback)) |") }
    out.append("| Target | \(targetText(report)) |")
    let hosts = report.hosts
    if !hosts.isEmpty { out.append("| Hosts | \(RunHostOutcome.text(hosts)) |") }
    for escalation in report.escalations {
      out.append("| Escalation | \(escalationText(escalation)) |")
    }
    out.append("")
    return out
  }

  /// The assessment saved before the run, or a line saying there was none.
  static func markdownAssessment(_ assessment: SavedAssessment?) -> [String] {
    var out: [String] = []
    if let assessment {
      let at = assessment.assessedAt ?? "before the run"
      out.append("### Assessment (\(at))")
      out.append("")
      let severity = assessment.severity ?? "unknown"
      let matched = assessment.matched.joined(separator: "; ")
      out.append("Severity **\(severity)**\(matched.isEmpty ? "" : ": \(matched)").")
      out.append("")
      out.append("| Signal | Value |")
      out.append("| --- | --- |")
      for (name, number, unit, error) in assessmentSignals(assessment) {
        out.append("| \(name) | \(value(number, unit: unit, error: error)) |")
      }
      out.append("")
    } else {
      out.append("No assessment was recorded in this state directory before the run.")
      out.append("")
    }
    return out
  }

  /// The steps table, then the flag values they changed.
  static func markdownSteps(_ report: RunReport) -> [String] {
    var out: [String] = []
    out.append("### Steps")
    out.append("")
    // With a target, each step's share of it (the time budget).
    let target = report.targetSeconds.flatMap { $0 > 0 ? $0 : nil }
    out.append(
      "| # | Step | Kind | Started | Duration |\(target == nil ? "" : " Share of target |") Status | What happened |"
    )
    out.append("| --- | --- | --- | --- | --- |\(target == nil ? "" : " --- |") --- | --- |")
    for (index, step) in report.steps.enumerated() {
      var what = step.detail.replacingOccurrences(of: "|", with: "\\|")
      if let error = step.error { what += " — **\(error.replacingOccurrences(of: "|", with: "\\|"))**" }
      if !step.hosts.isEmpty {
        what += " — hosts: " + step.hosts.map { "\($0.name) \($0.status)" }.joined(separator: ", ")
      }
      let share = target.map { " \(shareText(step.duration, target: $0)) |" } ?? ""
      out.append(
        "| \(index + 1) | \(step.id) | \(step.kind) | \(step.startedAt ?? "—") | \(seconds(step.duration)) |\(share) \(step.status) | \(what) |"
      )
    }
    let changes = report.steps.flatMap(\.flagChanges)
    if !changes.isEmpty {
      out.append("")
      out.append("### Flag values")
      out.append("")
      out.append("| File | Key | Before | After |")
      out.append("| --- | --- | --- | --- |")
      for change in changes {
        out.append(
          "| \(change.file) | \(change.key) | \(change.before ?? "(unset)") | \(change.after)\(change.changed ? "" : " (unchanged)") |"
        )
      }
    }
    return out
  }

  /// The signals read after the run, if any.
  static func markdownSignalsAfter(_ report: RunReport) -> [String] {
    var out: [String] = []
    let after = report.signalsAfter
    if !after.isEmpty {
      out.append("")
      out.append("### Signals after")
      out.append("")
      out.append("| Signal | Value |")
      out.append("| --- | --- |")
      for signal in after {
        out.append("| \(signal.name) | \(value(signal.value, unit: signal.unit, error: signal.error)) |")
      }
    }
    if !report.integrations.isEmpty {
      out.append("")
      out.append("### Integrations")
      out.append("")
      for call in report.integrations {
        out.append("- \(call.at ?? "—") \(call.line)")
      }
    }
    return out
  }

  static func placeholder(_ heading: String) -> String {
    switch heading {
    case "Impact": return "_How many users were affected, for how long, and the business impact._"
    case "Root cause": return "_The technical root cause; process or communication issues._"
    case "Lessons learned": return "_What went well, what could be improved, what changes need to be made._"
    default:
      return
        "- [ ] Technical improvements\n- [ ] Process improvements\n- [ ] Monitoring improvements\n- [ ] Documentation updates"
    }
  }

  /// The report as JSON: the run (as `execute --json` prints it) plus the assessment and the message.
  public static func json(_ report: RunReport, assessment: SavedAssessment?) -> JSONValue {
    let steps = report.steps.map(stepJSON)
    var assessmentJSON = JSONValue.null
    if let assessment {
      assessmentJSON = .object([
        ("assessed_at", .string(assessment.assessedAt)),
        ("severity", .string(assessment.severity)),
        ("matched", .array(assessment.matched.map { .string($0) })),
        (
          "signals",
          signalsJSON(
            assessmentSignals(assessment).map { (name: $0.0, value: $0.1, unit: $0.2, error: $0.3) })
        ),
      ])
    }
    let json = JSONValue.object([
      ("run_id", .string(report.runID)), ("command", .string(report.command)),
      ("runbook", .string(report.runbook)),
      ("environment", .string(report.environment)), ("level", .int(report.target?.level)),
      ("scenario", .string(report.target?.scenario)),
      ("dry_run", .bool(report.dryRun)), ("status", .string(report.status)),
      ("started_at", .string(report.startedAt)),
      ("finished_at", .string(report.finishedAt)), ("duration_s", .number(report.duration)),
      ("rollback_duration_s", .number(report.rollbackDuration)), ("target_s", .number(report.targetSeconds)),
      ("within_target", report.withinTarget.map { .bool($0) } ?? .null), ("resumes", .int(report.resumes)),
      ("assessment", assessmentJSON), ("steps", .array(steps)),
      ("signals_after", signalsJSON(report.signalsAfter)),
      ("communication", .string(communication(report, assessment: assessment))),
    ])
    return extras(json, report)
  }

  /// The report's JSON with the run's integration calls and hosts, only when it had some:
  /// reports of older journals keep their bytes.
  static func extras(_ json: JSONValue, _ report: RunReport) -> JSONValue {
    let hosts = report.hosts
    guard !report.integrations.isEmpty || !hosts.isEmpty, case .object(var members) = json else {
      return json
    }
    let at = members.firstIndex { $0.0 == "communication" } ?? members.endIndex
    if !report.integrations.isEmpty {
      members.insert(("integrations", .array(report.integrations.map(\.json))), at: at)
    }
    if !hosts.isEmpty {
      let stepsAt = members.firstIndex { $0.0 == "steps" } ?? members.endIndex
      members.insert(("hosts", .array(hosts.map(\.json))), at: stepsAt)
    }
    return .object(members)
  }

  /// Signal readings as JSON: name, value, unit and error of each.
  static func signalsJSON(_ list: [(name: String, value: Double?, unit: String, error: String?)]) -> JSONValue
  {
    .array(
      list.map {
        .object([
          ("name", .string($0.name)), ("value", .number($0.value)), ("unit", .string($0.unit)),
          ("error", .string($0.error)),
        ])
      })
  }

  /// One step of the report as JSON, with its flag changes and (placed on hosts) its hosts.
  static func stepJSON(_ step: RunReport.StepEntry) -> JSONValue {
    var members: [(String, JSONValue)] = [
      ("id", .string(step.id)), ("kind", .string(step.kind)), ("name", .string(step.name)),
      ("status", .string(step.status)), ("mutates", .bool(step.mutates)),
      ("started_at", .string(step.startedAt)),
      ("duration_s", .number(step.duration)), ("detail", .string(step.detail)),
      ("error", .string(step.error)),
      (
        "flag_changes",
        .array(
          step.flagChanges.map {
            .object([
              ("file", .string($0.file)), ("key", .string($0.key)), ("before", .string($0.before)),
              ("after", .string($0.after)), ("changed", .bool($0.changed)),
            ])
          })
      ),
    ]
    if !step.hosts.isEmpty { members.append(("hosts", .array(step.hosts.map(\.json)))) }
    return .object(members)
  }
}
