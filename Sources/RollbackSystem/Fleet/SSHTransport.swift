import Foundation
import RollbackCore

#if canImport(Glibc)
  import Glibc
#endif

/// A host as the transport reaches it: the runbook's name (for messages) and its ssh
/// destination (an alias, a host or `user@host`).
public struct SSHHost: Sendable, Hashable {
  /// The host's name in the runbook.
  public var name: String
  /// What is passed to ssh as the destination.
  public var destination: String

  /// Creates a host.
  public init(name: String, destination: String) {
    self.name = name
    self.destination = destination
  }
}

/// What a remote command printed and how it exited.
public struct SSHOutput: Sendable, Equatable {
  /// The remote command's stdout, line by line (without line ends).
  public var stdout: [String]
  /// The tail of the remote command's stderr (redacted).
  public var stderr: String
  /// The remote command's exit status.
  public var exitCode: Int32
  /// Whether stdout went over the action's limit and later lines were dropped.
  public var stdoutTruncated: Bool
}

/// Remote actions over the system OpenSSH client, one multiplexed connection per host.
///
/// Every action is one `ssh` process started without a shell on this side:
///
///     ssh [-F CONFIG] -o BatchMode=yes -o ControlMaster=auto -o ControlPersist=60s
///         -o ControlPath=DIR/%C [OPTIONS] -o ServerAliveInterval=15 DEST -- sh -c 'SCRIPT' sh 'ARG'…
///
/// - `BatchMode=yes`: ssh never prompts (a password, a passphrase or an unknown or changed host
///   key is an error, classified as ``SSHError``).
/// - Connection sharing: the first action to a host (normally ``openMasters(_:timeout:)`` in
///   preflight) authenticates once and leaves a master that later actions reuse through the
///   socket `DIR/%C`; DIR is a private (0700) directory `/tmp/rb-XXXXXX`, short so that the
///   socket path stays under the Unix limit (%C is a 40-character hash). ``shutdown(_:)``
///   ends every master (SIGTERM, on which a master disconnects and removes its socket, as on
///   `ssh -O exit`) and removes DIR.
/// - ssh takes the first value it sees for an option, so BatchMode and the Control* options
///   come before the runbook's `options` (which cannot switch them off); ServerAliveInterval
///   comes after them (a runbook may set its own).
/// - Values reach the remote side as data: the script is a fixed text, quoted as one word,
///   and each value is a single-quoted positional argument (`"$1"`…) or stdin; nothing is
///   spliced into the script. The remote side needs only POSIX `sh` and coreutils.
/// - Every action has a timeout; on expiry the ssh process group is killed (``ProcessRunner``)
///   and the action fails with ``SSHError/timedOut(host:after:)``.
public final class SSHTransport: Sendable {
  /// The file passed as `ssh -F`, if any.
  public let configFile: String?
  /// The runbook's extra ssh arguments.
  public let options: [String]
  /// The most hosts worked on at once.
  public let forks: Int
  /// The private directory holding the control sockets.
  public let controlDirectory: String
  private let processEnvironment: [String: String]
  private let secrets: [String]
  private let runner = ProcessRunner()
  private let masters = LockedBox(MasterBook())
  private let inputCounter = LockedBox<Int>(0)
  /// The descriptor holding `DIR/lock` (see ``ControlDirectorySweep``), or -1.
  private let lockDescriptor: Int32

