import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// Reads the signals and decides.
struct Assessor: Sendable {
  let runbook: Runbook
  let environmentName: String
  let manual: ManualValues
  let reader: any SignalReader
  let invocation: [String]

  /// One assessment. Signals given by hand are not read.
  func assess() async -> Assessment {
    let started = Date()
    let clock = ContinuousClock()
    let start = clock.now
    let toRead = runbook.signals.filter { manual.values[$0.name] == nil }
    let read = await reader.read(toRead)
    var byName: [String: SignalReading] = [:]
    for reading in read { byName[reading.name] = reading }
    let raw = runbook.signals.map { signal in
      byName[signal.name]
        ?? SignalReading(
          name: signal.name, source: signal.sourceName, unit: signal.unit, value: nil, error: "not read")
    }
    let readings = manual.apply(to: raw, signals: runbook.signals)
    let verdict = DecisionEngine.decide(runbook: runbook, readings: readings)
    let elapsed = clock.now - start
    return Assessment(
      runbook: runbook, environment: environmentName, readings: readings, verdict: verdict,
      assessedAt: started,
      duration: elapsed.doubleSeconds,
      invocation: invocation)
  }
}
