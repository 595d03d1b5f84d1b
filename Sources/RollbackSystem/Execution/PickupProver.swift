import Foundation
import RollbackCore

/// Proves that the process running after a restart took a flag change this run wrote: a new
/// pid, started after the write, and (with `http`) reporting the written value.
struct PickupProver {
  /// How the service's pickup is proved.
  var pickup: PickupSpec
  /// The flag write to prove.
  var write: FlagWrite
  /// Reads pids, start times and reported values on the service's host.
  var probe: PickupProbe
  /// Where the pid comes from, placeholders resolved.
  var source: PickupProbe.Source
  /// Resolves a template with the run's variables and facts.
  var resolve: (Template) -> ResolvedText

  /// The service's pid now (before the restart); nil when none can be read.
  func pidNow() async throws -> Int32? {
    if case .success(let pid) = try await probe.pid(source) { return pid }
    return nil
  }

  /// The proof, or why not.
  func prove(pidBefore: Int32?, within: Double) async throws -> (proved: Bool, text: String) {
    let predates = "restarted, but the running process predates the flag change"
    let writeText = "flag \(write.flag) written at \(Timestamp.iso(write.at))"
    let before = pidBefore.map(String.init) ?? "none"
    let pidAfter: Int32
    switch try await probe.pid(source) {
    case .failure(let problem):
      return (false, "\(predates) cannot be ruled out: \(problem.text) (\(writeText))")
    case .success(nil):
      return (false, "no process runs after the restart (\(source.display) gave no pid; \(writeText))")
    case .success(.some(let pid)):
      pidAfter = pid
    }
    let started: Date
    switch try await probe.startTime(pidAfter) {
    case .success(let date): started = date
    case .failure(let problem):
      return (false, "\(predates) cannot be ruled out: \(problem.text) (\(writeText))")
    }
    let proof = "pickup: pid \(before) → \(pidAfter), started \(Timestamp.iso(started)), \(writeText)"
    if pidAfter == pidBefore {
      return (false, "\(predates): pid \(pidAfter) is the same as before the restart (\(writeText))")
    }
    // /proc's boot time is whole seconds: a start time may read up to a second early.
    if started.addingTimeInterval(1) < write.at {
      return (
        false, "\(predates): pid \(pidAfter) started at \(Timestamp.iso(started)), before the \(writeText)"
      )
    }
    guard let http = pickup.http else { return (true, proof) }
    return try await proveReported(http, proof: proof, within: within)
  }

  /// The value the process reports at the pickup URL must be the one written.
  func proveReported(_ http: PickupSpec.HTTPValue, proof: String, within: Double) async throws
    -> (proved: Bool, text: String)
  {
    let url = resolve(http.url)
    let path = http.jsonPath.joined(separator: ".")
    switch try await probe.reported(url: url.value, path: http.jsonPath, within: within) {
    case .failure(let problem):
      return (false, "\(proof); cannot read \(path) at \(url.display): \(problem.text)")
    case .success(let value):
      if !PickupValue.matches(reported: value, written: write.value) {
        return (false, "\(proof); but the process reports \(path) = \(value), not \(write.value)")
      }
      return (true, proof + ", reports \(path) = \(value)")
    }
  }
}
