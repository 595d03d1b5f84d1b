import Foundation

/// Who holds a host's lock, as its lock file says.
public struct RemoteLockHolder: Sendable, Equatable, CustomStringConvertible {
  /// The run id.
  public var runID: String
  /// The user on the control machine.
  public var user: String
  /// The control machine's host name.
  public var controlHost: String
  /// When the lock was taken, in seconds since the epoch, by the host's clock.
  public var started: Int
  /// How old the lock was when it was looked at, in seconds, by the host's clock.
  public var age: Int

  /// "run 20261201-... by alice on laptop-2, 35 s ago".
  public var description: String {
    "run \(runID) by \(user) on \(controlHost), \(age) s ago"
  }
}

/// Why a host's lock could not be taken or released.
public enum RemoteLockError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Another run holds the lock (rollback exits 4).
  case held(host: String, path: String, holder: RemoteLockHolder)
  /// Takeover was forced, but the other run's lock is younger than the stale limit.
  case notStale(host: String, path: String, holder: RemoteLockHolder, staleAfter: Int)
  /// Something other than a lock file is at the lock path.
  case notALockFile(host: String, path: String)
  /// The lock file could not be created or replaced.
  case failed(host: String, path: String, detail: String)
  /// ssh could not run the lock script.
  case transport(SSHError)

  /// A lowercase message naming the host and the holder.
  public var description: String {
    switch self {
    case .held(let host, let path, let holder):
      return
        "\(host) is locked by another rollback: \(holder) (\(path)); wait for it to finish, or take over a "
        + "stale lock with --force"
    case .notStale(let host, let path, let holder, let staleAfter):
      return
        "\(host) is locked by another rollback: \(holder) (\(path)); it is not stale yet (a lock may be taken "
        + "over after \(staleAfter) s)"
    case .notALockFile(let host, let path):
      return "\(host): \(path) is not a rollback lock file; remove it by hand if nothing uses it"
    case .failed(let host, let path, let detail):
      return "\(host): cannot take the lock \(path): \(detail)"
    case .transport(let error): return error.description
    }
  }
}

/// A run's lock on a host it changes: a file created atomically on the host (`set -C`, so
/// `O_EXCL`) in `/tmp` or the inventory's `ssh.lock_dir`, naming the run id, the user and the
/// control machine. A second run gets ``RemoteLockError/held(host:path:holder:)`` naming the
/// holder; the same run (a resume) takes its own lock over; another run's lock is taken over
/// only when forced and older than the stale limit. ``release()`` removes it only while it
/// is still this run's.
public struct RemoteHostLock: Sendable {
  /// How the lock was obtained.
  public enum Acquisition: String, Sendable, Equatable {
    /// Created afresh.
    case created
    /// This run's own lock, left by an interrupted attempt, taken over (resume).
    case resumed
    /// Another run's stale lock, taken over by force.
    case forced
  }

  /// The file name of the lock in its directory.
  public static let fileName = "rollback-fleet.lock"

  /// The ssh transport that reaches the host.
  public let transport: SSHTransport
  /// The host the lock is taken on.
  public let host: SSHHost
  /// The lock file's path on the host.
  public let path: String
  /// The run id written into the lock.
  public let runID: String
  /// The user written into the lock.
  public let user: String
  /// The control machine written into the lock.
  public let controlHost: String
  /// The bound of each lock action.
  public let timeout: Duration

  /// Describes the lock of run `runID` on `host` (nothing happens until ``acquire(force:staleAfter:)``).
  ///
  /// - Parameter directory: the lock directory on the host (`ssh.lock_dir`; default `/tmp`).
  public init(
    transport: SSHTransport, host: SSHHost, runID: String, directory: String? = nil,
    user: String = ProcessInfo.processInfo.environment["USER"] ?? NSUserName(),
    controlHost: String = RemoteHostLock.localHostName(), timeout: Duration = .seconds(30)
  ) {
    self.transport = transport
    self.host = host
    let base = directory ?? "/tmp"
    self.path = (base.hasSuffix("/") ? base : base + "/") + Self.fileName
    self.runID = Self.oneLine(runID)
    self.user = Self.oneLine(user)
    self.controlHost = Self.oneLine(controlHost)
    self.timeout = timeout
  }

  static let acquireScript = """
    l=$1 run=$2 user=$3 ctl=$4 force=$5 stale=$6
    now=$(date +%s) || exit 70
    write() { printf 'run=%s\\nuser=%s\\ncontrol=%s\\nstarted=%s\\n' "$run" "$user" "$ctl" "$now"; }
    if ( set -C; write > "$l" ) 2>/dev/null; then echo CREATED; exit 0; fi
    if [ -L "$l" ] || [ ! -f "$l" ]; then exit 67; fi
    holder=$(sed -n 's/^run=//p' -- "$l" | head -n 1)
    started=$(sed -n 's/^started=//p' -- "$l" | head -n 1)
    case $started in ''|*[!0-9]*) started=0 ;; esac
    printf 'H run=%s\\n' "$holder"
    sed -n -e 's/^user=/H &/p' -e 's/^control=/H &/p' -- "$l"
    printf 'H started=%s\\nH age=%s\\n' "$started" "$((now - started))"
    if [ "$holder" = "$run" ]; then how=RESUMED
    elif [ "$force" = yes ] && [ "$((now - started))" -ge "$stale" ]; then how=FORCED
    elif [ "$force" = yes ]; then exit 5
    else exit 4
    fi
    t=$(mktemp -p "${l%/*}" .rollback-fleet-lock.XXXXXX) || exit 71
    if write > "$t" && chmod 644 -- "$t" && mv -f -- "$t" "$l"; then echo "$how"; exit 0; fi
    rm -f -- "$t"
    exit 71
    """

