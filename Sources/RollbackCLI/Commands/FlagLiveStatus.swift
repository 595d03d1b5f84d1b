import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `rollback flag status --live`: each local flag's file values beside the value its service's
/// running process reports (`pickup.http` of the service).
extension FlagOptions {
  /// Shows file and live values side by side; exit 1 when a process reports another value
  /// than its files hold, or a value cannot be read.
  func showLive(name: String?) async throws {
    let overrides = try variables.overrides()
    let loaded = try LoadedRunbook.load(options, overrides: overrides, printWarnings: false)
    let runbook = try loaded.runbook()
    let resolver = try makeResolver(runbook, options: options, overrides: overrides)
    let names = try Self.flagNames(name, change: nil, in: runbook, resolver: resolver)
    for name in names where !resolver.placement(ofFlag: name).isEmpty {
      Console.error(
        "error: flag '\(name)' lives on hosts; --live reads flags on this machine only (`rollback flag status \(name)` reads it on every host)"
      )
      throw ExitCode(.usage)
    }
    let probe = PickupProbe(
      host: LocalHost(), http: { (request) throws(HTTPError) in try await HTTPClient().send(request) },
      processEnvironment: ProcessInfo.processInfo.environment)
    var report: [JSONValue] = []
    var problems = 0
    for name in names {
      guard let flag = runbook.flags[name] else { continue }
      let shown = try await showLiveFlag(flag, resolver: resolver, probe: probe)
      if shown.problem { problems += 1 }
      report.append(shown.json)
    }
    if options.json { Console.output(JSONValue.array(report).pretty()) }
    if problems > 0 {
      Console.error(
        "error: \(problems) flag\(problems == 1 ? "" : "s") not served as the files say, or unknown; see above"
      )
      throw ExitCode(.failed)
    }
  }

  /// Prints one flag's file values and the value its running process reports; returns whether
  /// that is a problem (a mismatch, or no live value) and the flag's JSON object.
  private func showLiveFlag(_ flag: FeatureFlag, resolver: Resolver, probe: PickupProbe) async throws
    -> (problem: Bool, json: JSONValue)
  {
    var bag = DiagnosticBag()
    let files = flag.files.map { resolver.resolve($0, into: &bag).value }
    let values = files.map { (file: $0, read: FlagStatusReader.reading(of: $0, flag: flag)) }
    let fileValues = Array(Set(values.map { $0.read.value ?? "(unset)" })).sorted()
    let service = flag.service.flatMap { resolver.service(named: $0.value) }
    var live: String?
    var liveError: String?
    var url: String?
    if let http = service?.pickup?.http {
      let resolved = resolver.resolve(http.url, into: &bag)
      url = resolved.display
      switch try await probe.reported(url: resolved.value, path: http.jsonPath, within: 0) {
      case .success(let value): live = value
      case .failure(let problem): liveError = problem.text
      }
    } else {
      liveError =
        "no pickup.http on \(flag.service.map { "service \($0.value)" } ?? "the flag (it names no service)")"
    }
    if let error = values.compactMap(\.read.error).first { liveError = liveError ?? error }
    let mismatch = live.map { reported in
      !values.allSatisfy { PickupValue.matches(reported: reported, written: $0.read.value ?? "") }
    }
    let mark = mismatch.map { $0 ? "✗ MISMATCH: the running process does not serve the files' value" : "✓" }
    Console.human(
      "\(flag.name) (\(flag.key)): files \(fileValues.joined(separator: "/")) · running process "
        + (live.map { "reports \($0)" } ?? "unknown (\(liveError ?? ""))") + (mark.map { " \($0)" } ?? ""),
      json: options.json)
    for (file, read) in values {
      Console.human(
        "  \(file): \(read.value ?? read.error.map { "error: \($0)" } ?? "(unset)")", json: options.json)
    }
    if let url { Console.human("  live: \(url)", json: options.json) }
    let json = JSONValue.object([
      ("flag", .string(flag.name)), ("key", .string(flag.key)),
      (
        "files",
        .array(
          values.map {
            .object([
              ("file", .string($0.file)), ("value", .string($0.read.value)),
              ("error", .string($0.read.error)),
            ])
          })
      ),
      ("live_url", .string(url)), ("live_value", .string(live)), ("live_error", .string(liveError)),
      ("mismatch", mismatch.map { .bool($0) } ?? .null),
    ])
    return (mismatch == true || live == nil, json)
  }
}
