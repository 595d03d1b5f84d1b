import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Who holds (or last held) the execution lock, as written into the lock file.
public struct LockHolder: Codable, Sendable, Equatable, CustomStringConvertible {
  /// The holder's process id.
  public var pid: Int32
  /// The host it runs on.
  public var host: String
  /// The user it runs as.
  public var user: String
  /// The run it executes.
  public var runID: String
  /// When it took the lock (ISO 8601, UTC).
  public var startedAt: String

  /// Creates holder information.
  public init(pid: Int32, host: String, user: String, runID: String, startedAt: String) {
    self.pid = pid
    self.host = host
    self.user = user
    self.runID = runID
    self.startedAt = startedAt
  }

  enum CodingKeys: String, CodingKey {
    case pid, host, user
    case runID = "run_id"
    case startedAt = "started_at"
  }

  /// "pid 4242 on host h by user u, run 20260202T101500Z-3f2a (started 2026-02-02T10:15:00Z)".
  public var description: String {
    "pid \(pid) on host \(host) by user \(user), run \(runID) (started \(startedAt))"
  }
}

/// Why the execution lock could not be taken.
public enum LockError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Another process holds the lock; the holder is as it wrote itself into the lock file.
  case heldBy(LockHolder, lockFile: String)
  /// Another process holds the lock but has not recorded (or garbled) who it is.
  case heldByUnknown(lockFile: String)
  /// The lock file could not be created or opened.
  case unavailable(FileError)

  /// A short lowercase message naming the holder and what to do.
  public var description: String {
    switch self {
    case .heldBy(let holder, let lockFile):
      return "another execution holds the lock: \(holder); wait for it to finish (or stop it), "
        + "then retry (lock file \(lockFile))"
    case .heldByUnknown(let lockFile):
      return "another execution holds the lock \(lockFile) but did not record who it is; "
        + "find it with `fuser \(lockFile)`, wait for it to finish, then retry"
    case .unavailable(let error):
      return "cannot take the execution lock: \(error)"
    }
  }
}

/// The execution lock: `flock(LOCK_EX|LOCK_NB)` on `STATE/lock`, holding the holder's identity.
///
/// The kernel releases an `flock` when its process dies, so a crash never leaves a stale lock
/// behind; the descriptor is `O_CLOEXEC`, so child processes do not keep it. A clean release
/// empties the file, so a file that still names a holder when the lock is taken means that
/// holder ended without releasing it: `warning` then says so (and whether its process died).
public final class FileLock: @unchecked Sendable {
  /// The lock file.
  public let path: String
  /// What this lock wrote into the lock file.
  public let holder: LockHolder
  /// The holder the lock file still named when the lock was taken (it ended without releasing).
  public let previousHolder: LockHolder?
  /// A message for the operator when the previous holder ended without releasing the lock.
  public let warning: String?

  private let state = NSLock()
  private var descriptor: Int32

  private init(
    path: String, descriptor: Int32, holder: LockHolder, previousHolder: LockHolder?, warning: String?
  ) {
    self.path = path
    self.descriptor = descriptor
    self.holder = holder
    self.previousHolder = previousHolder
    self.warning = warning
  }

  deinit {
    release()
  }