  /// Creates a transport and its private control directory, after removing the stale ones
  /// runs killed outright left (``ControlDirectorySweep``).
  ///
  /// - Parameters:
  ///   - secrets: values masked in every error and stderr tail.
  ///   - environment: ssh's environment (`HOME`, `SSH_AUTH_SOCK`, `PATH`).
  public init(
    config: String? = nil, options: [String] = [], forks: Int = 20, secrets: [String] = [],
    processEnvironment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(SSHError) {
    self.configFile = config
    self.options = options
    self.forks = max(1, forks)
    self.secrets = secrets
    self.processEnvironment = processEnvironment
    ControlDirectorySweep.sweep()
    var template = Array("/tmp/rb-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
      guard let base = buffer.baseAddress else { return false }
      return mkdtemp(base) != nil
    }
    guard made else {
      throw .controlDirectory(detail: String(cString: strerror(errno)))
    }
    let path = String(
      decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard chmod(path, 0o700) == 0 else {
      rmdir(path)
      throw .controlDirectory(detail: "chmod 0700 \(path): \(String(cString: strerror(errno)))")
    }
    self.controlDirectory = path
    self.lockDescriptor = ControlDirectorySweep.holdLock(in: path)
  }

  /// A transport dropped without ``shutdown(_:)`` (an error path) still removes its control
  /// directory; its masters, no longer reachable, end after `ControlPersist` (60 s idle).
  deinit {
    if let entries = try? FileManager.default.contentsOfDirectory(atPath: controlDirectory) {
      for entry in entries { unlink(controlDirectory + "/" + entry) }
    }
    rmdir(controlDirectory)
    if lockDescriptor >= 0 { close(lockDescriptor) }
  }

  /// The ssh arguments up to (not including) the destination.
  public var sshArguments: [String] {
    var words = ["ssh"]
    if let configFile { words += ["-F", configFile] }
    words += [
      "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", "ControlPersist=60s",
      "-o", "ControlPath=\(controlDirectory)/%C",
    ]
    words += options
    words += ["-o", "ServerAliveInterval=15"]
    return words
  }

  /// The whole argument vector of one remote action: `sh -c SCRIPT sh ARG…` on `host`, every
  /// word quoted for the remote login shell (ssh joins them with spaces).
  public func argv(on host: SSHHost, script: String, arguments: [String] = []) -> [String] {
    let remote = ["sh", "-c", script, "sh"] + arguments
    return sshArguments + [host.destination, "--"] + remote.map(ShellInterpolation.word)
  }

  /// Runs `script` with `arguments` as `$1`… on `host`, feeding `input` (if any) to its stdin.
  ///
  /// - Returns: the output whatever the remote exit status.
  /// - Throws: ``SSHError`` when ssh could not run the command (unreachable, host key,
  ///   authentication, timeout); never for the remote command's own exit status.
  public func execute(
    on host: SSHHost, script: String, arguments: [String] = [], input: [UInt8]? = nil,
    timeout: Duration, stdoutLimit: Int = 8 * 1024 * 1024
  ) async throws(SSHError) -> SSHOutput {
    var inputPath: String?
    if let input {
      inputPath = try writeInput(input)
    }
    defer { if let inputPath { unlink(inputPath) } }
    var spec = ProcessSpec(
      program: .argv(argv(on: host, script: script, arguments: arguments)),
      processEnvironment: processEnvironment,
      timeout: timeout, grace: .milliseconds(500), outputCap: 16 * 1024)
    spec.standardInput = inputPath
    let collected = LockedBox(Collected())
    let outcome: ProcessOutcome
    do {
      outcome = try await runner.run(spec) { stream, line in
        collected.update { state in
          switch stream {
          case .stdout:
            if state.stdoutBytes + line.utf8.count + 1 > stdoutLimit {
              state.truncated = true
            } else {
              state.stdoutBytes += line.utf8.count + 1
              state.stdout.append(line)
            }
          case .stderr:
            state.stderr.append(line)
            if state.stderr.count > 40 { state.stderr.removeFirst(state.stderr.count - 40) }
          }
        }
      }
    } catch {
      throw .sshFailed(host: host.name, detail: error.description)
    }
    let state = collected.value
    let stderr = redact(state.stderr.joined(separator: "\n"))
    if outcome.timedOut { throw .timedOut(host: host.name, after: timeout) }
    if outcome.cancelled { throw .sshFailed(host: host.name, detail: "cancelled") }
    guard let code = outcome.exitCode else {
      throw .sshFailed(host: host.name, detail: outcome.description)
    }
    if code == 255 {
      if let error = SSHError.classify(host: host.name, stderr: stderr) { throw error }
      let sshOwn = state.stderr.contains {
        $0.hasPrefix("ssh:") || $0.contains("mux_client") || $0.contains("ControlSocket")
          || $0.contains("control socket")
      }
      if sshOwn { throw .sshFailed(host: host.name, detail: Self.tail(stderr)) }
    }
    noteMaster(of: host, actionEnded: .now)
    return SSHOutput(
      stdout: state.stdout, stderr: Self.tail(stderr), exitCode: code, stdoutTruncated: state.truncated)
  }

  /// Like ``execute(on:script:arguments:input:timeout:stdoutLimit:)``, but a non-zero remote
  /// exit status is an error (``SSHError/remoteFailed(host:exitCode:stderr:)``).
  @discardableResult
  public func run(
    on host: SSHHost, script: String, arguments: [String] = [], input: [UInt8]? = nil,
    timeout: Duration
  ) async throws(SSHError) -> SSHOutput {
    let output = try await execute(
      on: host, script: script, arguments: arguments, input: input, timeout: timeout)
    guard output.exitCode == 0 else {
      throw .remoteFailed(host: host.name, exitCode: output.exitCode, stderr: output.stderr)
    }
    return output
  }

  /// Opens the master connection of every host in parallel (at most ``forks`` at once), each
  /// within `timeout`. Returns the hosts that could not be reached, with why.
  public func openMasters(_ hosts: [SSHHost], timeout: Duration) async -> [String: SSHError] {
    let results = await forEachHost(hosts) { host -> SSHError? in
      do throws(SSHError) {
        try await self.run(on: host, script: "exit 0", timeout: timeout)
        return nil
      } catch {
        return error
      }
    }
    return results.compactMapValues { $0 }
  }

  /// Whether a master connection to `host` is running (`ssh -O check`).
  public func hasMaster(_ host: SSHHost, timeout: Duration = .seconds(5)) async -> Bool {
    await masterPID(of: host, timeout: timeout) != nil
  }

  /// Closes every master connection of this transport and removes the control directory
  /// (and any socket left). The `hosts` are those the run reached (their masters end too).
  public func shutdown(_ hosts: [SSHHost]) async {
    // SIGTERM makes a master disconnect from its host and remove its socket, as `ssh -O
    // exit` would, without starting a process per host. What an interrupted action left
    // half set up uses the control directory too, and ends with them.
    let found = sshProcesses()
    let known = masters.update { book -> Set<pid_t> in
      let pids = book.pids
      book = MasterBook()
      return pids
    }
    for pid in known.union(found) { ProcessStrays.unregister(pid) }
    ProcessStrays.end(Set(found.compactMap(ProcessStrays.member)), signal: SIGTERM)
    if let entries = try? FileManager.default.contentsOfDirectory(atPath: controlDirectory) {
      for entry in entries { unlink(controlDirectory + "/" + entry) }
    }
    rmdir(controlDirectory)
  }

  /// The masters known (found after an action): their pids, the hosts whose master was
  /// looked for, and when `/proc` was last scanned for them.
  struct MasterBook: Sendable {
    var pids: Set<pid_t> = []
    var noted: Set<String> = []
    var lastScan: ContinuousClock.Instant?
  }

  /// How many master processes are known (for tests).
  var knownMasterCount: Int { masters.value.pids.count }

  /// Notes the master an action on `host` used or left behind, so that a timed-out action's
  /// cleanup of strays never takes it (it detached from ssh's process group) for one.
  ///
  /// A master shows itself in `/proc` as `ssh: CONTROL-PATH [mux]`; it exists before the
  /// action's ssh exits, so one scan that started after an action ended finds that action's
  /// master: actions that end together share one scan.
  private func noteMaster(of host: SSHHost, actionEnded: ContinuousClock.Instant) {
    let prefix = Array("ssh: \(controlDirectory)/".utf8)
    let scan = { Self.processes { $0.starts(with: prefix) } }
    masters.update { book in
      guard !book.noted.contains(host.destination) else { return }
      book.noted.insert(host.destination)
      if let lastScan = book.lastScan, lastScan > actionEnded { return }
      book.lastScan = .now
      for pid in scan() where !book.pids.contains(pid) {
        ProcessStrays.register(pid)
        book.pids.insert(pid)
      }
    }
  }

  /// This user's processes (not rollback itself) whose command line `matches`.
  private static func processes(where matches: ([UInt8]) -> Bool) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    let me = getpid()
    return entries.compactMap { entry -> pid_t? in
      guard let pid = pid_t(entry), pid != me, ownedBySelf("/proc/\(entry)"),
        let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), matches([UInt8](data))
      else { return nil }
      return pid
    }
  }

