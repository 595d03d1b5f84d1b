import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `flag enable|disable|percent|step-down` for a flag that lives on hosts: every selected host's
/// files edited with the executor's remote editor (read, edit here, compare-and-swap on the
/// host), under the state lock and a lock on each host, backups kept here per host
/// (`STATE/backups/flag-RUN_ID/HOST/`). A host that cannot be reached or changed is reported
/// and the others are still changed (exit 1); a host locked by a run is exit 4 with nothing
/// changed anywhere.
struct FleetFlagChange {
  /// One host's outcome.
  struct HostOutcome: Sendable {
    var host: String
    var result: FlagEditor.Result?
    var error: String?
  }

  let flag: FeatureFlag
  let change: FlagChange
  let resolver: Resolver
  let dryRun: Bool
  let json: Bool
  let stateDirectory: String

  /// Changes the flag on its hosts and prints a row per host; returns the flag's JSON object and
  /// whether every host was changed.
  func run() async throws -> (json: JSONValue, ok: Bool) {
    let needs = resolver.hostNeeds(readingFlags: [flag.name])
    let targets = needs.compactMap { need in
      need.flags.first { $0.flag == flag.name }.map { (host: need.host, files: $0.files) }
    }
    guard !targets.isEmpty else {
      throw CLIError.usage("flag '\(flag.name)' lives on no selected host; nothing was changed")
    }
    let runID = RunID.make()
    let lock = try StateLock.take(stateDirectory, runID: "flag-\(runID)", dryRun: dryRun)
    defer { lock?.release() }
    let transport: SSHTransport
    do {
      transport = try SSHTransport(settings: resolver.environment.inventory.ssh)
    } catch {
      Console.error("error: \(error.description)")
      throw ExitCode(.failed)
    }
    let hosts = targets.map { SSHHost($0.host) }
    let unreachable = await transport.openMasters(hosts, timeout: .seconds(20))
    let reachable = hosts.filter { unreachable[$0.name] == nil }
    var locks: [RemoteHostLock] = []
    if !dryRun {
      switch await lockHosts(reachable, transport: transport, runID: "flag-\(runID)") {
      case .success(let taken): locks = taken
      case .failure(let held):
        await transport.shutdown(hosts)
        for error in held.errors { Console.error("error: \(error.description)") }
        Console.error("error: nothing was changed on any host")
        throw ExitCode(4)
      }
    }
    let outcomes = await edit(
      targets.filter { unreachable[$0.host.name] == nil }, transport: transport,
      backups: FleetBackups(stateDirectory: stateDirectory, runID: "flag-\(runID)"))
    await withTaskGroup(of: Void.self) { group in
      for lock in locks { group.addTask { try? await lock.release() } }
    }
    await transport.shutdown(hosts)
    let all = targets.map { target in
      outcomes[target.host.name]
        ?? HostOutcome(
          host: target.host.name, result: nil,
          error: "unreachable: \(unreachable[target.host.name]?.description ?? "no connection")")
    }
    return report(all)
  }

  /// Takes the lock on every host; on a refusal, releases those taken and returns every refusal.
  private func lockHosts(_ hosts: [SSHHost], transport: SSHTransport, runID: String) async -> Result<
    [RemoteHostLock], LockRefusal
  > {
    let directory = resolver.environment.inventory.ssh.lockDir
    let results = await transport.forEachHost(hosts) { host -> (RemoteHostLock, RemoteLockError?) in
      let lock = RemoteHostLock(transport: transport, host: host, runID: runID, directory: directory)
      do throws(RemoteLockError) {
        _ = try await lock.acquire()
        return (lock, nil)
      } catch {
        return (lock, error)
      }
    }
    let taken = results.values.filter { $0.1 == nil }.map(\.0)
    let refused = hosts.compactMap { results[$0.name]?.1 }
    guard !refused.isEmpty else { return .success(taken) }
    await withTaskGroup(of: Void.self) { group in
      for lock in taken { group.addTask { try? await lock.release() } }
    }
    return .failure(LockRefusal(errors: refused))
  }

  /// Every host's files changed at once (at most `forks`), all or nothing per host.
  private func edit(
    _ targets: [(host: RollbackCore.Host, files: [String])], transport: SSHTransport, backups: FleetBackups
  ) async -> [String: HostOutcome] {
    let files = Dictionary(uniqueKeysWithValues: targets.map { ($0.host.name, $0.files) })
    let flag = flag
    let change = change
    let dryRun = dryRun
    return await transport.forEachHost(targets.map { SSHHost($0.host) }) { host -> HostOutcome in
      let effects = RemoteHost(transport: transport, host: host, backups: backups)
      let editor = FlagEditor(flag: flag, files: files[host.name] ?? [])
      do throws(FlagEditor.EditError) {
        let result = try await effects.applyFlag(editor, change, backupDirectory: "", dryRun: dryRun)
        return HostOutcome(host: host.name, result: result, error: nil)
      } catch {
        return HostOutcome(host: host.name, result: nil, error: error.description)
      }
    }
  }

  /// Prints each host's diffs and summary (or error), then a line for the flag.
  private func report(_ outcomes: [HostOutcome]) -> (json: JSONValue, ok: Bool) {
    let width = outcomes.map(\.host.count).max() ?? 0
    var rows: [JSONValue] = []
    for outcome in outcomes {
      let label = outcome.host.padding(toLength: width, withPad: " ", startingAt: 0)
      if let result = outcome.result {
        for diff in result.diffs { Console.human(diff, json: json) }
        Console.human("  \(label)  \(result.summary)", json: json)
      } else {
        Console.human("  \(label)  error: \(outcome.error ?? "failed")", json: json)
      }
      rows.append(
        .object([
          ("host", .string(outcome.host)), ("summary", .string(outcome.result?.summary)),
          ("error", .string(outcome.error)),
          ("files", .array((outcome.result?.changes ?? []).map(Self.fileJSON))),
        ]))
    }
    let failed = outcomes.filter { $0.result == nil }.map(\.host)
    let done = outcomes.filter { $0.result != nil }.map(\.host)
    var line = "\(flag.name): \(dryRun ? "would change" : "done on") \(done.count) of \(outcomes.count) hosts"
    if !failed.isEmpty { line += "; failed: \(failed.joined(separator: " "))" }
    Console.human(line, json: json)
    if !failed.isEmpty {
      Console.error("error: flag \(flag.name) could not be changed on \(failed.joined(separator: ", "))")
    }
    let object = JSONValue.object([
      ("flag", .string(flag.name)), ("summary", .string(line)), ("hosts", .array(rows)),
    ])
    return (object, failed.isEmpty)
  }

  static func fileJSON(_ change: FlagFileChange) -> JSONValue {
    .object([
      ("file", .string(change.file)), ("key", .string(change.key)), ("before", .string(change.before)),
      ("after", .string(change.after)), ("changed", .bool(change.changed)),
      ("backup", .string(change.backup)),
    ])
  }
}

/// Host locks another run holds.
struct LockRefusal: Error {
  var errors: [RemoteLockError]
}
