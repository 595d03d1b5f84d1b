import Foundation

/// How one host came out of a whole run: what `history` and `report` show.
public struct RunHostOutcome: Sendable, Equatable {
  /// The host's name.
  public var name: String
  /// `succeeded` (every host-scoped step it reached succeeded), `failed`, `unreachable`, or
  /// `untouched` (no step started on it).
  public var status: String

  /// Creates an outcome.
  public init(name: String, status: String) {
    self.name = name
    self.status = status
  }

  /// Whether the run acted on the host (a step ran there, whatever its outcome).
  public var touched: Bool { status == "succeeded" || status == "failed" }

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

  private static func rank(_ status: String) -> Int {
    switch status {
    case "failed": return 3
    case "unreachable": return 2
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
  /// on, the failed and unreachable ones, and the ones nothing ran on; empty without hosts.
  public static func text(_ hosts: [RunHostOutcome]) -> String {
    guard !hosts.isEmpty else { return "" }
    let touched = hosts.filter(\.touched).map(\.name)
    let failed = hosts.filter { $0.status == "failed" || $0.status == "unreachable" }.map(\.name)
    let untouched = hosts.filter { $0.status == "untouched" }.map(\.name)
    var parts = ["touched: " + (touched.isEmpty ? "none" : touched.joined(separator: " "))]
    if !failed.isEmpty { parts.append("failed: " + failed.joined(separator: " ")) }
    if !untouched.isEmpty { parts.append("untouched: " + untouched.joined(separator: " ")) }
    return parts.joined(separator: "; ")
  }
}

extension RunReport {
  /// Each host's outcome over the run's host-scoped steps (their last journalled state).
  public var hosts: [RunHostOutcome] { RunHostOutcome.of(steps.map(\.hosts)) }
}
