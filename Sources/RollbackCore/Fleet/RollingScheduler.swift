/// How one host's pipeline of a rolling step ended.
public enum RollingHostResult: Sendable, Equatable {
  /// Every step of the pipeline succeeded.
  case succeeded
  /// A step failed; the pipeline stopped there.
  case failed
  /// The host could not be reached. Counts as a failed host, never a skipped one.
  case unreachable
}

/// Where a host stands when a rolling step ends.
public enum RollingHostStatus: String, Sendable, Equatable {
  /// Its pipeline ran to the end.
  case succeeded
  /// Its pipeline failed (or it was unreachable).
  case failed
  /// Unreachable: a failed host.
  case unreachable
  /// Never started (a later batch, or after the step stopped).
  case untouched

  /// Whether the host counts as failed (unreachable included).
  public var isFailure: Bool { self == .failed || self == .unreachable }
}

/// Why a rolling step ended.
public enum RollingEndReason: Sendable, Equatable {
  /// Every batch ran and passed its gate; failures (if any) stayed within `max_fail`.
  case completed
  /// A batch's failures exceeded `max_fail`: no new host was started.
  case failureThresholdExceeded(batch: Int, failed: Int, allowed: Int)
  /// The gate after a batch did not hold (`unknown` when it could not be evaluated).
  case gateFailed(batch: Int, unknown: Bool)
  /// The driver asked to stop (an interrupt): no new host was started.
  case interrupted
}

/// The end of a rolling step: a status per host, in the order the hosts were given.
public struct RollingOutcome: Sendable, Equatable {
  /// Why the step ended.
  public var reason: RollingEndReason
  /// Every host and its status, in order.
  public var statuses: [(host: String, status: RollingHostStatus)]

  /// Creates an outcome.
  public init(reason: RollingEndReason, statuses: [(host: String, status: RollingHostStatus)]) {
    self.reason = reason
    self.statuses = statuses
  }

  /// Whether the step as a whole succeeded.
  public var succeeded: Bool { reason == .completed }
  /// Hosts that failed (unreachable included), in order.
  public var failedHosts: [String] { statuses.filter { $0.status.isFailure }.map(\.host) }
  /// Hosts that never started, in order.
  public var untouchedHosts: [String] { statuses.filter { $0.status == .untouched }.map(\.host) }
  /// Hosts whose pipeline succeeded, in order.
  public var succeededHosts: [String] { statuses.filter { $0.status == .succeeded }.map(\.host) }

  /// Compares reasons and statuses.
  public static func == (lhs: RollingOutcome, rhs: RollingOutcome) -> Bool {
    lhs.reason == rhs.reason && lhs.statuses.map(\.host) == rhs.statuses.map(\.host)
      && lhs.statuses.map(\.status) == rhs.statuses.map(\.status)
  }
}

/// What the driver of a rolling step is to do next.
public enum RollingAction: Sendable, Equatable {
  /// Start this host's pipeline (it belongs to batch `batch`, counted from 1).
  case start(host: String, batch: Int)
  /// Batch `batch` is done within `max_fail`: pause, evaluate the gate, and report it with
  /// ``RollingScheduler/gateChecked(holds:)``.
  case checkGate(batch: Int)
  /// The step is over.
  case finish(RollingOutcome)
}

/// The rolling step's semantics as a pure state machine (fleet.md, Rolling); the driver runs
/// the pipelines, the pause and the gate, and reports back.
///
/// - Batches are cumulative targets (``RollingSpec/batches(of:sizes:)``): `[1, "50%", "100%"]`
///   on 10 hosts gives 1, 4 and 5 hosts.
/// - Within a batch at most `forks` pipelines run at once; a finished one makes room for the
///   next host of the batch.
/// - A batch whose failures (unreachable hosts included) exceed `max_fail` starts no new host;
///   the running ones finish, then the step ends with
///   ``RollingEndReason/failureThresholdExceeded(batch:failed:allowed:)``.
/// - After each batch (the last included) the driver pauses and evaluates the gate, when the
///   step has one or a pause; a gate that does not hold, or is unknown, ends the step.
/// - `once` steps run on the first host that reaches them in the whole run
///   (``claimOnce(_:host:)``).
public struct RollingScheduler: Sendable {
  /// The hosts of each batch, in order.
  public let batches: [[String]]
  /// Failures allowed per batch.
  public let maxFail: FailureAllowance
  /// The most pipelines running at once.
  public let forks: Int
  /// Whether the driver pauses and checks a gate after each batch.
  public let checksAfterBatch: Bool

  private var batchIndex = 0
  private var nextInBatch = 0
  private var running: Set<String> = []
  private var results: [String: RollingHostResult] = [:]
  private var failuresInBatch = 0
  private var stopReason: RollingEndReason?
  private var awaitingGate = false
  private var finished = false
  private var onceClaims: [String: String] = [:]
  private let order: [String]