  /// Takes the lock at `path` for `runID` without waiting, creating the file (and its
  /// directory, mode 0700) if needed, and records this process as the holder.
  ///
  /// Throws `LockError.heldBy` naming the holder when another execution has it.
  public static func acquire(at path: String, runID: String, startedAt: Date = Date()) throws(LockError)
    -> FileLock
  {
    let descriptor = try open(path)
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
      let code = errno
      defer { close(descriptor) }
      if code == EWOULDBLOCK || code == EAGAIN {
        if let holder = currentHolder(descriptor) { throw .heldBy(holder, lockFile: path) }
        throw .heldByUnknown(lockFile: path)
      }
      throw .unavailable(.from(errno: code, path: path, operation: "lock"))
    }
    let leftover = (try? Syscall.readFromStart(descriptor, limit: 64 * 1024)) ?? []
    let previous = leftover.isEmpty ? nil : decodeHolder(leftover)
    let holder = LockHolder(
      pid: getpid(), host: Syscall.hostName(), user: Syscall.userName(), runID: runID,
      startedAt: Timestamp.iso(startedAt, fractional: false))
    do {
      try record(holder, in: descriptor)
    } catch {
      flock(descriptor, LOCK_UN)
      close(descriptor)
      throw .unavailable(.from(errno: error.code, path: path, operation: "record the holder in"))
    }
    let warning = leftover.isEmpty ? nil : warning(about: previous, host: holder.host)
    return FileLock(
      path: path, descriptor: descriptor, holder: holder, previousHolder: previous, warning: warning)
  }

  /// The holder recorded in the lock file at `path` when it is plausibly alive: named in the
  /// file (a holder empties it on release) and, on this host, its process still exists.
  /// Reads only: never takes the lock, so it cannot get in an execution's way.
  public static func liveHolder(at path: String) -> LockHolder? {
    guard let descriptor = try? Syscall.open(path, O_RDONLY | O_NOFOLLOW) else { return nil }
    defer { close(descriptor) }
    guard let bytes = try? Syscall.readFromStart(descriptor, limit: 64 * 1024), !bytes.isEmpty,
      let holder = decodeHolder(bytes)
    else { return nil }
    if holder.host == Syscall.hostName(), kill(holder.pid, 0) != 0, errno == ESRCH { return nil }
    return holder
  }

  /// Empties the lock file and releases the lock; calling it again does nothing.
  public func release() {
    state.lock()
    defer { state.unlock() }
    guard descriptor >= 0 else { return }
    _ = ftruncate(descriptor, 0)
    flock(descriptor, LOCK_UN)
    close(descriptor)
    descriptor = -1
  }

  /// True until `release()` (or deinit).
  public var isHeld: Bool {
    state.lock()
    defer { state.unlock() }
    return descriptor >= 0
  }

  // MARK: - Helpers

  private static func open(_ path: String) throws(LockError) -> Int32 {
    let directory = Syscall.directoryName(path)
    do {
      try Syscall.makeDirectories(directory, mode: 0o700)
    } catch {
      throw .unavailable(.from(errno: error.code, path: directory, operation: "create the state directory"))
    }
    do {
      // Never through a symlink; a FIFO or device in its place is refused, not waited on.
      return try Syscall.openRegular(path, O_RDWR | O_CREAT, mode: 0o644, noFollow: true).descriptor
    } catch {
      throw .unavailable(.from(errno: error.code, path: path, operation: "open the lock file"))
    }
  }

  /// The holder named in the lock file; retries briefly, since a holder writes its name just
  /// after it takes the lock.
  private static func currentHolder(_ descriptor: Int32) -> LockHolder? {
    for attempt in 0..<5 {
      if attempt > 0 { usleep(20_000) }
      guard let bytes = try? Syscall.readFromStart(descriptor, limit: 64 * 1024), !bytes.isEmpty
      else {
        continue
      }
      if let holder = decodeHolder(bytes) { return holder }
    }
    return nil
  }

  private static func decodeHolder(_ bytes: [UInt8]) -> LockHolder? {
    try? JSONDecoder().decode(LockHolder.self, from: Data(bytes))
  }

  private static func record(_ holder: LockHolder, in descriptor: Int32) throws(AtomicFileErrno) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    guard let json = try? encoder.encode(holder) else { throw AtomicFileErrno(EINVAL) }
    guard ftruncate(descriptor, 0) == 0 else { throw AtomicFileErrno(errno) }
    guard lseek(descriptor, 0, SEEK_SET) == 0 else { throw AtomicFileErrno(errno) }
    try Syscall.writeAll(descriptor, Array(json) + [0x0A])
    try Syscall.sync(descriptor)
  }

  /// What to tell the operator about a holder that ended without releasing the lock.
  static func warning(about previous: LockHolder?, host: String) -> String {
    guard let previous else {
      return
        "the lock file held unreadable holder information from an earlier execution; taking the lock over"
    }
    let who = "pid \(previous.pid), run \(previous.runID), started \(previous.startedAt)"
    if previous.host == host, !Syscall.processExists(previous.pid) {
      return "the previous holder of the lock (\(who)) died without releasing it; its run may be incomplete: "
        + "check it with `rollback history` or `rollback resume \(previous.runID)`"
    }
    let place = previous.host == host ? "" : " on host \(previous.host)"
    return "the previous holder of the lock (\(who)\(place)) ended without releasing it; "
      + "its run may be incomplete: check it with `rollback history` or `rollback resume \(previous.runID)`"
  }
}
