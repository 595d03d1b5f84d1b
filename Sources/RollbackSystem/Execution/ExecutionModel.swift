import Foundation
import RollbackCore

/// Everything an execution needs to know before it starts.
public struct ExecutionRequest: Sendable {
  /// The validated runbook.
  public var runbook: Runbook
  /// The runbook file as the user named it.
  public var runbookPath: String
  /// A hash of the runbook's bytes, to detect changes before a resume.
  public var runbookHash: String
  /// The level or scenario to run.
  public var target: IncludeTarget
  /// The environment, nil for the default.
  public var environmentName: String?
  /// `--var` overrides.
  public var overrides: [String: String]
  /// The process environment.
  public var processEnvironment: [String: String]
  /// `--signal` values.
  public var manual: ManualValues
  /// Rehearse: mutate nothing.
  public var dryRun: Bool
  /// Answer every confirm gate with yes.
  public var assumeYes: Bool
  /// Whether a person can be asked on a terminal.
  public var canPrompt: Bool
  /// The state directory (`runs/`, `lock`, `backups/`).
  public var stateDirectory: String
  /// Start at this step id, skipping the ones before.
  public var fromStep: String?
  /// When resuming: the run being continued.
  public var resume: ResumePoint?
  /// What started the run (its journal `command`).
  public var kind: RunKind
  /// `drill --page`: a drill sends PagerDuty alert events too (by default only change events).
  public var page = false
  /// `--hosts PATTERN[,PATTERN]`: host-scoped steps run only on the hosts it selects (journalled,
  /// so `resume` keeps it); nil for every host.
  public var hostLimit: HostLimit? = nil

  /// Creates a request.
  public init(
    runbook: Runbook, runbookPath: String, runbookHash: String, target: IncludeTarget,
    environmentName: String?,
    overrides: [String: String], processEnvironment: [String: String], manual: ManualValues, dryRun: Bool,
    assumeYes: Bool, canPrompt: Bool, stateDirectory: String, fromStep: String? = nil,
    resume: ResumePoint? = nil,
    kind: RunKind = .execute
  ) {
    self.runbook = runbook
    self.runbookPath = runbookPath
    self.runbookHash = runbookHash
    self.target = target
    self.environmentName = environmentName
    self.overrides = overrides
    self.processEnvironment = processEnvironment
    self.manual = manual
    self.dryRun = dryRun
    self.assumeYes = assumeYes
    self.canPrompt = canPrompt
    self.stateDirectory = stateDirectory
    self.fromStep = fromStep
    self.resume = resume
    self.kind = kind
  }
}

/// Where an interrupted run stands, read from its journal.
public struct ResumePoint: Sendable {
  /// The run being continued.
  public var runID: String
  /// Steps journalled as finished (succeeded or skipped).
  public var finished: Set<String>
  /// Steps journalled as started but not finished.
  public var unfinished: Set<String>
  /// When the original run started.
  public var startedAt: Date
  /// The silences and annotation the interrupted run left open: the resume closes them at its end.
  public var openIntegrations = OpenIntegrations()
  /// For host-scoped steps: the hosts on which the interrupted run finished each step (by id).
  public var hostsFinished: [String: Set<String>] = [:]
  /// `resume --only-failed`: re-run just the failed hosts of this step (and nothing after it).
  public var onlyFailed: (step: String, hosts: Set<String>)?
  /// The interrupted run's finished steps that changed flag files: a restart the resume runs
  /// proves pickup against these writes.
  public var flagSteps: [StepFinishedEvent] = []

  /// Creates a resume point.
  public init(runID: String, finished: Set<String>, unfinished: Set<String>, startedAt: Date) {
    self.runID = runID
    self.finished = finished
    self.unfinished = unfinished
    self.startedAt = startedAt
  }
}

/// One file a flag step changed (or would change).
public struct FlagFileChange: Sendable {
  /// The dotenv file's path.
  public var file: String
  /// The dotenv key that changed (or would).
  public var key: String
  /// The value before, nil when absent.
  public var before: String?
  /// The value after.
  public var after: String
  /// Whether bytes were (or would be) written.
  public var changed: Bool
  /// The backup of the previous content.
  public var backup: String?
}

/// What happened to one step.
public struct StepRecord: Sendable {
  /// The step id.
  public var id: String
  /// The step kind.
  public var kind: String
  /// The step's name.
  public var name: String?
  /// Whether the step mutates.
  public var mutates: Bool
  /// How it ended.
  public var status: StepStatus
  /// When it started.
  public var startedAt: Date?
  /// How long it took, seconds.
  public var duration: Double
  /// What it did, in one line (secrets hidden).
  public var detail: String
  /// Why it failed.
  public var error: String?
  /// The end of its output.
  public var output: String?
  /// Attempts made.
  public var attempts: Int
  /// Flag changes.
  public var flagChanges: [FlagFileChange]
  /// Signals read.
  public var signals: [SignalReading]
  /// A host-scoped step's hosts and how each ended (empty for a step on the control machine).
  public var hosts: [JournalHostResult] = []
}

/// The result of an execution.
public struct RunResult: Sendable {
  /// The run id.
  public var runID: String
  /// The runbook's name.
  public var runbook: String
  /// The runbook environment the run acted on (`--env`).
  public var environment: String
  /// The level or scenario run; nil when no plan could be made.
  public var target: IncludeTarget?
  /// Whether it was a rehearsal.
  public var dryRun: Bool
  /// How the run ended (succeeded, failed, aborted, interrupted, dry run).
  public var status: RunStatus
  /// The process exit status that goes with it.
  public var exitCode: Int32
  /// Start time.
  public var startedAt: Date
  /// End time.
  public var finishedAt: Date
  /// The time target, seconds.
  public var targetSeconds: Double?
  /// Every step in plan order.
  public var steps: [StepRecord]
  /// What to do next, when it failed.
  public var advice: String?
  /// The journal file.
  public var journalPath: String?

  /// For a drill: the time of the level's own steps, seconds.
  public var rollbackDuration: Double?
  /// The command to paste for the next move, complete (runbook, environment, state directory).
  public var nextCommand: String?

  /// Wall time, seconds.
  public var duration: Double { finishedAt.timeIntervalSince(startedAt) }
  /// Whether it finished within its target (nil without a target); a drill counts its rollback time.
  public var withinTarget: Bool? {
    // Only a finished rollback is timed: a dry run, a failure or an abort is not "over target".
    guard let targetSeconds, status == .succeeded else { return nil }
    return (rollbackDuration ?? duration) <= targetSeconds
  }
}

/// `--hosts`: the pattern list as the user gave it, and the hosts it selected.
public struct HostLimit: Sendable, Equatable {
  /// The patterns, as given (`web-*,!web-3`).
  public var pattern: String
  /// The host names selected.
  public var hosts: Set<String>

  /// Creates a limit.
  public init(pattern: String, hosts: Set<String>) {
    self.pattern = pattern
    self.hosts = hosts
  }
}
