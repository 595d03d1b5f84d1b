import Foundation

/// One line of a run journal (`STATE/runs/RUN_ID.jsonl`): the one schema the executor writes
/// and `report`, `history`, `restore` and `resume` read.
///
/// Field names on disk are those journals have always had, so older journals read. Every field
/// is read leniently: a value of the wrong type, or a number out of range, reads as absent
/// (unknown), never as a default that looks healthy. Writing goes through ``json`` (members in a
/// fixed order, the bytes journals have always had) so the redactor sees the text as before.
public enum JournalEvent: Sendable, Equatable, Codable {
  /// The run began (`run-started`); the first event of every journal.
  case runStarted(RunStartedEvent)
  /// A resume continued the run (`run-resumed`); the same fields as the start, of the resume.
  case runResumed(RunStartedEvent)
  /// A step is about to run (`step-started`).
  case stepStarted(StepStartedEvent)
  /// A step ended (`step-finished`).
  case stepFinished(StepFinishedEvent)
  /// SIGINT or SIGTERM stopped the run (`interrupted`).
  case interrupted(at: String?)
  /// Preflight refused the run; nothing was changed (`preflight-failed`).
  case preflightFailed(PreflightFailedEvent)
  /// `rollback restore` put flag files back from their backups (`restored`).
  case restored(RestoredEvent)
  /// The run ended (`run-finished`).
  case runFinished(RunFinishedEvent)
  /// A call to an on-call integration (`integration`).
  case integration(IntegrationEvent)
  /// The level ran past its `escalate.after`: the offer to abandon it for a stronger one (`escalated`).
  case escalated(EscalatedEvent)
  /// A JSON object of another kind (or without `event`), kept so that readers can skip it.
  case other(kind: String?)

  /// The schema version run-started events of this version write (`schema`); journals without
  /// the field are version 1, the same schema.
  public static let schemaVersion = 1

  /// The `event` value on disk.
  public var kind: String? {
    switch self {
    case .runStarted: return Kind.runStarted
    case .runResumed: return Kind.runResumed
    case .stepStarted: return Kind.stepStarted
    case .stepFinished: return Kind.stepFinished
    case .interrupted: return Kind.interrupted
    case .preflightFailed: return Kind.preflightFailed
    case .restored: return Kind.restored
    case .runFinished: return Kind.runFinished
    case .integration: return Kind.integration
    case .escalated: return Kind.escalated
    case .other(let kind): return kind
    }
  }

  /// The `event` values journals hold.
  public enum Kind {
    /// `run-started`.
    public static let runStarted = "run-started"
    /// `escalated`.
    public static let escalated = "escalated"
    /// `run-resumed`.
    public static let runResumed = "run-resumed"
    /// `step-started`.
    public static let stepStarted = "step-started"
    /// `step-finished`.
    public static let stepFinished = "step-finished"
    /// `interrupted`.
    public static let interrupted = "interrupted"
    /// `preflight-failed`.
    public static let preflightFailed = "preflight-failed"
    /// `restored`.
    public static let restored = "restored"
    /// `run-finished`.
    public static let runFinished = "run-finished"
    /// `integration`.
    public static let integration = "integration"
  }

  /// The event as its journal line holds it, members in the order journals have always had.
  public var json: JSONValue {
    switch self {
    case .runStarted(let event): return event.json(kind: Kind.runStarted)
    case .runResumed(let event): return event.json(kind: Kind.runResumed)
    case .stepStarted(let event): return event.json
    case .stepFinished(let event): return event.json
    case .interrupted(let at): return .object([("event", .string(Kind.interrupted)), ("at", .string(at))])
    case .preflightFailed(let event): return event.json
    case .restored(let event): return event.json
    case .runFinished(let event): return event.json
    case .integration(let event): return event.json
    case .escalated(let event): return event.json
    case .other(let kind): return .object(kind.map { [("event", .string($0))] } ?? [])
    }
  }

  /// Reads one journal line; nil when it is not a JSON object (a torn line).
  public static func decode(line: Data) -> JournalEvent? {
    try? JSONDecoder().decode(JournalEvent.self, from: line)
  }

  /// The events of a journal's bytes, in order; lines that are not JSON objects are left out.
  public static func events(jsonl bytes: [UInt8]) -> [JournalEvent] {
    bytes.split(separator: 0x0A).compactMap { decode(line: Data($0)) }
  }

