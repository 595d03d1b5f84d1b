import Foundation
import RollbackCore

/// The check of every host of a fleet run before anything changes: all hosts at once (at most
/// the transport's `forks`), every problem on every host reported together, and each flag's
/// current value per host with the hosts that drift from the others.
///
/// Per host it runs one remote script (which opens the host's master connection when none is
/// open): it checks that every file the run changes is writable and lives in a writable
/// directory (`test -w`), that a missing file the flag may create has a writable directory, and
/// that every program the run starts there is found (`command -v`), and it reads each flag file
/// as ``RemoteFileStore/read(_:)`` does (the same refusals as an edit: missing, not a regular
/// file, several hard links, too large, untrusted symlink); each file is then parsed with the
/// dotenv editor (a duplicate key is a problem here too). A host that cannot be reached
/// (refused, timed out, host key refused, authentication) gets one problem, with ssh's reason,
/// and no other check. Nothing is written anywhere.
///
/// A run calls it once, after planning and before any change; the masters it opened stay up
/// for the run (``SSHTransport/shutdown(_:)`` closes them at the end):
///
///     let transport = try SSHTransport(settings: resolver.environment.inventory.ssh)
///     let report = await FleetPreflight(transport: transport).check(
///       resolver.hostNeeds(of: plan).map(FleetPreflight.Target.init))
///     guard report.isClean else { /* print report.problems (each names its host), stop */ }
///     // report.drift[flag]?.driftingHosts: hosts whose value differs from the others
public struct FleetPreflight: Sendable {
  /// What to check on one host.
  public struct Target: Sendable {
    /// The host these findings are about.
    public var host: SSHHost
    /// The flag files read (and, when ``FlagFilesOnHost/changes``, checked writable).
    public var flags: [FlagFilesOnHost]
    /// Programs that must be found on the host's `PATH` (or at their absolute path).
    public var executables: [String]
    /// The run's lock on the host, taken by the same script before anything is checked (`nil`:
    /// no lock, as for a dry run or a read-only command).
    public var lock: RemoteHostLock?

    /// Creates a target.
    public init(
      host: SSHHost, flags: [FlagFilesOnHost] = [], executables: [String] = [], lock: RemoteHostLock? = nil
    ) {
      self.host = host
      self.flags = flags
      self.executables = executables
      self.lock = lock
    }

    /// The target of a plan's host needs (``Resolver/hostNeeds(of:)``).
    public init(_ needs: HostNeeds) {
      self.init(
        host: SSHHost(name: needs.host.name, destination: needs.host.ssh), flags: needs.flags,
        executables: needs.executables)
    }
  }

  /// One problem on one host. Every case names the host.
  public enum Problem: Sendable, Equatable, CustomStringConvertible {
    /// ssh could not reach the host or run anything there (refused, timed out, host key
    /// refused, authentication failed), with ssh's reason.
    case unreachable(SSHError)
    /// A flag file cannot be read, or an edit would refuse it.
    case file(RemoteFileError)
    /// The dotenv editor refuses the file's text.
    case dotenv(host: String, path: String, DotEnvError)
    /// The file exists but `test -w` fails for the ssh user.
    case unwritableFile(host: String, path: String)
    /// The directory a replacement (or a new file) is written in is not writable.
    case unwritableDirectory(host: String, path: String, directory: String)
    /// `command -v` does not find the program.
    case missingExecutable(host: String, name: String)
    /// The check script itself failed.
    case checkFailed(host: String, detail: String)

    /// The host the problem is on.
    public var host: String {
      switch self {
      case .unreachable(let error): return error.host
      case .file(let error): return Self.host(of: error)
      case .dotenv(let host, _, _), .unwritableFile(let host, _), .unwritableDirectory(let host, _, _),
        .missingExecutable(let host, _), .checkFailed(let host, _):
        return host
      }
    }

    /// Whether the host could not be reached at all.
    public var isUnreachable: Bool {
      if case .unreachable = self { return true }
      return false
    }

    /// A lowercase message naming the host (and the file or program).
    public var description: String {
      switch self {
      case .unreachable(let error): return error.description
      case .file(let error): return error.description
      case .dotenv(let host, let path, let error): return "\(host): \(path): \(error.description)"
      case .unwritableFile(let host, let path):
        return "\(host): \(path) is not writable by the ssh user"
      case .unwritableDirectory(let host, let path, let directory):
        return "\(host): \(path): its directory \(directory) is not writable by the ssh user"
      case .missingExecutable(let host, let name):
        return "\(host): \(name) is not found (command -v \(name) fails on the host)"
      case .checkFailed(let host, let detail):
        return "\(host): the preflight check could not run: \(detail)"
      }
    }

