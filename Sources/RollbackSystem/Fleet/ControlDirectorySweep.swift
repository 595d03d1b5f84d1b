import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Removes the private ssh control directories (`/tmp/rb-XXXXXX`, see ``SSHTransport``) that
/// runs killed outright (SIGKILL, a crash) left behind, and never one a live run still uses.
///
/// A transport holds an exclusive `flock` on `DIR/lock` for as long as it lives; the kernel
/// drops it when the process dies, however it dies. A directory is stale when it is ours
/// (same uid, a real directory named `rb-` and six characters, holding only files and
/// sockets) and:
/// - it has a lock file that nobody holds: its run is dead. Masters it left (ssh keeps them
///   `ControlPersist` after their run) serve nobody else and end by themselves; or
/// - it has none (made by an older version, or killed before the lock), no socket in it
///   accepts a connection (no live ssh master), and it has not changed for ``unlockedGrace``.
public enum ControlDirectorySweep {
  /// The file a transport keeps locked in its control directory.
  public static let lockName = "lock"
  /// How long a control directory without a lock file must be unchanged to count as stale.
  public static let unlockedGrace: TimeInterval = 600

  /// Removes the stale control directories in `parent` and returns their paths.
  @discardableResult
  public static func sweep(parent: String = "/tmp", now: Date = Date()) -> [String] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return [] }
    var removed: [String] = []
    for name in names.sorted() where isControlName(name) {
      let path = parent + "/" + name
      if removeIfStale(path, now: now) { removed.append(path) }
    }
    return removed
  }

  /// `rb-` and the six characters `mkdtemp` puts in place of `XXXXXX`.
  static func isControlName(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    guard bytes.count == 9, name.hasPrefix("rb-") else { return false }
    return bytes.dropFirst(3).allSatisfy { $0 < 0x80 && (isalnum(Int32($0)) != 0) }
  }

  /// Removes `path` with what is in it when it is stale; true when it was removed.
  static func removeIfStale(_ path: String, now: Date) -> Bool {
    var info = stat()
    guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(),
      let entries = try? FileManager.default.contentsOfDirectory(atPath: path)
    else { return false }
    var sockets: [String] = []
    for entry in entries {
      var entryInfo = stat()
      guard lstat(path + "/" + entry, &entryInfo) == 0 else { return false }
      switch entryInfo.st_mode & S_IFMT {
      case S_IFSOCK: sockets.append(path + "/" + entry)
      case S_IFREG: break
      default: return false
      }
    }
    var lock: Int32 = -1
    defer { if lock >= 0 { close(lock) } }
    if entries.contains(lockName) {
      lock = open(path + "/" + lockName, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
      guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else { return false }
    } else {
      let changed = Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec))
      guard now.timeIntervalSince(changed) > unlockedGrace, !sockets.contains(where: accepts) else {
        return false
      }
    }
    for entry in entries { unlink(path + "/" + entry) }
    return rmdir(path) == 0
  }

  /// Whether a process listens on the Unix socket at `path`. Only "refused" (or gone) says
  /// no; a socket that cannot be tested (a path too long, a full backlog) counts as live.
  static func accepts(_ path: String) -> Bool {
    let socketFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard socketFD >= 0 else { return true }
    defer { close(socketFD) }
    _ = fcntl(socketFD, F_SETFL, O_NONBLOCK)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return true }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    if result == 0 { return true }
    return !(errno == ECONNREFUSED || errno == ENOENT)
  }

  /// Creates and locks `DIR/lock` for a new control directory; returns the descriptor to keep
  /// open for the transport's life, or -1 when the lock could not be taken (the directory then
  /// counts as stale only after ``unlockedGrace`` without change). The file is locked under
  /// another name and then renamed, so a sweep never sees `lock` before it is held.
  static func holdLock(in directory: String) -> Int32 {
    let staging = directory + "/" + lockName + ".new"
    let descriptor = open(staging, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard descriptor >= 0 else { return -1 }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0, rename(staging, directory + "/" + lockName) == 0 else {
      close(descriptor)
      unlink(staging)
      return -1
    }
    return descriptor
  }
}