  /// Reads an event from a JSON object.
  public init(from decoder: any Decoder) throws {
    let fields = try JournalFields(decoder)
    switch fields.string("event") {
    case Kind.runStarted: self = .runStarted(RunStartedEvent(fields))
    case Kind.runResumed: self = .runResumed(RunStartedEvent(fields))
    case Kind.stepStarted: self = .stepStarted(StepStartedEvent(fields))
    case Kind.stepFinished: self = .stepFinished(StepFinishedEvent(fields))
    case Kind.interrupted: self = .interrupted(at: fields.string("at"))
    case Kind.preflightFailed: self = .preflightFailed(PreflightFailedEvent(fields))
    case Kind.restored: self = .restored(RestoredEvent(fields))
    case Kind.runFinished: self = .runFinished(RunFinishedEvent(fields))
    case Kind.integration: self = .integration(IntegrationEvent(fields))
    case Kind.escalated: self = .escalated(EscalatedEvent(fields))
    case let kind: self = .other(kind: kind)
    }
  }

  /// Writes the event as ``json`` renders it.
  public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

/// A run's start (`run-started`) or resume (`run-resumed`).
public struct RunStartedEvent: Sendable, Equatable {
  /// One planned step, as the start lists them.
  public struct PlannedStep: Sendable, Equatable {
    /// The step id.
    public var id: String
    /// The step's kind (`flag`, `restart`, `wait`, …); absent in journals that predate it.
    public var kind: String?
    /// Whether it mutates.
    public var mutates: Bool?

    /// A planned step.
    public init(id: String, kind: String?, mutates: Bool?) {
      self.id = id
      self.kind = kind
      self.mutates = mutates
    }
  }

  /// The schema version (`schema`); nil in journals written before it was recorded (version 1).
  public var schema: Int?
  /// The run id.
  public var runID: String?
  /// The command that started it (`execute`, `drill`, `resume`).
  public var command: String?
  /// The runbook's name.
  public var runbook: String?
  /// The runbook file (absolute in newer journals).
  public var runbookPath: String?
  /// The runbook's content hash.
  public var runbookHash: String?
  /// The runbook environment the run acts on (`--env`).
  public var environment: String?
  /// The level, if any.
  public var level: Int?
  /// The scenario, if any.
  public var scenario: String?
  /// The level's name or the scenario's title.
  public var title: String?
  /// Whether it is a rehearsal.
  public var dryRun: Bool?
  /// The target, seconds (as written; readers check the range).
  public var targetSeconds: Double?
  /// When the run started (ISO time).
  public var startedAt: String?
  /// When this event was written (ISO time).
  public var at: String?
  /// The process id of the `rollback` that wrote the journal.
  public var pid: Int?
  /// The control host's name (where `rollback` ran).
  public var host: String?
  /// The user who ran it (`$USER`, else the uid).
  public var user: String?
  /// The overrides journalled with their values, by name (string values only).
  public var vars: [(name: String, value: String)]
  /// The overrides journalled by name only (secret).
  public var secretVars: [String]
  /// The planned steps, in order.
  public var steps: [PlannedStep]
  /// `--hosts`: the pattern list given, nil when the run was not limited (written only then).
  public var hostLimit: String? = nil
  /// `--hosts`: the hosts the pattern list selected, in inventory order.
  public var limitedHosts: [String] = []

  /// A start with every field given.
  public init(
    schema: Int? = JournalEvent.schemaVersion, runID: String?, command: String?, runbook: String?,
    runbookPath: String?, runbookHash: String?, environment: String?, level: Int?, scenario: String?,
    title: String?, dryRun: Bool?, targetSeconds: Double?, startedAt: String?, at: String?, pid: Int?,
    host: String?, user: String?, vars: [(name: String, value: String)], secretVars: [String],
    steps: [PlannedStep]
  ) {
    self.schema = schema
    self.runID = runID
    self.command = command
    self.runbook = runbook
    self.runbookPath = runbookPath
    self.runbookHash = runbookHash
    self.environment = environment
    self.level = level
    self.scenario = scenario
    self.title = title
    self.dryRun = dryRun
    self.targetSeconds = targetSeconds
    self.startedAt = startedAt
    self.at = at
    self.pid = pid
    self.host = host
    self.user = user
    self.vars = vars
    self.secretVars = secretVars
    self.steps = steps
  }

