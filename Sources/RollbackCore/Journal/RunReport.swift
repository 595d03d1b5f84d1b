import Foundation

/// A run read back from its journal: what `history` lists and `report` renders.
///
/// The run-level fields (`runID`, `status`, `duration`, …) are its ``summary``'s, read through
/// as if they were the report's own.
@dynamicMemberLookup
public struct RunReport: Sendable {
  /// One step as journalled.
  public struct StepEntry: Sendable {
    /// The step id.
    public var id: String
    /// The step's kind as journalled (`flag`, `restart`, `wait`, …).
    public var kind: String
    /// The step's name.
    public var name: String?
    /// `succeeded`, `failed`, `skipped`, `would-run`, `sampled` or `pending`.
    public var status: String
    /// Whether it mutates.
    public var mutates: Bool
    /// When it started (ISO time).
    public var startedAt: String?
    /// Seconds.
    public var duration: Double
    /// What it did.
    public var detail: String
    /// Why it failed.
    public var error: String?
    /// The end of its output.
    public var outputTail: String?
    /// Flag changes: file, key, before, after, changed.
    public var flagChanges: [(file: String, key: String, before: String?, after: String, changed: Bool)]
    /// Signals read: name, value (nil when unknown), unit, error.
    public var signals: [(name: String, value: Double?, unit: String, error: String?)]
    /// A host-scoped step's hosts and how each ended (empty for a step on the control machine).
    public var hosts: [JournalHostResult] = []
  }

  /// Everything but the steps: what `history` lists.
  public var summary: RunSummary
  /// Steps in plan order, with their last journalled state.
  public var steps: [StepEntry]
  /// The on-call integration calls, in order (PagerDuty events, silences, annotations).
  public var integrations: [IntegrationEvent] = []

  /// Reads a run from its journal events, in order; nil without a run-started event.
  public static func parse(_ events: [JournalEvent]) -> RunReport? {
    guard let start = RunSummary.start(events) else { return nil }
    var summary = RunSummary(start: start)
    var order: [String] = []
    var entries: [String: StepEntry] = [:]
    for item in start.steps {
      order.append(item.id)
      entries[item.id] = StepEntry(
        id: item.id, kind: item.kind ?? "", name: nil, status: "pending", mutates: item.mutates ?? false,
        startedAt: nil, duration: 0, detail: "", error: nil, outputTail: nil, flagChanges: [], signals: [])
    }
    var integrations: [IntegrationEvent] = []
    for event in events {
      summary.apply(event)
      if case .integration(let call) = event { integrations.append(call) }
      // A host's part of a step (`host` set) is in the step's own event, under `hosts`.
      guard case .stepFinished(let step) = event, let id = step.id, step.host == nil else { continue }
      if entries[id] == nil { order.append(id) }
      entries[id] = StepEntry(
        id: id, kind: step.kind ?? "", name: step.name,
        status: step.status?.rawValue ?? step.unknownStatus ?? "",
        mutates: step.mutates ?? false,
        startedAt: step.startedAt, duration: seconds(step.durationSeconds) ?? 0, detail: step.detail ?? "",
        error: step.error, outputTail: step.outputTail,
        flagChanges: step.flagChanges.map {
          (
            file: $0.file ?? "", key: $0.key ?? "", before: $0.before, after: $0.after ?? "",
            changed: $0.changed ?? false
          )
        },
        signals: step.signals.map {
          (name: $0.name ?? "", value: $0.value, unit: $0.unit ?? "count", error: $0.error)
        }, hosts: step.hosts)
    }
    summary.deriveHosts(from: events)
    var report = RunReport(summary: summary, steps: order.compactMap { entries[$0] })
    report.integrations = integrations
    return report
  }

  /// A report made of a run's summary and its steps.
  public init(summary: RunSummary, steps: [StepEntry]) {
    self.summary = summary
    self.steps = steps
  }

  /// The summary's fields, read and written as the report's own.
  public subscript<Value>(dynamicMember field: WritableKeyPath<RunSummary, Value>) -> Value {
    get { summary[keyPath: field] }
    set { summary[keyPath: field] = newValue }
  }

  /// The longest time a journal may state, seconds (ten years); beyond it the journal is wrong.
  static let maximumJournalSeconds: Double = 10 * 365 * 24 * 3600

  /// A journalled time in seconds: unknown (nil) unless a number from 0 to ten years.
  static func seconds(_ value: Double?) -> Double? {
    guard let seconds = value, seconds.isFinite, seconds >= 0, seconds <= maximumJournalSeconds else {
      return nil
    }
    return seconds
  }

  /// `level 3` or `scenario backend-down`.
  public var what: String { summary.what }

  /// The last signal readings of the run: what the system looked like at the end.
  public var signalsAfter: [(name: String, value: Double?, unit: String, error: String?)] {
    steps.last { !$0.signals.isEmpty && $0.status != "pending" }?.signals ?? []
  }
}