  /// ``acquireScript`` as the shell function `lk`, in a subshell so that its `exit`s end only
  /// the function (for scripts that take the lock among other work, as the fleet preflight).
  static let acquireFunction = "lk() (\n" + acquireScript + "\n)"

  /// The arguments of ``acquireScript`` (`$1`…`$6`).
  func acquireArguments(force: Bool = false, staleAfter: Int = 0) -> [String] {
    [path, runID, user, controlHost, force ? "yes" : "no", String(max(0, staleAfter))]
  }

  /// Takes the lock.
  ///
  /// - Parameters:
  ///   - force: take over another run's lock when it is at least `staleAfter` seconds old.
  /// - Returns: whether the lock was created, this run's own taken over, or forced.
  @discardableResult
  public func acquire(force: Bool = false, staleAfter: Int = 0) async throws(RemoteLockError) -> Acquisition {
    let output: SSHOutput
    do {
      output = try await transport.execute(
        on: host, script: Self.acquireScript,
        arguments: acquireArguments(force: force, staleAfter: staleAfter),
        timeout: timeout)
    } catch {
      throw .transport(error)
    }
    return try acquisition(
      exitCode: output.exitCode, lines: output.stdout[...], stderr: output.stderr, staleAfter: staleAfter)
  }

  /// What one run of ``acquireScript`` printed and returned, as ``acquire(force:staleAfter:)``
  /// reports it.
  func acquisition(exitCode: Int32, lines: ArraySlice<String>, stderr: String, staleAfter: Int = 0)
    throws(RemoteLockError) -> Acquisition
  {
    switch exitCode {
    case 0 where lines.last == "CREATED": return .created
    case 0 where lines.last == "RESUMED": return .resumed
    case 0 where lines.last == "FORCED": return .forced
    case 4: throw .held(host: host.name, path: path, holder: Self.holder(from: Array(lines)))
    case 5:
      throw .notStale(
        host: host.name, path: path, holder: Self.holder(from: Array(lines)), staleAfter: staleAfter)
    case 67: throw .notALockFile(host: host.name, path: path)
    default:
      let detail = stderr.isEmpty ? "exit \(exitCode)" : stderr
      throw .failed(host: host.name, path: path, detail: detail)
    }
  }

  static let releaseScript = """
    l=$1 run=$2
    [ -f "$l" ] || exit 0
    holder=
    while IFS= read -r line; do
      case $line in run=*) holder=${line#run=}; break ;; esac
    done < "$l"
    [ "$holder" = "$run" ] || exit 4
    rm -f -- "$l"
    """

  /// Removes the lock if it is still this run's; a lock another run took over stays (and is
  /// reported as held by it).
  public func release() async throws(RemoteLockError) {
    let output: SSHOutput
    do {
      output = try await transport.execute(
        on: host, script: Self.releaseScript, arguments: [path, runID], timeout: timeout)
    } catch {
      throw .transport(error)
    }
    switch output.exitCode {
    case 0: return
    case 4: throw .held(host: host.name, path: path, holder: try await currentHolder())
    default:
      throw .failed(
        host: host.name, path: path, detail: output.stderr.isEmpty ? "exit \(output.exitCode)" : output.stderr
      )
    }
  }

  /// The holder of the lock now, from its file.
  private func currentHolder() async throws(RemoteLockError) -> RemoteLockHolder {
    let script = """
      now=$(date +%s)
      sed -n 's/^/H /p' -- "$1"
      s=$(sed -n 's/^started=//p' -- "$1" | head -n 1)
      case $s in ''|*[!0-9]*) s=$now ;; esac
      printf 'H age=%s\\n' "$((now - s))"
      """
    do {
      let output = try await transport.run(on: host, script: script, arguments: [path], timeout: timeout)
      return Self.holder(from: output.stdout)
    } catch {
      throw .transport(error)
    }
  }

  static func holder(from lines: [String]) -> RemoteLockHolder {
    var fields: [String: String] = [:]
    for line in lines where line.hasPrefix("H ") {
      let body = line.dropFirst(2)
      guard let equals = body.firstIndex(of: "=") else { continue }
      let name = String(body[..<equals])
      if fields[name] == nil { fields[name] = String(body[body.index(after: equals)...]) }
    }
    return RemoteLockHolder(
      runID: fields["run"] ?? "?", user: fields["user"] ?? "?", controlHost: fields["control"] ?? "?",
      started: Int(fields["started"] ?? "") ?? 0, age: Int(fields["age"] ?? "") ?? 0)
  }

  /// This machine's host name (`gethostname`, no DNS lookup).
  public static func localHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  private static func oneLine(_ text: String) -> String {
    String(text.map { $0.isNewline ? " " : $0 })
  }
}