  init(_ fields: JournalFields) {
    self.init(
      schema: fields.int("schema"), runID: fields.string("run_id"), command: fields.string("command"),
      runbook: fields.string("runbook"), runbookPath: fields.string("runbook_path"),
      runbookHash: fields.string("runbook_hash"), environment: fields.string("environment"),
      level: fields.int("level"), scenario: fields.string("scenario"), title: fields.string("title"),
      dryRun: fields.bool("dry_run"), targetSeconds: fields.number("target_s"),
      startedAt: fields.string("started_at"), at: fields.string("at"), pid: fields.int("pid"),
      host: fields.string("host"), user: fields.string("user"),
      vars: fields.stringMembers("vars"), secretVars: fields.strings("secret_vars"),
      steps: fields.objects("steps").compactMap { step in
        step.string("id").map {
          PlannedStep(id: $0, kind: step.string("kind"), mutates: step.bool("mutates"))
        }
      })
    hostLimit = fields.string("host_limit")
    limitedHosts = fields.strings("limited_hosts")
  }

  /// Equality of every field.
  public static func == (lhs: RunStartedEvent, rhs: RunStartedEvent) -> Bool {
    lhs.json(kind: "") == rhs.json(kind: "")
  }

  func json(kind: String) -> JSONValue {
    var members: [(String, JSONValue)] = [("event", .string(kind))]
    // Written after the event name; older journals have no `schema` (version 1).
    if let schema { members.append(("schema", .int(schema))) }
    members += [
      ("run_id", .string(runID)), ("command", .string(command)), ("runbook", .string(runbook)),
      ("runbook_path", .string(runbookPath)), ("runbook_hash", .string(runbookHash)),
      ("environment", .string(environment)), ("level", .int(level)), ("scenario", .string(scenario)),
      ("title", .string(title)), ("dry_run", dryRun.map { .bool($0) } ?? .null),
      ("target_s", .number(targetSeconds)), ("started_at", .string(startedAt)), ("at", .string(at)),
      ("pid", .int(pid)), ("host", .string(host)), ("user", .string(user)),
      ("vars", .object(vars.map { ($0.name, .string($0.value)) })),
      ("secret_vars", .array(secretVars.map { .string($0) })),
      (
        "steps",
        .array(
          steps.map {
            .object([
              ("id", .string($0.id)), ("kind", .string($0.kind)),
              ("mutates", $0.mutates.map { .bool($0) } ?? .null),
            ])
          })
      ),
    ]
    if let hostLimit {
      members += [
        ("host_limit", .string(hostLimit)), ("limited_hosts", .array(limitedHosts.map { .string($0) })),
      ]
    }
    return .object(members)
  }
}

/// A step about to run (`step-started`).
public struct StepStartedEvent: Sendable, Equatable {
  /// The step id. Written as `step`; `id` (the name `step-finished` uses) is read too.
  public var step: String?
  /// The step's kind (`flag`, `restart`, `wait`, …).
  public var kind: String?
  /// Whether it mutates.
  public var mutates: Bool?
  /// When it started (ISO time).
  public var at: String?
  /// The host it started on, for a host-scoped step's per-host event; nil otherwise (and in
  /// journals written before hosts existed).
  public var host: String?

  /// A step start.
  public init(step: String?, kind: String?, mutates: Bool?, at: String?, host: String? = nil) {
    self.step = step
    self.kind = kind
    self.mutates = mutates
    self.at = at
    self.host = host
  }

  init(_ fields: JournalFields) {
    self.init(
      step: fields.string("step") ?? fields.string("id"), kind: fields.string("kind"),
      mutates: fields.bool("mutates"), at: fields.string("at"), host: fields.string("host"))
  }

  var json: JSONValue {
    var members: [(String, JSONValue)] = [
      ("event", .string(JournalEvent.Kind.stepStarted)), ("step", .string(step)), ("kind", .string(kind)),
      ("mutates", mutates.map { .bool($0) } ?? .null), ("at", .string(at)),
    ]
    if let host { members.append(("host", .string(host))) }
    return .object(members)
  }
}

/// One file a flag step changed, as journalled.
public struct JournalFlagChange: Sendable, Equatable {
  /// The dotenv file's path as the runbook names it.
  public var file: String?
  /// The dotenv key that was set.
  public var key: String?
  /// The value before, nil when absent.
  public var before: String?
  /// The value after.
  public var after: String?
  /// Whether bytes were written.
  public var changed: Bool?
  /// The backup of the previous content.
  public var backup: String?

