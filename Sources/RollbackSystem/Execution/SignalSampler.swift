import Foundation
import RollbackCore

/// Reads a run's signals and evaluates its conditions: the run's reader, with `--signal`
/// values set by hand applied over what it read.
struct SignalSampler {
  /// Reads signals from their sources (Prometheus, Postgres).
  var reader: any SignalReader
  /// The runbook the signals are declared in.
  var runbook: Runbook
  /// `--signal` values.
  var manual: ManualValues

  /// The declared signals with these names, each once, unknown names left out.
  func signals(named names: [String]) -> [Signal] {
    var seen = Set<String>()
    return names.compactMap { name in
      guard seen.insert(name).inserted else { return nil }
      return runbook.signal(named: name)
    }
  }

  /// Reads the named signals.
  func read(_ names: [String]) async -> [SignalReading] {
    let wanted = signals(named: names)
    let readings = await reader.read(wanted)
    return manual.apply(to: readings, signals: wanted)
  }

  /// Whether the condition holds (nil when a value it needs is unknown), with what was read.
  func evaluate(_ condition: Condition) async -> (Bool?, [SignalReading]) {
    let readings = await read(condition.comparisons.map(\.signal))
    let values = Dictionary(
      readings.compactMap { r in r.comparableValue.map { (r.name, $0) } }, uniquingKeysWith: { a, _ in a })
    return (condition.evaluate { values[$0] }, readings)
  }

  /// `errors 3, latency 120ms`.
  static func text(_ readings: [SignalReading]) -> String {
    readings.map { "\($0.name) \($0.formatted)" }.joined(separator: ", ")
  }

  /// A condition's verdict with its readings; unknown says it is never healthy.
  static func describe(_ holds: Bool?, _ readings: [SignalReading]) -> String {
    let verdict: String
    switch holds {
    case .some(true): verdict = "holds"
    case .some(false): verdict = "does not hold"
    case .none: verdict = "unknown (running it: unknown is never healthy)"
    }
    return "\(verdict) (\(text(readings)))"
  }
}
