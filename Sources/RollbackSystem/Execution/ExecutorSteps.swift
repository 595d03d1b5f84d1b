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

  func signals(named names: [String]) -> [Signal] {
    var seen = Set<String>()
    return names.compactMap { name in
      guard seen.insert(name).inserted else { return nil }
      return request.runbook.signal(named: name)
    }
  }

  func read(_ names: [String]) async -> [SignalReading] {
    let wanted = signals(named: names)
    let readings = await reader.read(wanted)
    return request.manual.apply(to: readings, signals: wanted)
  }

  func evaluate(_ condition: Condition) async -> (Bool?, [SignalReading]) {
    let readings = await read(condition.comparisons.map(\.signal))
    let values = Dictionary(
      readings.compactMap { r in r.comparableValue.map { (r.name, $0) } }, uniquingKeysWith: { a, _ in a })
    return (condition.evaluate { values[$0] }, readings)
  }

  func readingsText(_ readings: [SignalReading]) -> String {
    readings.map { "\($0.name) \($0.formatted)" }.joined(separator: ", ")
  }

  func describe(_ holds: Bool?, _ readings: [SignalReading]) -> String {
    let verdict: String
    switch holds {
    case .some(true): verdict = "holds"
    case .some(false): verdict = "does not hold"
    case .none: verdict = "unknown (running it: unknown is never healthy)"
    }
    return "\(verdict) (\(readingsText(readings)))"
  }

  // MARK: Wait

  func waitFor(_ condition: Condition, within: Double, interval: Double, consecutive: Int, id: String)
    async throws
    -> AttemptResult
  {
    let start = clock.now
    var streak = 0
    var last: [SignalReading] = []
    var samples = 0
    while true {
      let (holds, readings) = await evaluate(condition)
      samples += 1
      last = readings
      streak = holds == true ? streak + 1 : 0
      let elapsed = seconds(clock.now - start)
      say(
        "    \(id): \(readingsText(readings)) — \(condition.text) \(holds == true ? "holds" : (holds == false ? "not yet" : "unknown")) (\(streak)/\(consecutive)), \(Quantity.format(seconds: elapsed)) of \(Quantity.format(seconds: within))",
        .progress
      )
      sayBudget()
      if streak >= consecutive {
        var result = AttemptResult.ok(
          "\(condition.text) held \(consecutive)× after \(Quantity.format(seconds: elapsed)) (\(readingsText(readings)))"
        )
        result.signals = readings
        return result
      }
      if elapsed + interval > within { break }
      // Between samples, a terminal shows the time running against the budget and the last value.
      let nextSample = clock.now + .milliseconds(Int(interval * 1000))
      while clock.now < nextSample {
        if let cut = await escalationCutsWait(id, readings: readings) { return cut }
        let left = nextSample - clock.now
        try await clock.sleep(for: min(left, .seconds(1)))
        let now = seconds(clock.now - start)
        say(
          "    \(id): \(Quantity.format(seconds: now)) of \(Quantity.format(seconds: within)) — last \(readingsText(readings)), want \(condition.text)",
          .tick)
      }
    }
    var result = AttemptResult.fail(
      "wait for \(condition.text)",
      "\(condition.text) did not hold within \(Quantity.format(seconds: within)) (\(samples) samples); last: \(readingsText(last))"
    )
    result.signals = last
    return result
  }
}