    /// The message without the leading `HOST: `, for tables that show the host already.
    public var detail: String {
      let text = description
      let prefix = host + ": "
      return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
    }

    private static func host(of error: RemoteFileError) -> String {
      switch error {
      case .notFound(let host, _), .notRegular(let host, _, _), .tooLarge(let host, _, _, _),
        .hardLinks(let host, _, _), .untrustedSymlink(let host, _), .changedMeanwhile(let host, _),
        .failed(let host, _, _), .partial(let host, _, _):
        return host
      case .transport(let error): return error.host
      }
    }
  }

  /// What one file of a flag says on one host.
  public struct FileReading: Sendable, Equatable {
    /// The file's path on the host.
    public var path: String
    /// The flag's value (`nil`: unset, or the file could not be read).
    public var value: String?
    /// The rollout percentage (`nil`: unset, no percent key, or unreadable).
    public var percent: String?
    /// Whether the file is missing and the flag may create it (it reads as unset).
    public var missing: Bool
    /// Why the file could not be read, if it could not.
    public var problem: Problem?
    /// The file as read (`nil` when it could not be read or is missing).
    public var file: RemoteFile?
  }

  /// One flag's files on one host.
  public struct FlagReading: Sendable, Equatable {
    /// The flag's name.
    public var flag: String
    /// The dotenv key.
    public var key: String
    /// The rollout percentage's key.
    public var percentKey: String?
    /// Each file, in the order the flag lists them.
    public var files: [FileReading]
  }

  /// Everything found on one host.
  public struct HostReport: Sendable, Equatable {
    /// The host's name.
    public var host: String
    /// Every problem on the host (files, programs, reachability), in the order found.
    public var problems: [Problem]
    /// Each flag's files (empty when the host was unreachable).
    public var flags: [FlagReading]
    /// The lock's outcome, when the target asked for the lock and the host was reached.
    public var lock: Result<RemoteHostLock.Acquisition, RemoteLockError>? = nil

    /// Whether ssh reached the host.
    public var reachable: Bool { !problems.contains(where: \.isUnreachable) }
  }

  /// The whole preflight.
  public struct Report: Sendable {
    /// Each host, in the order the targets were given.
    public var hosts: [HostReport]
    /// Per flag, how its value differs between the hosts that could be read.
    public var drift: [String: FlagDrift]
    /// How long the preflight took.
    public var elapsed: Duration

    /// Every problem on every host, host by host.
    public var problems: [Problem] { hosts.flatMap(\.problems) }
    /// Whether no host has a problem.
    public var isClean: Bool { problems.isEmpty }
    /// The hosts that could not be reached.
    public var unreachableHosts: [String] { hosts.filter { !$0.reachable }.map(\.host) }
    /// The report for `host`.
    public func host(_ name: String) -> HostReport? { hosts.first { $0.host == name } }
  }

  /// The transport (its masters stay open for the run that follows).
  public let transport: SSHTransport
  /// The bound of each remote action.
  public let timeout: Duration

  /// Creates a preflight over `transport`.
  public init(transport: SSHTransport, timeout: Duration = .seconds(30)) {
    self.transport = transport
    self.timeout = timeout
  }

  /// Checks every target in parallel (at most the transport's `forks` at once).
  public func check(_ targets: [Target]) async -> Report {
    let clock = ContinuousClock()
    let start = clock.now
    let results = await transport.forEachHost(targets.map(\.host)) { host -> HostReport in
      guard let target = targets.first(where: { $0.host.name == host.name }) else {
        return HostReport(host: host.name, problems: [], flags: [])
      }
      return await self.check(target)
    }
    let reports = targets.map {
      results[$0.host.name] ?? HostReport(host: $0.host.name, problems: [], flags: [])
    }
    return Report(hosts: reports, drift: Self.drift(reports), elapsed: clock.now - start)
  }

  /// Per flag, the drift of its value between the hosts whose files could be read.
  static func drift(_ reports: [HostReport]) -> [String: FlagDrift] {
    var values: [String: [String: [String: String?]]] = [:]
    for report in reports {
      for flag in report.flags {
        for file in flag.files where file.problem == nil {
          values[flag.flag, default: [:]][report.host, default: [:]][file.path] = .some(file.value)
        }
      }
    }
    let order = reports.map(\.host)
    return values.mapValues { FlagDrift($0, hostOrder: order) }
  }

