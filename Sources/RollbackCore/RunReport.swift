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
    /// The kind.
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
  }

  /// Everything but the steps: what `history` lists.
  public var summary: RunSummary
  /// Steps in plan order, with their last journalled state.
  public var steps: [StepEntry]

  /// Reads a run from its journal events (JSON objects, in order); nil without a run-started event.
  public static func parse(_ events: [[String: Any]]) -> RunReport? {
    guard let start = events.first(where: { $0["event"] as? String == "run-started" }) else { return nil }
    var summary = RunSummary(start: start)
    var order: [String] = []
    var entries: [String: StepEntry] = [:]
    for item in start["steps"] as? [[String: Any]] ?? [] {
      guard let id = item["id"] as? String else { continue }
      order.append(id)
      entries[id] = StepEntry(
        id: id, kind: item["kind"] as? String ?? "", name: nil, status: "pending",
        mutates: item["mutates"] as? Bool ?? false, startedAt: nil, duration: 0, detail: "", error: nil,
        outputTail: nil, flagChanges: [], signals: [])
    }
    for event in events {
      summary.apply(event)
      switch event["event"] as? String {
      case "step-finished":
        guard let id = event["id"] as? String else { continue }
        if entries[id] == nil { order.append(id) }
        let flagChanges = (event["flag_changes"] as? [[String: Any]] ?? []).map {
          (
            file: $0["file"] as? String ?? "", key: $0["key"] as? String ?? "",
            before: $0["before"] as? String,
            after: $0["after"] as? String ?? "", changed: $0["changed"] as? Bool ?? false
          )
        }
        let signals = (event["signals"] as? [[String: Any]] ?? []).map {
          (
            name: $0["name"] as? String ?? "", value: number($0["value"]),
            unit: $0["unit"] as? String ?? "count",
            error: $0["error"] as? String
          )
        }
        entries[id] = StepEntry(
          id: id, kind: event["kind"] as? String ?? "", name: event["name"] as? String,
          status: event["status"] as? String ?? "", mutates: event["mutates"] as? Bool ?? false,
          startedAt: event["started_at"] as? String, duration: seconds(event["duration_s"]) ?? 0,
          detail: event["detail"] as? String ?? "", error: event["error"] as? String,
          outputTail: event["output_tail"] as? String, flagChanges: flagChanges, signals: signals)
      default:
        break
      }
    }
    return RunReport(summary: summary, steps: order.compactMap { entries[$0] })
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

  /// A JSON number as a Double; nil for anything else, and for a number that is not finite.
  static func number(_ value: Any?) -> Double? {
    let result: Double
    switch value {
    case let double as Double: result = double
    case let int as Int: result = Double(int)
    case let number as NSNumber: result = number.doubleValue
    default: return nil
    }
    return result.isFinite ? result : nil
  }

  /// The longest time a journal may state, seconds (ten years); beyond it the journal is wrong.
  static let maximumJournalSeconds: Double = 10 * 365 * 24 * 3600

  /// A journalled time in seconds: unknown (nil) unless a number from 0 to ten years.
  static func seconds(_ value: Any?) -> Double? {
    guard let seconds = number(value), seconds >= 0, seconds <= maximumJournalSeconds else { return nil }
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
  public static let eventKinds: Set<String> = ["run-started", "run-resumed", "run-finished"]

  /// The run id.
  public var runID: String
  /// The command that started it (`execute`, `drill`).
  public var command: String
  /// The runbook's name.
  public var runbook: String
  /// The environment.
  public var environment: String
  /// The level, if any.
  public var level: Int?
  /// The scenario, if any.
  public var scenario: String?
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
  /// The target, seconds.
  public var target: Double?
  /// Whether it finished within target.
  public var withinTarget: Bool?
  /// What to do next, when it failed.
  public var advice: String?
  /// How many times it was resumed.
  public var resumes: Int
  /// The runbook file as the run recorded it (absolute in newer journals).
  public var runbookPath: String?

  /// A summary with every field given.
  public init(
    runID: String, command: String, runbook: String, environment: String, level: Int?, scenario: String?,
    title: String?, dryRun: Bool, status: String, startedAt: String, finishedAt: String?, duration: Double?,
    rollbackDuration: Double?, target: Double?, withinTarget: Bool?, advice: String?, resumes: Int
  ) {
    self.runID = runID
    self.command = command
    self.runbook = runbook
    self.environment = environment
    self.level = level
    self.scenario = scenario
    self.title = title
    self.dryRun = dryRun
    self.status = status
    self.startedAt = startedAt
    self.finishedAt = finishedAt
    self.duration = duration
    self.rollbackDuration = rollbackDuration
    self.target = target
    self.withinTarget = withinTarget
    self.advice = advice
    self.resumes = resumes
  }

  /// The summary as the `run-started` event describes it: `in progress`, not finished.
  public init(start: [String: Any]) {
    self.init(
      runID: start["run_id"] as? String ?? "", command: start["command"] as? String ?? "execute",
      runbook: start["runbook"] as? String ?? "", environment: start["environment"] as? String ?? "",
      level: start["level"] as? Int, scenario: start["scenario"] as? String, title: start["title"] as? String,
      dryRun: start["dry_run"] as? Bool ?? false, status: "in progress",
      startedAt: start["started_at"] as? String ?? "", finishedAt: nil, duration: nil, rollbackDuration: nil,
      target: RunReport.seconds(start["target_s"]), withinTarget: nil, advice: nil, resumes: 0)
    runbookPath = start["runbook_path"] as? String
  }

  /// Takes one journal event into account: a resume reopens the run, a finish records its outcome.
  public mutating func apply(_ event: [String: Any]) {
    switch event["event"] as? String {
    case "run-resumed":
      resumes += 1
      status = "in progress"
    case "run-finished":
      status = event["status"] as? String ?? "unknown"
      finishedAt = event["finished_at"] as? String
      duration = RunReport.seconds(event["duration_s"])
      rollbackDuration = RunReport.seconds(event["rollback_duration_s"])
      // Only a finished rollback is timed (older journals marked dry runs and failures too).
      withinTarget = status == "succeeded" && !dryRun ? event["within_target"] as? Bool : nil
      advice = event["advice"] as? String
    default:
      break
    }
  }

  /// Reads a run from its journal events (JSON objects, in order), of which only those of
  /// ``eventKinds`` matter; nil without a run-started event. The same as
  /// `RunReport.parse(events)?.summary`.
  public static func parse(_ events: [[String: Any]]) -> RunSummary? {
    guard let start = events.first(where: { $0["event"] as? String == "run-started" }) else { return nil }
    var summary = RunSummary(start: start)
    for event in events { summary.apply(event) }
    return summary
  }

  /// `level 3` or `scenario backend-down`.
  public var what: String { level.map { "level \($0)" } ?? "scenario \(scenario ?? "?")" }
}