  /// A flag change.
  public init(file: String?, key: String?, before: String?, after: String?, changed: Bool?, backup: String?) {
    self.file = file
    self.key = key
    self.before = before
    self.after = after
    self.changed = changed
    self.backup = backup
  }

  init(_ fields: JournalFields) {
    self.init(
      file: fields.string("file"), key: fields.string("key"), before: fields.string("before"),
      after: fields.string("after"), changed: fields.bool("changed"), backup: fields.string("backup"))
  }

  var json: JSONValue {
    .object([
      ("file", .string(file)), ("key", .string(key)), ("before", .string(before)), ("after", .string(after)),
      ("changed", changed.map { .bool($0) } ?? .null), ("backup", .string(backup)),
    ])
  }
}

/// One signal reading, as journals and saved assessments hold it.
public struct JournalSignal: Sendable, Equatable {
  /// The signal's name.
  public var name: String?
  /// Where it was read.
  public var source: String?
  /// The value; nil when unknown (absent, not a number, or not finite).
  public var value: Double?
  /// The unit (`count`, `ratio`, …).
  public var unit: String?
  /// Why it is unknown.
  public var error: String?

  /// A reading.
  public init(name: String?, source: String?, value: Double?, unit: String?, error: String?) {
    self.name = name
    self.source = source
    self.value = value
    self.unit = unit
    self.error = error
  }

  init(_ fields: JournalFields) {
    self.init(
      name: fields.string("name"), source: fields.string("source"), value: fields.number("value"),
      unit: fields.string("unit"), error: fields.string("error"))
  }

  var json: JSONValue {
    .object([
      ("name", .string(name)), ("source", .string(source)), ("value", .number(value)),
      ("unit", .string(unit)),
      ("error", .string(error)),
    ])
  }
}

/// A step's end (`step-finished`); also the shape of a step in `execute --json`, without
/// `event` and `at`.
public struct StepFinishedEvent: Sendable, Equatable {
  /// The step id. Written as `id`; `step` (the name `step-started` uses) is read too.
  public var id: String?
  /// The step's kind (`flag`, `restart`, `wait`, …).
  public var kind: String?
  /// The step's name.
  public var name: String?
  /// How it ended; nil when the journal holds no status this version knows.
  public var status: StepStatus?
  /// The status as written when it is not one of ``StepStatus`` (kept so that reports show it as
  /// before); nil otherwise.
  public var unknownStatus: String?
  /// Whether it mutates.
  public var mutates: Bool?
  /// When it started (ISO time).
  public var startedAt: String?
  /// Seconds, as written; readers check the range.
  public var durationSeconds: Double?
  /// What it did.
  public var detail: String?
  /// Why it failed.
  public var error: String?
  /// Attempts made.
  public var attempts: Int?
  /// When the event was written (ISO time); nil in `execute --json`.
  public var at: String?
  /// Flag changes.
  public var flagChanges: [JournalFlagChange]
  /// Signals read.
  public var signals: [JournalSignal]
  /// The end of its output.
  public var outputTail: String?
  /// The host this event is about, for a host-scoped step's per-host event; nil for the
  /// step's own event (and in journals written before hosts existed).
  public var host: String?
  /// A host-scoped step's hosts and how each ended (the step's own event).
  public var hosts: [JournalHostResult] = []

  /// A step's end.
  public init(
    id: String?, kind: String?, name: String?, status: StepStatus?, mutates: Bool?, startedAt: String?,
    durationSeconds: Double?, detail: String?, error: String?, attempts: Int?, at: String?,
    flagChanges: [JournalFlagChange], signals: [JournalSignal], outputTail: String?,
    unknownStatus: String? = nil, host: String? = nil, hosts: [JournalHostResult] = []
  ) {
    self.host = host
    self.hosts = hosts
    self.id = id
    self.kind = kind
    self.name = name
    self.status = status
    self.unknownStatus = status == nil ? unknownStatus : nil
    self.mutates = mutates
    self.startedAt = startedAt
    self.durationSeconds = durationSeconds
    self.detail = detail
    self.error = error
    self.attempts = attempts
    self.at = at
    self.flagChanges = flagChanges
    self.signals = signals
    self.outputTail = outputTail
  }

