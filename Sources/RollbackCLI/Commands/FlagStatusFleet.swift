import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `flag status` for flags that live on hosts: every host read over ssh at once (the fleet
/// preflight, read-only), then a row per host and file with the value or the problem, and the
/// hosts whose value differs from the others marked as drift.
struct FleetFlagStatus {
  /// The flags read on hosts.
  let flags: [String]
  /// Per flag, its hosts (after `--hosts`) and the files on each, in inventory order.
  let files: [String: [(host: String, files: [String])]]
  /// What the hosts said; nil when no host was selected.
  let report: FleetPreflight.Report?

  /// Reads `flags` on their hosts; nil when `flags` is empty.
  static func read(_ flags: [String], resolver: Resolver) async throws -> FleetFlagStatus? {
    guard !flags.isEmpty else { return nil }
    let needs = resolver.hostNeeds(readingFlags: flags)
    var files: [String: [(host: String, files: [String])]] = [:]
    for need in needs {
      for flag in need.flags { files[flag.flag, default: []].append((need.host.name, flag.files)) }
    }
    guard !needs.isEmpty else { return FleetFlagStatus(flags: flags, files: files, report: nil) }
    let transport: SSHTransport
    do {
      transport = try SSHTransport(settings: resolver.environment.inventory.ssh)
    } catch {
      Console.error("error: \(error.description)")
      throw ExitCode(.failed)
    }
    let report = await FleetPreflight(transport: transport, timeout: .seconds(30)).check(
      needs.map(FleetPreflight.Target.init))
    await transport.shutdown(needs.map { SSHHost($0.host) })
    return FleetFlagStatus(flags: flags, files: files, report: report)
  }

  /// Prints `flag`'s rows (human text unless `json`); returns the problems counted and the
  /// flag's JSON object.
  func show(_ flag: FeatureFlag, json: Bool) -> (problems: Int, json: JSONValue) {
    let placed = files[flag.name] ?? []
    let drift = report?.drift[flag.name]
    let hostList = placed.isEmpty ? "(no host selected)" : placed.map(\.host).joined(separator: " ")
    Console.human(
      "\(flag.name) (\(flag.key); on = \(flag.enabled), off = \(flag.disabled)) on hosts: \(hostList)",
      json: json)
    let width = placed.map(\.host.count).max() ?? 0
    var problems = 0
    var rows: [JSONValue] = []
    for (host, paths) in placed {
      let label = host.padding(toLength: width, withPad: " ", startingAt: 0)
      let shown = showHost(host, paths: paths, label: label, flag: flag, drift: drift, json: json)
      problems += shown.problems
      rows += shown.rows
    }
    let drifting = drift?.driftingHosts ?? []
    if !drifting.isEmpty {
      Console.human(
        "  drift: \(drifting.joined(separator: ", ")) \(drifting.count == 1 ? "holds" : "hold") another value "
          + "than the other hosts", json: json)
    }
    let object = JSONValue.object([
      ("flag", .string(flag.name)), ("key", .string(flag.key)),
      ("hosts", .array(placed.map { .string($0.host) })), ("files", .array(rows)),
      ("drift", .array(drifting.map { .string($0) })),
    ])
    return (problems, object)
  }

  /// Prints one host's rows for `flag` (under `label`); returns the problems counted and the rows'
  /// JSON objects.
  private func showHost(
    _ host: String, paths: [String], label: String, flag: FeatureFlag, drift: FlagDrift?, json: Bool
  ) -> (problems: Int, rows: [JSONValue]) {
    let hostReport = report?.host(host)
    // A host that could not be reached (or checked) at all: one line, and every file in error.
    if let hostReport, let problem = hostReport.problems.first(where: { Self.isHostWide($0) }) {
      Console.human("  \(label)  error: \(problem.detail)", json: json)
      let rows = paths.map { path in
        Self.row(
          host: host, file: path, value: nil, state: "error", percent: nil, error: problem.detail,
          drifting: false)
      }
      return (1, rows)
    }
    var problems = 0
    var rows: [JSONValue] = []
    let readings = hostReport?.flags.first { $0.flag == flag.name }?.files ?? []
    for reading in readings {
      if let problem = reading.problem {
        problems += 1
        let text = Self.fileText(problem, path: reading.path)
        Console.human("  \(label)  \(reading.path): error: \(text)", json: json)
        rows.append(
          Self.row(
            host: host, file: reading.path, value: nil, state: "error", percent: nil, error: text,
            drifting: false))
        continue
      }
      let value = reading.value
      let state =
        value.map { $0 == flag.enabled ? "on" : ($0 == flag.disabled ? "off" : "other") } ?? "unset"
      var line = "  \(label)  \(reading.path): \(value ?? "(unset)") [\(state)]"
      if let percentKey = flag.percentKey { line += " \(percentKey)=\(reading.percent ?? "(unset)")" }
      let drifting = drift?.isDrifting(host: host, file: reading.path) ?? false
      if drifting, let file = drift?.file(reading.path) {
        line +=
          file.hasMajority
          ? "  ← drift (most hosts: \(file.majority ?? "(unset)"))" : "  ← drift (the hosts disagree)"
      }
      Console.human(line, json: json)
      rows.append(
        Self.row(
          host: host, file: reading.path, value: value, state: state, percent: reading.percent, error: nil,
          drifting: drifting))
    }
    return (problems, rows)
  }

  /// One file's row in the JSON output.
  private static func row(
    host: String, file: String, value: String?, state: String, percent: String?, error: String?,
    drifting: Bool
  ) -> JSONValue {
    .object([
      ("host", .string(host)), ("file", .string(file)), ("value", .string(value)),
      ("state", .string(state)),
      ("percent", .string(percent)), ("error", .string(error)), ("drift", .bool(drifting)),
    ])
  }

  /// Whether a problem concerns the whole host rather than one file.
  static func isHostWide(_ problem: FleetPreflight.Problem) -> Bool {
    switch problem {
    case .unreachable, .checkFailed: return true
    case .file, .dotenv, .unwritableFile, .unwritableDirectory, .missingExecutable: return false
    }
  }

  /// A file's problem without the host and path the row shows already.
  static func fileText(_ problem: FleetPreflight.Problem, path: String) -> String {
    let detail = problem.detail
    for prefix in [path + ": ", path + " "] where detail.hasPrefix(prefix) {
      return String(detail.dropFirst(prefix.count))
    }
    return detail
  }
}
