import Foundation
import RollbackCore

/// A host of the inventory, reached over ssh: the executor's ``HostEffects`` for steps that run
/// there. Commands run through ``SSHTransport`` (values passed as data, the step's timeout
/// bounding the ssh process group); flag files are edited with ``RemoteFlagEditor`` (same dotenv
/// editor, compare-and-swap on the host, backups kept locally under `STATE/backups/RUN_ID/HOST`).
public struct RemoteHost: HostEffects {
  /// The transport the run's hosts share (one master connection per host).
  public let transport: SSHTransport
  /// The host every effect acts on.
  public let host: SSHHost
  /// Where the previous content of the files it changes is kept.
  public let backups: FleetBackups
  /// The bound of each file read and write.
  public let fileTimeout: Duration
  /// Flag files the run's preflight read on the hosts, used by the first edit of each.
  public let cache: RemoteFileCache?

  /// Creates the effects of `host`.
  public init(
    transport: SSHTransport, host: SSHHost, backups: FleetBackups, fileTimeout: Duration = .seconds(30),
    cache: RemoteFileCache? = nil
  ) {
    self.transport = transport
    self.host = host
    self.backups = backups
    self.fileTimeout = fileTimeout
    self.cache = cache
  }

  /// `cd` to `$1` (when not empty), then `exec env NAME=VALUE… PROGRAM ARG…`: every value is a
  /// positional argument, never part of the script.
  static let runScript = """
    d=$1; shift
    if [ -n "$d" ]; then cd -- "$d" || { echo "working directory missing: $d" >&2; exit 126; }; fi
    exec env "$@"
    """

  /// Runs the command on the host. Only the variables the step sets (`env:`) go with it: the
  /// control machine's environment stays here.
  public func run(command spec: ProcessSpec, onOutput: @escaping @Sendable (ProcessStream, String) -> Void)
    async throws(ProcessError) -> ProcessOutcome
  {
    let argv: [String]
    switch spec.program {
    case .argv(let words): argv = words
    case .shell(let line): argv = ["sh", "-c", line]
    }
    guard let program = argv.first, !program.isEmpty else { throw .executableNotFound(name: "") }
    // `env` would read a first word with `=` as an assignment: run such a program through `--`-less sh.
    let command = program.contains("=") ? ["sh", "-c", "exec \"$0\" \"$@\""] + argv : argv
    let assignments = spec.processEnvironment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    let timeout = spec.timeout ?? .seconds(300)
    let started = ContinuousClock.now
    let output: SSHOutput
    do {
      output = try await transport.execute(
        on: host, script: Self.runScript, arguments: [spec.cwd ?? ""] + assignments + command,
        timeout: timeout)
    } catch {
      if Task.isCancelled { return ProcessOutcome(exitCode: nil, cancelled: true) }
      if case .timedOut = error {
        return ProcessOutcome(exitCode: nil, timedOut: true, duration: ContinuousClock.now - started)
      }
      throw .remote(error.description)
    }
    for line in output.stdout { onOutput(.stdout, line) }
    let errors = output.stderr.isEmpty ? [] : output.stderr.split(separator: "\n").map(String.init)
    for line in errors { onOutput(.stderr, line) }
    let text = (output.stdout + errors).joined(separator: "\n")
    if output.exitCode == 127 {
      throw .remote("\(host.name): command not found: \(program)")
    }
    return ProcessOutcome(
      exitCode: output.exitCode, duration: ContinuousClock.now - started,
      output: text.isEmpty ? "" : text + "\n", truncated: output.stdoutTruncated)
  }

  /// Reads a flag file on the host.
  public func readFlagFile(_ path: String) async throws(FileError) -> [UInt8] {
    let store = RemoteFileStore(transport: transport, host: host, timeout: fileTimeout)
    do { return try await store.read(path).bytes } catch {
      throw .refused(path: "\(host.name):\(path)", reason: error.description)
    }
  }

  /// Applies a flag change to the flag's files on the host, all or nothing.
  /// `backupDirectory` is ignored: backups go to ``backups`` under the host's name.
  public func applyFlag(_ editor: FlagEditor, _ change: FlagChange, backupDirectory: String, dryRun: Bool)
    async throws(FlagEditor.EditError) -> FlagEditor.Result
  {
    let store = RemoteFileStore(transport: transport, host: host, timeout: fileTimeout)
    var current: [String: String?] = [:]
    if change == .stepDown {
      let key = editor.flag.percentKey ?? editor.flag.key
      for path in editor.files {
        do {
          let file = try await store.read(path)
          current[path] = try DotEnvDocument(bytes: file.bytes).value(of: key)
        } catch let error as RemoteFileError {
          throw .remote(error.description)
        } catch let error as DotEnvError {
          throw .remote("\(host.name): \(path): \(error.description); the file was not changed")
        } catch {
          throw .remote("\(host.name): \(path): \(error)")
        }
      }
    }
    let (key, value) = try editor.target(for: change, current: current)
    let result: RemoteFlagEditor.Result
    do {
      result = try await RemoteFlagEditor(store: store).set(
        key: key, value: value, in: editor.files, backups: dryRun ? nil : backups, dryRun: dryRun,
        known: cache?.take(editor.files, host: host.name) ?? [:])
    } catch {
      throw .remote(error.description)
    }
    let changed = result.changes.filter(\.changed)
    let count = result.changes.count
    let files = "\(count) file\(count == 1 ? "" : "s")"
    let summary: String
    if changed.isEmpty {
      summary = "\(key) already \(value) in \(files); nothing written"
    } else {
      let befores = Set(result.changes.map { $0.before ?? "(unset)" }).sorted().joined(separator: "/")
      summary =
        "\(key) \(befores) -> \(value) (\(dryRun ? "would change" : "changed") \(changed.count) of \(files))"
    }
    return FlagEditor.Result(changes: result.changes, diffs: result.diffs, summary: summary)
  }
}