  init(_ fields: JournalFields) {
    self.init(
      id: fields.string("id") ?? fields.string("step"), kind: fields.string("kind"),
      name: fields.string("name"),
      status: fields.string("status").flatMap(StepStatus.init(rawValue:)), mutates: fields.bool("mutates"),
      startedAt: fields.string("started_at"),
      durationSeconds: fields.number("duration_s"), detail: fields.string("detail"),
      error: fields.string("error"), attempts: fields.int("attempts"), at: fields.string("at"),
      flagChanges: fields.objects("flag_changes").map(JournalFlagChange.init),
      signals: fields.objects("signals").map(JournalSignal.init), outputTail: fields.string("output_tail"),
      unknownStatus: fields.string("status"), host: fields.string("host"),
      hosts: fields.objects("hosts").map(JournalHostResult.init))
  }

  /// The journal line, members in the order journals have always had.
  public var json: JSONValue { json(event: true) }

  /// The step as `execute --json` lists it (no `event`, no `at`), or as its journal line.
  public func json(event: Bool) -> JSONValue {
    var members: [(String, JSONValue)] = []
    if event { members.append(("event", .string(JournalEvent.Kind.stepFinished))) }
    members += [
      ("id", .string(id)), ("kind", .string(kind)), ("name", .string(name)),
      ("status", .string(status?.rawValue ?? unknownStatus)),
      ("mutates", mutates.map { .bool($0) } ?? .null), ("started_at", .string(startedAt)),
      ("duration_s", .number(durationSeconds)), ("detail", .string(detail)), ("error", .string(error)),
      ("attempts", .int(attempts)),
    ]
    if event { members.append(("at", .string(at))) }
    if !flagChanges.isEmpty { members.append(("flag_changes", .array(flagChanges.map(\.json)))) }
    if !signals.isEmpty { members.append(("signals", .array(signals.map(\.json)))) }
    if let outputTail { members.append(("output_tail", .string(outputTail))) }
    if let host { members.append(("host", .string(host))) }
    if !hosts.isEmpty { members.append(("hosts", .array(hosts.map(\.json)))) }
    return .object(members)
  }
}

/// How a host-scoped step ended on one host: `{name, status, steps: [{id, status, error}]}`.
public struct JournalHostResult: Sendable, Equatable {
  /// One step of the host's pipeline (a rolling step's inner steps; the step itself otherwise).
  public struct StepOutcome: Sendable, Equatable {
    /// The step id.
    public var id: String
    /// `succeeded`, `failed`, `skipped`, …
    public var status: String
    /// Why it failed.
    public var error: String?

    /// Creates an outcome.
    public init(id: String, status: String, error: String? = nil) {
      self.id = id
      self.status = status
      self.error = error
    }
  }

  /// The host's name.
  public var name: String
  /// `succeeded`, `failed`, `unreachable` or `untouched`.
  public var status: String
  /// Its steps, in order.
  public var steps: [StepOutcome]

  /// Creates a host's result.
  public init(name: String, status: String, steps: [StepOutcome]) {
    self.name = name
    self.status = status
    self.steps = steps
  }

  init(_ fields: JournalFields) {
    self.init(
      name: fields.string("name") ?? "", status: fields.string("status") ?? "",
      steps: fields.objects("steps").map {
        StepOutcome(id: $0.string("id") ?? "", status: $0.string("status") ?? "", error: $0.string("error"))
      })
  }

  var json: JSONValue {
    .object([
      ("name", .string(name)), ("status", .string(status)),
      (
        "steps",
        .array(
          steps.map { step in
            var members: [(String, JSONValue)] = [("id", .string(step.id)), ("status", .string(step.status))]
            if let error = step.error { members.append(("error", .string(error))) }
            return .object(members)
          })
      ),
    ])
  }
}

/// Preflight refused the run (`preflight-failed`).
public struct PreflightFailedEvent: Sendable, Equatable {
  /// When (ISO time).
  public var at: String?
  /// The problems, as printed.
  public var problems: [String]

  /// A refusal.
  public init(at: String?, problems: [String]) {
    self.at = at
    self.problems = problems
  }

  init(_ fields: JournalFields) { self.init(at: fields.string("at"), problems: fields.strings("problems")) }

