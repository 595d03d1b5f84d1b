import Dispatch
import Foundation
import RollbackCore
import RollbackSystem

/// Where assessments are kept: `STATE/assessments/TIMESTAMP.json`.
enum AssessmentStore {
  enum Outcome: Equatable {
    case saved(String)
    case failed(String)
  }

  /// Writes the document durably under a new name; never overwrites an earlier assessment.
  static func save(_ document: JSONValue, at date: Date, stateDirectory: String) -> Outcome {
    let directory = StateDirectory(path: stateDirectory).assessmentsPath
    do {
      try StateDirectory.createDurably(directory)
    } catch {
      return .failed("could not save the assessment: \(error.description)")
    }
    let stem = Timestamp.compact(date, fractional: true)
    let bytes = Array((document.pretty() + "\n").utf8)
    for attempt in 0..<100 {
      let name = attempt == 0 ? "\(stem).json" : "\(stem)-\(attempt).json"
      let path = (directory as NSString).appendingPathComponent(name)
      do throws(FileError) {
        try AtomicFile.create(path, with: bytes, mode: 0o600)
        return .saved(path)
      } catch .other(_, EEXIST, _) {
        continue
      } catch {
        return .failed("could not save the assessment: \(error.description)")
      }
    }
    return .failed("could not save the assessment: no free name in \(directory)")
  }
}