  /// The remote check: the first argument is the read size cap, the second the number of lock
  /// arguments that follow (0, or the 6 of ``RemoteHostLock``'s acquire script: then `L`, the
  /// lock's lines and `M CODE` come first), each other is `KIND PATH-OR-NAME`; prints `W i`, `D i DIR` or `X i` for a failed check of argument i (1-based,
  /// after the cap), `B`, a read's lines and `E CODE` for each `r PATH` (a read as
  /// ``RemoteFileStore/read(_:)`` does it), then `END`.
  static let checkScript =
    RemoteFileStore.readFunction + "\n" + RemoteHostLock.acquireFunction + """

      cap=$1 nl=$2; shift 2
      if [ "$nl" = 6 ]; then
        echo L; lk "$1" "$2" "$3" "$4" "$5" "$6"; echo "M $?"; shift 6
      fi
      i=0
      for a in "$@"; do
        i=$((i + 1))
        k=${a%% *} v=${a#* }
        case $k in
          w|c)
            rp "$v" 2>/dev/null || r=$v
            [ -n "$r" ] || r=$v
            d=${r%/*}; [ -n "$d" ] || d=/
            if [ -e "$r" ]; then
              [ -w "$r" ] || echo "W $i"
              [ -w "$d" ] || echo "D $i $d"
            elif [ "$k" = c ]; then
              { [ -d "$d" ] && [ -w "$d" ]; } || echo "D $i $d"
            fi ;;
          x) command -v "$v" >/dev/null 2>&1 || echo "X $i" ;;
          r) echo B; rd "$v" "$cap"; echo "E $?" ;;
        esac
      done
      echo END
      """

  private func check(_ target: Target) async -> HostReport {
    let host = target.host
    let store = RemoteFileStore(transport: transport, host: host, timeout: timeout)
    // One script: the lock, writability, programs and every flag file's content (this also
    // opens the master connection when none is open).
    let (arguments, subjects, paths) = Self.checkArguments(target)
    let lockArguments = target.lock?.acquireArguments() ?? []
    let output: SSHOutput
    do {
      output = try await transport.execute(
        on: host, script: Self.checkScript,
        arguments: [String(store.sizeCap), String(lockArguments.count)] + lockArguments + arguments,
        timeout: timeout, stdoutLimit: store.stdoutLimit(files: paths.count))
    } catch {
      return HostReport(host: host.name, problems: [.unreachable(error)], flags: [])
    }
    let (lock, rest) = Self.lockSection(output.stdout[...], of: target.lock, stderr: output.stderr)
    let sections = RemoteFileStore.sections(in: rest)
    guard output.exitCode == 0, output.stdout.last == "END", sections.count == paths.count,
      !output.stdoutTruncated, target.lock == nil || lock != nil
    else {
      let detail = "exit \(output.exitCode)\(output.stderr.isEmpty ? "" : ": " + output.stderr)"
      return HostReport(
        host: host.name, problems: [.checkFailed(host: host.name, detail: detail)], flags: [], lock: lock)
    }
    var contents: [String: Result<RemoteFile, RemoteFileError>] = [:]
    for (path, section) in zip(paths, sections) {
      contents[path] = store.file(path, exitCode: section.code, lines: section.lines, stderr: output.stderr)
    }
    var report = await readings(target, contents: contents, store: store)
    if report.reachable {
      report.problems =
        Self.problems(in: Self.outsideSections(rest.dropLast()), subjects: subjects, host: host.name)
        + report.problems
    }
    report.lock = lock
    return report
  }

  /// The check script's arguments after the cap and the lock (`KIND PATH-OR-NAME`), what each
  /// is about (`f PATH`, `x NAME`, `r PATH`), and the files read, in order.
  private static func checkArguments(_ target: Target) -> (
    arguments: [String], subjects: [String], paths: [String]
  ) {
    var arguments: [String] = []
    var subjects: [String] = []
    for flag in target.flags where flag.changes {
      for file in flag.files where !subjects.contains("f " + file) {
        arguments.append((flag.create ? "c " : "w ") + file)
        subjects.append("f " + file)
      }
    }
    for name in target.executables where !subjects.contains("x " + name) {
      arguments.append("x " + name)
      subjects.append("x " + name)
    }
    let paths = target.flags.flatMap(\.files).reduce(into: [String]()) {
      if !$0.contains($1) { $0.append($1) }
    }
    return (arguments + paths.map { "r " + $0 }, subjects + paths.map { "r " + $0 }, paths)
  }