  var json: JSONValue {
    .object([
      ("event", .string(JournalEvent.Kind.preflightFailed)), ("at", .string(at)),
      ("problems", .array(problems.map { .string($0) })),
    ])
  }
}

/// `rollback restore` put flag files back (`restored`).
public struct RestoredEvent: Sendable, Equatable {
  /// One file.
  public struct File: Sendable, Equatable {
    /// The dotenv file's path that was put back.
    public var file: String?
    /// Its backup.
    public var backup: String?
    /// `restored`, `unchanged` or `failed`.
    public var status: String?
    /// Why it failed.
    public var error: String?

    /// One file's outcome.
    public init(file: String?, backup: String?, status: String?, error: String?) {
      self.file = file
      self.backup = backup
      self.status = status
      self.error = error
    }

    /// The file as journals and `restore --json` hold it.
    public var json: JSONValue {
      .object([
        ("file", .string(file)), ("backup", .string(backup)), ("status", .string(status)),
        ("error", .string(error)),
      ])
    }
  }

  /// When (ISO time).
  public var at: String?
  /// Who.
  public var user: String?
  /// Every file put back, with its backup.
  public var files: [File]

  /// A restore.
  public init(at: String?, user: String?, files: [File]) {
    self.at = at
    self.user = user
    self.files = files
  }

  init(_ fields: JournalFields) {
    self.init(
      at: fields.string("at"), user: fields.string("user"),
      files: fields.objects("files").map {
        File(
          file: $0.string("file"), backup: $0.string("backup"), status: $0.string("status"),
          error: $0.string("error"))
      })
  }

  var json: JSONValue {
    .object([
      ("event", .string(JournalEvent.Kind.restored)), ("at", .string(at)), ("user", .string(user)),
      ("files", .array(files.map(\.json))),
    ])
  }
}

/// The run's end (`run-finished`).
public struct RunFinishedEvent: Sendable, Equatable {
  /// The run id.
  public var runID: String?
  /// The outcome; nil when the journal holds no status this version knows.
  public var status: RunStatus?
  /// The status as written when it is not one of ``RunStatus`` (kept so that history shows it as
  /// before); nil otherwise.
  public var unknownStatus: String?
  /// When it finished (ISO time).
  public var finishedAt: String?
  /// Wall time, seconds, as written.
  public var durationSeconds: Double?
  /// The rollback part of a drill, seconds, as written.
  public var rollbackDurationSeconds: Double?
  /// The target, seconds, as written.
  public var targetSeconds: Double?
  /// Whether it finished within target.
  public var withinTarget: Bool?
  /// The exit code.
  public var exitCode: Int?
  /// What to do next.
  public var advice: String?
  /// The command to run next.
  public var nextCommand: String?
  /// How each host came out of the run (written only when the run had host-scoped steps).
  public var hosts: [RunHostOutcome] = []

  /// A run's end.
  public init(
    runID: String?, status: RunStatus?, finishedAt: String?, durationSeconds: Double?,
    rollbackDurationSeconds: Double?, targetSeconds: Double?, withinTarget: Bool?, exitCode: Int?,
    advice: String?, nextCommand: String?, unknownStatus: String? = nil
  ) {
    self.runID = runID
    self.status = status
    self.unknownStatus = status == nil ? unknownStatus : nil
    self.finishedAt = finishedAt
    self.durationSeconds = durationSeconds
    self.rollbackDurationSeconds = rollbackDurationSeconds
    self.targetSeconds = targetSeconds
    self.withinTarget = withinTarget
    self.exitCode = exitCode
    self.advice = advice
    self.nextCommand = nextCommand
  }

  init(_ fields: JournalFields) {
    self.init(
      runID: fields.string("run_id"), status: fields.string("status").flatMap(RunStatus.init(rawValue:)),
      finishedAt: fields.string("finished_at"),
      durationSeconds: fields.number("duration_s"),
      rollbackDurationSeconds: fields.number("rollback_duration_s"),
      targetSeconds: fields.number("target_s"), withinTarget: fields.bool("within_target"),
      exitCode: fields.int("exit_code"), advice: fields.string("advice"),
      nextCommand: fields.string("next_command"), unknownStatus: fields.string("status"))
    hosts = fields.objects("hosts").compactMap { host in
      host.string("name").map { RunHostOutcome(name: $0, status: host.string("status") ?? "unknown") }
    }
  }