  /// Every ssh process of this user using this transport's control directory: its masters,
  /// and one an interrupted action left half set up (each one's command line names the
  /// control path).
  func sshProcesses() -> [pid_t] {
    let needle = Array((controlDirectory + "/").utf8)
    return Self.processes { $0.starts(with: Array("ssh".utf8)) && Self.contains($0, needle) }
  }

  private static func ownedBySelf(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_uid == getuid()
  }

  private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
      if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
    }
    return false
  }

  /// Runs `body` for every host, at most ``forks`` at once; results by host name.
  public func forEachHost<Result: Sendable>(
    _ hosts: [SSHHost], _ body: @escaping @Sendable (SSHHost) async -> Result
  ) async -> [String: Result] {
    await withTaskGroup(of: (String, Result).self) { group in
      var results: [String: Result] = [:]
      var pending = hosts[...]
      var running = 0
      while running < forks, let host = pending.popFirst() {
        group.addTask { (host.name, await body(host)) }
        running += 1
      }
      while let (name, result) = await group.next() {
        results[name] = result
        if let host = pending.popFirst() {
          group.addTask { (host.name, await body(host)) }
        }
      }
      return results
    }
  }

  static func tail(_ text: String, lines: Int = 8, characters: Int = 1500) -> String {
    let kept = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines)
      .joined(separator: "\n")
    return String(kept.suffix(characters))
  }

  func redact(_ text: String) -> String {
    Redaction.secrets(secrets, in: Redaction.urls(in: text))
  }

  private func controlArguments(_ command: String, _ host: SSHHost) -> [String] {
    var words = ["ssh"]
    if let configFile { words += ["-F", configFile] }
    words += ["-o", "BatchMode=yes", "-o", "ControlPath=\(controlDirectory)/%C", "-O", command]
    return words + [host.destination]
  }

  /// The master's pid from `ssh -O check` ("Master running (pid=1234)").
  private func masterPID(of host: SSHHost, timeout: Duration) async -> pid_t? {
    let spec = ProcessSpec(
      program: .argv(controlArguments("check", host)), processEnvironment: processEnvironment,
      timeout: timeout,
      grace: .milliseconds(200), outputCap: 1024)
    guard let outcome = try? await runner.run(spec), outcome.succeeded,
      let range = outcome.output.range(of: "pid=")
    else { return nil }
    let digits = outcome.output[range.upperBound...].prefix { $0.isNumber }
    return pid_t(digits)
  }

  /// Writes stdin data to a private file in the control directory.
  private func writeInput(_ bytes: [UInt8]) throws(SSHError) -> String {
    let number = inputCounter.update { value -> Int in
      value += 1
      return value
    }
    let path = "\(controlDirectory)/in-\(number)"
    let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else {
      throw .controlDirectory(detail: "\(path): \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
      if written < 0 {
        if errno == EINTR { continue }
        let message = String(cString: strerror(errno))
        unlink(path)
        throw .controlDirectory(detail: "\(path): \(message)")
      }
      offset += written
    }
    return path
  }

  private struct Collected: Sendable {
    var stdout: [String] = []
    var stdoutBytes = 0
    var truncated = false
    var stderr: [String] = []
  }
}

/// A value behind a lock, for callbacks on other threads.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: Value

  init(_ value: Value) { stored = value }

  var value: Value {
    lock.lock()
    defer { lock.unlock() }
    return stored
  }

  @discardableResult
  func update<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
    lock.lock()
    defer { lock.unlock() }
    return try body(&stored)
  }
}