  /// Each flag's files on the host from their reads (a file rewritten while it was read is read
  /// again on its own), with the problems found in them. A host that went away meanwhile gets
  /// that one problem and no readings.
  private func readings(
    _ target: Target, contents: [String: Result<RemoteFile, RemoteFileError>], store: RemoteFileStore
  ) async -> HostReport {
    let host = target.host
    var problems: [Problem] = []
    var flags: [FlagReading] = []
    for flag in target.flags {
      var files: [FileReading] = []
      for path in flag.files {
        var content = contents[path] ?? .failure(.notFound(host: host.name, path: path))
        if case .failure(.changedMeanwhile) = content {
          do { content = .success(try await store.read(path)) } catch { content = .failure(error) }
        }
        let reading = Self.reading(path, content, flag: flag, host: host.name)
        if let problem = reading.problem {
          if problem.isUnreachable {
            return HostReport(host: host.name, problems: [problem], flags: [])
          }
          if !problems.contains(problem) { problems.append(problem) }
        }
        files.append(reading)
      }
      flags.append(FlagReading(flag: flag.flag, key: flag.key, percentKey: flag.percentKey, files: files))
    }
    return HostReport(host: host.name, problems: problems, flags: flags)
  }

  /// The lock's outcome (from the leading `L` … `M CODE` section) and the lines after it.
  private static func lockSection(_ lines: ArraySlice<String>, of lock: RemoteHostLock?, stderr: String) -> (
    Result<RemoteHostLock.Acquisition, RemoteLockError>?, ArraySlice<String>
  ) {
    guard let lock, lines.first == "L",
      let end = lines.firstIndex(where: { $0.hasPrefix("M ") && Int32($0.dropFirst(2)) != nil }),
      let code = Int32(lines[end].dropFirst(2))
    else { return (nil, lines) }
    let body = lines[(lines.startIndex + 1)..<end]
    let result: Result<RemoteHostLock.Acquisition, RemoteLockError>
    do {
      result = .success(try lock.acquisition(exitCode: code, lines: body, stderr: stderr))
    } catch {
      result = .failure(error)
    }
    return (result, lines[(end + 1)...])
  }

  /// The lines of a script's output outside its read sections (``RemoteFileStore/sections(in:)``).
  private static func outsideSections(_ lines: ArraySlice<String>) -> ArraySlice<String> {
    var kept: [String] = []
    var inside = false
    for line in lines {
      if line == "B" {
        inside = true
      } else if inside {
        if line.hasPrefix("E "), Int32(line.dropFirst(2)) != nil { inside = false }
      } else {
        kept.append(line)
      }
    }
    return kept[...]
  }

  /// The problems ``checkScript`` reported (`W N`, `D N DIR`, `X N`; N numbers `subjects` from 1).
  private static func problems(in lines: ArraySlice<String>, subjects: [String], host: String) -> [Problem] {
    var problems: [Problem] = []
    for line in lines {
      let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
      guard parts.count >= 2, let index = Int(parts[1]), index >= 1, index <= subjects.count else {
        continue
      }
      let subject = String(subjects[index - 1].dropFirst(2))
      switch parts[0] {
      case "W": problems.append(.unwritableFile(host: host, path: subject))
      case "D":
        let directory = parts.count == 3 ? parts[2] : (subject as NSString).deletingLastPathComponent
        problems.append(.unwritableDirectory(host: host, path: subject, directory: directory))
      case "X": problems.append(.missingExecutable(host: host, name: subject))
      default: continue
      }
    }
    return problems
  }

  /// What one flag file says, from its read (a missing file the flag may create reads unset).
  private static func reading(
    _ path: String, _ content: Result<RemoteFile, RemoteFileError>, flag: FlagFilesOnHost, host: String
  ) -> FileReading {
    var reading = FileReading(path: path, value: nil, percent: nil, missing: false, problem: nil)
    let file: RemoteFile
    switch content {
    case .success(let read):
      file = read
      reading.file = read
    case .failure(.notFound) where flag.create:
      reading.missing = true
      return reading
    case .failure(.transport(let ssh)):
      reading.problem = .unreachable(ssh)
      return reading
    case .failure(let error):
      reading.problem = .file(error)
      return reading
    }
    let document = DotEnvDocument(bytes: file.bytes)
    do {
      reading.value = try document.value(of: flag.key)
      if let percentKey = flag.percentKey { reading.percent = try document.value(of: percentKey) }
    } catch {
      reading.problem = .dotenv(host: host, path: path, error)
    }
    return reading
  }
}
