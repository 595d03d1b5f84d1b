import Dispatch
import Foundation
import RollbackCore
import RollbackSystem

/// `assess --watch`: re-assess every interval until SIGINT or SIGTERM, printing only changes.
struct WatchLoop: Sendable {
  let assessor: Assessor
  /// Seconds between the starts of two assessments.
  let interval: Double
  /// Stop after this many assessments (the hidden `--watch-count`, for tests).
  let limit: Int?
  let json: Bool
  let stateDirectory: String

  /// Runs until interrupted (or `limit`); returns the exit status of the last assessment,
  /// or 130 when interrupted before the first one finished.
  func run() async -> ExitStatus {
    let task = Task { await loop() }
    // A second Ctrl-C exits at once: a watch has nothing to tear down.
    let trap = SignalTrap.install(
      handler: { _ in task.cancel() }, onRepeat: { _ in exit(ExitStatus.interrupted.rawValue) })
    let code = await task.value
    trap.cancel()
    signal(SIGINT, SIG_DFL)
    signal(SIGTERM, SIG_DFL)
    return code
  }

  private func loop() async -> ExitStatus {
    var last: Assessment?
    var count = 0
    let every = Quantity.format(seconds: interval)
    Console.human(
      "Watching every \(every), printing only changes; Ctrl-C to stop.", json: json, write: Output.write)
    while !Task.isCancelled {
      let assessment = await assessor.assess()
      // Reads cut short by the interrupt are not an assessment: drop it.
      if Task.isCancelled { break }
      count += 1
      let changes = last.map { AssessRendering.changes(from: $0, to: assessment) }
      if changes == nil || changes?.isEmpty == false {
        let document = AssessRendering.json(assessment)
        let saved = AssessmentStore.save(document, at: assessment.assessedAt, stateDirectory: stateDirectory)
        if case .failed(let problem) = saved { Console.error("warning: \(problem)") }
        if json {
          Output.write(document.rendered())
        }
        if let changes {
          Console.human(
            ([Timestamp.clock(assessment.assessedAt)] + changes).joined(separator: "\n"), json: json,
            write: Output.write)
        } else {
          Console.human(AssessRendering.human(assessment), json: json, write: Output.write)
          if case .saved(let path) = saved {
            Console.human("Saved to \(path)", json: json, write: Output.write)
          }
        }
      }
      last = assessment
      if let limit, count >= limit { break }
      let pause = max(0, interval - assessment.duration)
      do {
        try await Task.sleep(for: .milliseconds(Int((pause * 1000).rounded())))
      } catch {
        break
      }
    }
    guard let last else {
      Console.error("Interrupted before the first assessment finished.")
      return .interrupted
    }
    let plural = count == 1 ? "" : "s"
    Console.error(
      "Stopped after \(count) assessment\(plural); last verdict: \(AssessRendering.verdictSummary(last)).")
    return last.verdict.exitStatus
  }
}