  /// Creates a scheduler for `hosts` (in the order they are taken) under a rolling step's
  /// batch sizes and `max_fail`.
  ///
  /// - Parameters:
  ///   - checksAfterBatch: true when the step has a `pause` or a `gate`.
  ///   - onceDone: `once` step ids that already ran in this run (a resumed run).
  public init(
    hosts: [String], batches sizes: [BatchSize], maxFail: FailureAllowance, forks: Int,
    checksAfterBatch: Bool, onceDone: [String: String] = [:]
  ) {
    var unique: [String] = []
    var seen = Set<String>()
    for host in hosts where seen.insert(host).inserted { unique.append(host) }
    self.order = unique
    self.batches = RollingSpec.batches(of: unique, sizes: sizes)
    self.maxFail = maxFail
    self.forks = max(1, forks)
    self.checksAfterBatch = checksAfterBatch
    self.onceClaims = onceDone
  }

  /// The most failures batch `batch` (from 1) tolerates.
  public func allowedFailures(inBatch batch: Int) -> Int {
    guard batch >= 1, batch <= batches.count else { return 0 }
    return maxFail.allowed(inBatchOf: batches[batch - 1].count)
  }

  /// The first actions: the first hosts to start (or the end, when there is no host).
  public mutating func begin() -> [RollingAction] {
    advance()
  }

  /// Records how `host`'s pipeline ended and returns what to do next. A host that is not
  /// running is ignored (no action).
  public mutating func hostFinished(_ host: String, _ result: RollingHostResult) -> [RollingAction] {
    guard running.remove(host) != nil else { return [] }
    results[host] = result
    if result != .succeeded {
      failuresInBatch += 1
      let allowed = allowedFailures(inBatch: batchIndex + 1)
      if failuresInBatch > allowed, stopReason == nil {
        stopReason = .failureThresholdExceeded(
          batch: batchIndex + 1, failed: failuresInBatch, allowed: allowed)
      } else if case .failureThresholdExceeded(let batch, _, let allowed) = stopReason,
        batch == batchIndex + 1
      {
        stopReason = .failureThresholdExceeded(batch: batch, failed: failuresInBatch, allowed: allowed)
      }
    }
    return advance()
  }

  /// Records the gate of the batch just done (`nil`: unknown, which fails it).
  public mutating func gateChecked(holds: Bool?) -> [RollingAction] {
    guard awaitingGate else { return [] }
    awaitingGate = false
    if holds != true {
      stopReason = .gateFailed(batch: batchIndex + 1, unknown: holds == nil)
      return advance()
    }
    batchIndex += 1
    nextInBatch = 0
    failuresInBatch = 0
    return advance()
  }

  /// Stops starting hosts (an interrupt); running pipelines finish first.
  public mutating func interrupt() -> [RollingAction] {
    if stopReason == nil { stopReason = .interrupted }
    awaitingGate = false
    return advance()
  }

  /// Whether `host` should run `once` step `stepID`: true for the first host that asks in
  /// the run (and again for that same host), false for every other.
  public mutating func claimOnce(_ stepID: String, host: String) -> Bool {
    if let owner = onceClaims[stepID] { return owner == host }
    onceClaims[stepID] = host
    return true
  }

  /// The hosts whose pipelines are running.
  public var runningHosts: Set<String> { running }

  /// The statuses so far (untouched for hosts not finished).
  public var statuses: [(host: String, status: RollingHostStatus)] {
    order.map { host in
      switch results[host] {
      case .succeeded?: return (host, .succeeded)
      case .failed?: return (host, .failed)
      case .unreachable?: return (host, .unreachable)
      case nil: return (host, .untouched)
      }
    }
  }

  private mutating func advance() -> [RollingAction] {
    guard !finished else { return [] }
    if let stopReason {
      guard running.isEmpty else { return [] }
      finished = true
      return [.finish(RollingOutcome(reason: stopReason, statuses: statuses))]
    }
    if awaitingGate { return [] }
    var actions: [RollingAction] = []
    while batchIndex < batches.count {
      let batch = batches[batchIndex]
      while running.count < forks, nextInBatch < batch.count {
        let host = batch[nextInBatch]
        nextInBatch += 1
        running.insert(host)
        actions.append(.start(host: host, batch: batchIndex + 1))
      }
      guard running.isEmpty, nextInBatch >= batch.count else { return actions }
      // The batch is done, within max_fail.
      if checksAfterBatch {
        awaitingGate = true
        actions.append(.checkGate(batch: batchIndex + 1))
        return actions
      }
      batchIndex += 1
      nextInBatch = 0
      failuresInBatch = 0
    }
    finished = true
    actions.append(.finish(RollingOutcome(reason: .completed, statuses: statuses)))
    return actions
  }
}
