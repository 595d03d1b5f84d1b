import Foundation

/// One step of a plan: resolved for an environment, includes expanded.
public struct PlannedStep: Sendable {
  /// Unique in the plan; steps from an include are `INCLUDE_ID.STEP_ID`.
  public var id: String
  /// The step kind's key (`flag`, `restart`, …).
  public var kind: String
  /// The step's name, if it has one.
  public var name: String?
  /// Whether the step changes the world.
  public var mutates: Bool
  /// What the step does, resolved, with secrets shown as `****`.
  public var detail: String
  /// The step's note.
  public var note: String?
  /// Where the step comes from (`level 3`, `scenario verify`).
  public var origin: String
  /// The step's own `when`: checked right before the step.
  public var condition: Condition?
  /// The `when` of each include around the step, outermost first: each is checked once,
  /// where its include starts, and skips the whole include when it does not hold.
  public var gates: [IncludeGate]
  /// The step as written.
  public var step: Step
  /// The hosts a host-scoped step runs on, in order; empty for the control machine.
  public var hosts: [String] = []
  /// A rolling step's batches of host names, in order.
  public var batches: [[String]] = []
  /// A rolling step's per-host steps, planned.
  public var pipeline: [PlannedStep] = []
  /// What the step does on each host, when that differs between its hosts (host `vars`,
  /// `${host.…}`): host names sharing one detail, in host order.
  public var hostDetails: [(hosts: [String], detail: String)] = []
  /// Whether the step is placed on hosts (`hosts:`, `on:` or `rolling`).
  public var hostScoped = false

  /// Creates a planned step.
  public init(
    id: String, kind: String, name: String?, mutates: Bool, detail: String, note: String?, origin: String,
    condition: Condition?, gates: [IncludeGate], step: Step
  ) {
    self.id = id
    self.kind = kind
    self.name = name
    self.mutates = mutates
    self.detail = detail
    self.note = note
    self.origin = origin
    self.condition = condition
    self.gates = gates
    self.step = step
  }
}

/// The `when` of an include step, decided once for all its steps.
public struct IncludeGate: Sendable {
  /// The include step's id path, unique in the plan.
  public var id: String
  /// The condition that decides whether the step runs.
  public var condition: Condition

  /// Creates a gate.
  public init(id: String, condition: Condition) {
    self.id = id
    self.condition = condition
  }
}

/// The resolved steps of a level or scenario in one environment.
public struct Plan: Sendable {
  /// The runbook's name.
  public var runbook: String
  /// The environment's name.
  public var environment: String
  /// The level or scenario planned.
  public var target: IncludeTarget
  /// The level's or scenario's name or title.
  public var title: String
  /// The time target, seconds.
  public var targetSeconds: Double?
  /// The steps in order.
  public var steps: [PlannedStep]
}