/// A run without its steps, read from the journal's `run-started`, `run-resumed` and
/// `run-finished` events: one row of `rollback history`.
public struct RunSummary: Sendable, Equatable {
  /// The journal events a summary reads; the others (`step-started`, `step-finished`, …) leave it as it is.
  public static let eventKinds: Set<String> = [
    JournalEvent.Kind.runStarted, JournalEvent.Kind.runResumed, JournalEvent.Kind.runFinished,
    JournalEvent.Kind.escalated,
  ]

  /// The run id.
  public var runID: String
  /// The command that started it (`execute`, `drill`).
  public var command: String
  /// The runbook's name.
  public var runbook: String
  /// The runbook environment the run acted on (`--env`).
  public var environment: String
  /// The level or scenario it ran (nil when its journal names neither).
  public var target: IncludeTarget?
  /// The level's name or the scenario's title.
  public var title: String?
  /// Whether it was a rehearsal.
  public var dryRun: Bool
  /// The last outcome journalled, `in progress` when none (killed) or after a later resume.
  public var status: String
  /// When it started (ISO time).
  public var startedAt: String
  /// When it finished (ISO time), nil when it never did.
  public var finishedAt: String?
  /// Wall time, seconds, when finished.
  public var duration: Double?
  /// Time of the rollback part of a drill, seconds.
  public var rollbackDuration: Double?
  /// The time target, seconds.
  public var targetSeconds: Double?
  /// Whether it finished within target.
  public var withinTarget: Bool?
  /// What to do next, when it failed.
  public var advice: String?
  /// How many times it was resumed.
  public var resumes: Int
  /// The runbook file as the run recorded it (absolute in newer journals).
  public var runbookPath: String?
  /// The escalations offered while the run went (`escalate` of a level), in order.
  public var escalations: [EscalatedEvent] = []
  /// How each host came out, as the last `run-finished` says (empty without hosts); for a run
  /// that never finished, as its per-host events say, once ``deriveHosts(from:)`` read them.
  public var hosts: [RunHostOutcome] = []
  /// Whether ``hosts`` was read from per-host events (the run has no `run-finished`).
  public var hostsFromEvents = false

  /// A summary with every field given.
  public init(
    runID: String, command: String, runbook: String, environment: String, level: Int?, scenario: String?,
    title: String?, dryRun: Bool, status: String, startedAt: String, finishedAt: String?, duration: Double?,
    rollbackDuration: Double?, targetSeconds: Double?, withinTarget: Bool?, advice: String?, resumes: Int
  ) {
    self.runID = runID
    self.command = command
    self.runbook = runbook
    self.environment = environment
    self.target = IncludeTarget(level: level, scenario: scenario)
    self.title = title
    self.dryRun = dryRun
    self.status = status
    self.startedAt = startedAt
    self.finishedAt = finishedAt
    self.duration = duration
    self.rollbackDuration = rollbackDuration
    self.targetSeconds = targetSeconds
    self.withinTarget = withinTarget
    self.advice = advice
    self.resumes = resumes
  }

  /// The summary as the `run-started` event describes it: `in progress`, not finished.
  public init(start: RunStartedEvent) {
    self.init(
      runID: start.runID ?? "", command: start.command ?? "execute", runbook: start.runbook ?? "",
      environment: start.environment ?? "", level: start.level, scenario: start.scenario, title: start.title,
      dryRun: start.dryRun ?? false, status: "in progress", startedAt: start.startedAt ?? "", finishedAt: nil,
      duration: nil, rollbackDuration: nil, targetSeconds: RunReport.seconds(start.targetSeconds),
      withinTarget: nil,
      advice: nil, resumes: 0)
    runbookPath = start.runbookPath
  }

  /// Takes one journal event into account: a resume reopens the run, a finish records its outcome.
  public mutating func apply(_ event: JournalEvent) {
    switch event {
    case .escalated(let escalation):
      escalations.append(escalation)
    case .runResumed:
      resumes += 1
      status = "in progress"
    case .runFinished(let finish):
      status = finish.status?.rawValue ?? finish.unknownStatus ?? "unknown"
      finishedAt = finish.finishedAt
      duration = RunReport.seconds(finish.durationSeconds)
      rollbackDuration = RunReport.seconds(finish.rollbackDurationSeconds)
      // Only a finished rollback is timed (older journals marked dry runs and failures too).
      withinTarget = finish.status == .succeeded && !dryRun ? finish.withinTarget : nil
      advice = finish.advice
      hosts = finish.hosts
      hostsFromEvents = false
    default:
      break
    }
  }

  /// The first run-started event, nil when there is none.
  static func start(_ events: [JournalEvent]) -> RunStartedEvent? {
    for event in events { if case .runStarted(let start) = event { return start } }
    return nil
  }

  /// Reads a run from its journal events, in order, of which only those of ``eventKinds``
  /// matter; nil without a run-started event. The same as `RunReport.parse(events)?.summary`.
  public static func parse(_ events: [JournalEvent]) -> RunSummary? {
    guard let start = start(events) else { return nil }
    var summary = RunSummary(start: start)
    for event in events { summary.apply(event) }
    summary.deriveHosts(from: events)
    return summary
  }

  /// `level 3` or `scenario backend-down`.
  public var what: String { target?.description ?? "scenario ?" }
}
