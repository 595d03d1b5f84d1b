import Foundation

/// How one host came out of a whole run: what `history` and `report` show.
public struct RunHostOutcome: Sendable, Equatable {
  /// The host's name.
  public var name: String
  /// `succeeded` (every host-scoped step it reached succeeded), `failed`, `unreachable`,
  /// `untouched` (no step started on it), or, for a run without `run-finished` (killed, or still
  /// running), `incomplete` (a step started on it and did not finish).
  public var status: String

  /// Creates an outcome.
  public init(name: String, status: String) {
    self.name = name
    self.status = status
  }

  /// Whether the run acted on the host (a step ran there, whatever its outcome).
  public var touched: Bool { status == "succeeded" || status == "failed" || status == "incomplete" }

  /// `{"name": …, "status": …}`.
  public var json: JSONValue { .object([("name", .string(name)), ("status", .string(status))]) }

  /// Each host's outcome over a run's host-scoped steps, in order of first appearance: a failure
  /// on any step marks it failed (or unreachable); a host no step touched is untouched. A host
  /// an earlier run left alone (`not re-run`) counts as succeeded.
  public static func of(_ steps: [[JournalHostResult]]) -> [RunHostOutcome] {
    var order: [String] = []
    var statuses: [String: String] = [:]
    for hosts in steps {
      for host in hosts {
        if statuses[host.name] == nil { order.append(host.name) }
        statuses[host.name] = merge(statuses[host.name], host.status)
      }
    }
    return order.map { RunHostOutcome(name: $0, status: statuses[$0] ?? "untouched") }
  }

  /// Each host's outcome read from the journal's per-host events (those with a `host`), for a run
  /// that has no `run-finished` to say it: a failed part makes a host failed (unreachable when
  /// it could not be reached), a step started on it that has no finish makes it `incomplete`,
  /// otherwise it succeeded. Hosts in order of first appearance; hosts no event names are not
  /// known here.
  public static func of(hostEvents events: [JournalEvent]) -> [RunHostOutcome] {
    var order: [String] = []
    var statuses: [String: String] = [:]
    var pending: [String: Set<String>] = [:]
    func note(_ host: String, _ status: String?) {
      if statuses[host] == nil && !order.contains(host) { order.append(host) }
      if let status { statuses[host] = merge(statuses[host], status) }
    }
    for event in events {
      switch event {
      case .stepStarted(let step):
        guard let host = step.host, let id = step.step else { continue }
        note(host, nil)
        pending[host, default: []].insert(id)
      case .stepFinished(let step):
        guard let host = step.host, let id = step.id else { continue }
        pending[host]?.remove(id)
        switch step.status {
        case .succeeded, .skipped: note(host, "succeeded")
        case .failed:
          let unreachable = step.detail == "unreachable" || (step.error ?? "").hasPrefix("unreachable")
          note(host, unreachable ? "unreachable" : "failed")
        default: note(host, nil)
        }
      default: continue
      }
    }
    for (host, ids) in pending where !ids.isEmpty { note(host, "incomplete") }
    return order.map { RunHostOutcome(name: $0, status: statuses[$0] ?? "untouched") }
  }

  private static func rank(_ status: String) -> Int {
    switch status {
    case "failed": return 4
    case "unreachable": return 3
    case "incomplete": return 2
    case "succeeded", "not re-run": return 1
    default: return 0
    }
  }

  private static func merge(_ old: String?, _ new: String) -> String {
    let value = new == "not re-run" ? "succeeded" : (rank(new) == 0 ? "untouched" : new)
    guard let old else { return value }
    return rank(value) > rank(old) ? value : old
  }

  /// `touched: host-1 host-2; failed: host-2 host-3; untouched: host-4`: the hosts a step ran
  /// on, the failed and unreachable ones, those a step did not finish on (`incomplete:`, a run
  /// without its end), and the ones nothing ran on; empty without hosts.
  public static func text(_ hosts: [RunHostOutcome]) -> String {
    guard !hosts.isEmpty else { return "" }
    let touched = hosts.filter(\.touched).map(\.name)
    let failed = hosts.filter { $0.status == "failed" || $0.status == "unreachable" }.map(\.name)
    let untouched = hosts.filter { $0.status == "untouched" }.map(\.name)
    let incomplete = hosts.filter { $0.status == "incomplete" }.map(\.name)
    var parts = ["touched: " + (touched.isEmpty ? "none" : touched.joined(separator: " "))]
    if !failed.isEmpty { parts.append("failed: " + failed.joined(separator: " ")) }
    if !incomplete.isEmpty { parts.append("incomplete: " + incomplete.joined(separator: " ")) }
    if !untouched.isEmpty { parts.append("untouched: " + untouched.joined(separator: " ")) }
    return parts.joined(separator: "; ")
  }
}

extension RunReport {
  /// Each host's outcome over the run's host-scoped steps (their last journalled state); for a
  /// run without `run-finished`, read from the per-host events as `history` reads it.
  public var hosts: [RunHostOutcome] {
    summary.hostsFromEvents ? summary.hosts : RunHostOutcome.of(steps.map(\.hosts))
  }
}

extension RunSummary {
  /// The kinds of event that ``deriveHosts(from:)`` reads.
  public static let hostEventKinds: Set<String> = [
    JournalEvent.Kind.stepStarted, JournalEvent.Kind.stepFinished,
  ]

  /// For a run without `run-finished` (still `in progress`: killed, or running now): its hosts
  /// read from the per-host step events among `events` (``RunHostOutcome/of(hostEvents:)``).
  /// A finished run keeps the hosts its `run-finished` names.
  public mutating func deriveHosts(from events: [JournalEvent]) {
    guard status == "in progress" else { return }
    hosts = RunHostOutcome.of(hostEvents: events)
    hostsFromEvents = true
  }
}
