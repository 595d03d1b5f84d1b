import Foundation
import RollbackCore

/// What running one step produced.
/// The result of one attempt at a step.
struct AttemptResult {
  var status: StepStatus
  var detail: String
  var error: String?
  var output: String?
  var flagChanges: [FlagFileChange] = []
  var signals: [SignalReading] = []
  var declined: Int32?
  /// A host-scoped step's hosts and how each ended.
  var hosts: [JournalHostResult] = []

  static func ok(_ detail: String) -> AttemptResult { AttemptResult(status: .succeeded, detail: detail) }
  static func fail(_ detail: String, _ error: String) -> AttemptResult {
    AttemptResult(status: .failed, detail: detail, error: error)
  }
}

extension Executor {
  func finishedEvent(_ record: StepRecord) -> JournalEvent {
    .stepFinished(RunRendering.stepEvent(record, at: Timestamp.iso(Date())))
  }

  // MARK: Conditions and signals

  func signals(named names: [String]) -> [Signal] { sampler.signals(named: names) }

  func evaluate(_ condition: Condition) async -> (Bool?, [SignalReading]) {
    await sampler.evaluate(condition)
  }

  func readingsText(_ readings: [SignalReading]) -> String { SignalSampler.text(readings) }

  func describe(_ holds: Bool?, _ readings: [SignalReading]) -> String {
    SignalSampler.describe(holds, readings)
  }
}
