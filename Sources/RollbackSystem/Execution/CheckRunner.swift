import Foundation
import RollbackCore

/// Runs a `check` step: reads its signals and records them; it fails on nothing.
struct CheckRunner {
  /// Where the signals come from.
  var signals: SignalSampler
  /// Says a line of the step's output.
  var say: (String) -> Void

  /// Reads the named signals; after a dry run's first change the readings are samples.
  func run(_ names: [String], phase: DryRunPhase) async -> AttemptResult {
    let readings = await signals.read(names)
    for reading in readings {
      say("    \(reading.name): \(reading.formatted)\(reading.setByHand ? " (set by hand)" : "")")
    }
    var result = AttemptResult.ok(SignalSampler.text(readings))
    result.signals = readings
    if phase == .sampled { result.status = .sampled }
    return result
  }
}