  var json: JSONValue {
    var members: [(String, JSONValue)] = [
      ("event", .string(JournalEvent.Kind.runFinished)), ("run_id", .string(runID)),
      ("status", .string(status?.rawValue ?? unknownStatus)),
      ("finished_at", .string(finishedAt)), ("duration_s", .number(durationSeconds)),
      ("rollback_duration_s", .number(rollbackDurationSeconds)), ("target_s", .number(targetSeconds)),
      ("within_target", withinTarget.map { .bool($0) } ?? .null), ("exit_code", .int(exitCode)),
      ("advice", .string(advice)), ("next_command", .string(nextCommand)),
    ]
    if !hosts.isEmpty { members.append(("hosts", .array(hosts.map(\.json)))) }
    return .object(members)
  }
}

/// Where a run stands by its journal: what `rollback resume` continues from.
public struct JournalProgress: Sendable, Equatable {
  /// The run's start.
  public var start: RunStartedEvent
  /// The outcome of the last event when it is a run-finished event, nil otherwise (killed, or
  /// resumed since it finished).
  public var finalStatus: RunStatus?
  /// Steps whose last finish succeeded or was skipped.
  public var finished: Set<String>
  /// Steps journalled as started and not finished since.
  public var unfinished: Set<String>
  /// The integration calls journalled (silences, annotation, PagerDuty events).
  public var integrations: [IntegrationEvent] = []
  /// For host-scoped steps (and a rolling step's inner steps): the hosts on which the step's
  /// last per-host event says it succeeded or was skipped, by step id.
  public var hostsFinished: [String: Set<String>] = [:]
  /// For host-scoped steps: the hosts on which the step's last per-host event says it failed.
  public var hostsFailed: [String: Set<String>] = [:]
  /// The last step journalled as failed (its own event), if any.
  public var lastFailedStep: String?

  /// Reads the journal's events; nil without a run-started event.
  public init?(_ events: [JournalEvent]) {
    guard let start = RunSummary.start(events) else { return nil }
    self.start = start
    if case .runFinished(let finish) = events.last { finalStatus = finish.status }
    finished = []
    unfinished = []
    for event in events {
      switch event {
      case .stepStarted(let step):
        if step.host == nil, let id = step.step { unfinished.insert(id) }
      case .integration(let call):
        integrations.append(call)
      case .stepFinished(let step):
        guard let id = step.id else { continue }
        if let host = step.host {
          // One host's part of a host-scoped step: the step itself is not finished by it.
          if step.status == .succeeded || step.status == .skipped {
            hostsFinished[id, default: []].insert(host)
            hostsFailed[id]?.remove(host)
          } else {
            hostsFinished[id]?.remove(host)
            hostsFailed[id, default: []].insert(host)
          }
          continue
        }
        unfinished.remove(id)
        if step.status == .failed { lastFailedStep = id }
        if step.status == .succeeded || step.status == .skipped {
          finished.insert(id)
        } else {
          finished.remove(id)
        }
      default: break
      }
    }
  }
}

/// The level ran past its `escalate.after` (`escalated`): what was offered and the answer.
public struct EscalatedEvent: Sendable, Equatable {
  /// The level abandoned (or kept, when declined).
  public var from: Int?
  /// The stronger level.
  public var to: Int?
  /// `escalate.after`, seconds.
  public var afterSeconds: Double?
  /// Whether the run moved to the stronger level.
  public var accepted: Bool?
  /// Who answered: `yes`, `--yes`, `no`, `no terminal`.
  public var answer: String?
  /// When (ISO time).
  public var at: String?

  /// An escalation.
  public init(from: Int?, to: Int?, afterSeconds: Double?, accepted: Bool?, answer: String?, at: String?) {
    self.from = from
    self.to = to
    self.afterSeconds = afterSeconds
    self.accepted = accepted
    self.answer = answer
    self.at = at
  }

  init(_ fields: JournalFields) {
    self.init(
      from: fields.int("from"), to: fields.int("to"), afterSeconds: fields.number("after_s"),
      accepted: fields.bool("accepted"), answer: fields.string("answer"), at: fields.string("at"))
  }

  var json: JSONValue {
    .object([
      ("event", .string(JournalEvent.Kind.escalated)), ("from", .int(from)), ("to", .int(to)),
      ("after_s", .number(afterSeconds)), ("accepted", accepted.map { .bool($0) } ?? .null),
      ("answer", .string(answer)), ("at", .string(at)),
    ])
  }
}
