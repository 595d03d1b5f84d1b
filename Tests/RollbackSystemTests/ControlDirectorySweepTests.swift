import Foundation
import Testing

@testable import RollbackSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Stale ssh control directories (`/tmp/rb-XXXXXX`) that runs killed with SIGKILL leave behind,
/// swept by the next transport without touching a live run's.
@Suite("stale ssh control directories are swept, live ones kept", .serialized)
struct ControlDirectorySweepTests {
  /// A new `/tmp/rb-XXXXXX` directory, as a transport makes it.
  static func makeDirectory() throws -> String {
    var template = Array("/tmp/rb-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
      guard let base = buffer.baseAddress else { return false }
      return mkdtemp(base) != nil
    }
    try #require(made)
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// A Unix socket file at `path`; listening (a live ssh master) when `listen` is true, else
  /// closed at once, which leaves the file behind as a killed master does.
  static func socketFile(_ path: String, listen: Bool) throws -> Int32 {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    try #require(descriptor >= 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    try #require(bound == 0)
    if listen {
      try #require(Glibc.listen(descriptor, 4) == 0)
      return descriptor
    }
    close(descriptor)
    return -1
  }

  /// Sets `path`'s modification time `seconds` into the past.
  static func age(_ path: String, by seconds: Int) {
    let then = timeval(tv_sec: time(nil) - seconds, tv_usec: 0)
    _ = utimes(path, [then, then])
  }

  static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

  static func remove(_ paths: [String]) {
    for path in paths { try? FileManager.default.removeItem(atPath: path) }
  }

  @Test("killed runs' directories go; a live master's, a locked one's and a just-made one stay")
  func sweepOnNewTransport() throws {
    // Killed after its lock and a master: the lock file nobody holds, the master's dead socket,
    // a stdin file.
    let killed = try Self.makeDirectory()
    FileManager.default.createFile(atPath: killed + "/" + ControlDirectorySweep.lockName, contents: Data())
    _ = try Self.socketFile(killed + "/0123456789abcdef0123456789abcdef01234567", listen: false)
    FileManager.default.createFile(atPath: killed + "/in-1", contents: Data("secret".utf8))
    // Killed with its master still up (ssh keeps it ControlPersist after the run): the lock is
    // free, so the master serves nobody; the directory goes.
    let orphaned = try Self.makeDirectory()
    FileManager.default.createFile(atPath: orphaned + "/" + ControlDirectorySweep.lockName, contents: Data())
    let orphanMaster = try Self.socketFile(
      orphaned + "/00112233445566778899aabbccddeeff00112233", listen: true)
    // Left by an older version (no lock), empty, unchanged for an hour.
    let oldEmpty = try Self.makeDirectory()
    Self.age(oldEmpty, by: 3600)
    // A live run without a lock file whose master still listens, unchanged for an hour.
    let liveMaster = try Self.makeDirectory()
    let listening = try Self.socketFile(
      liveMaster + "/fedcba9876543210fedcba9876543210fedcba98", listen: true)
    Self.age(liveMaster, by: 3600)
    // A live run between its ssh actions: the lock held by another process (flock(1), which
    // execs sleep holding it), no socket.
    let locked = try Self.makeDirectory()
    let holder = Process()
    holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
    holder.arguments = ["--no-fork", locked + "/" + ControlDirectorySweep.lockName, "sleep", "30"]
    try holder.run()
    let held = Date().addingTimeInterval(5)
    while Date() < held, !Self.exists(locked + "/" + ControlDirectorySweep.lockName) {
      Thread.sleep(forTimeInterval: 0.05)
    }
    Thread.sleep(forTimeInterval: 0.2)
    // A run that has just made its directory and not yet locked it.
    let fresh = try Self.makeDirectory()
    defer {
      if holder.isRunning { holder.terminate() }
      close(listening)
      close(orphanMaster)
      Self.remove([killed, orphaned, oldEmpty, liveMaster, locked, fresh])
    }

    // The next fleet run's transport sweeps before making its own directory.
    let transport = try SSHTransport()
    let own = transport.controlDirectory
    #expect(!Self.exists(killed), "a killed run's directory is left: \(killed)")
    #expect(!Self.exists(orphaned), "a killed run's directory with its orphaned master is left")
    #expect(!Self.exists(oldEmpty), "an old empty directory is left: \(oldEmpty)")
    #expect(Self.exists(liveMaster + "/fedcba9876543210fedcba9876543210fedcba98"))
    #expect(Self.exists(locked + "/" + ControlDirectorySweep.lockName))
    #expect(Self.exists(fresh))
    #expect(Self.exists(own + "/" + ControlDirectorySweep.lockName))

    // Its own directory is locked: another sweep keeps it. Once the lock's holder is killed
    // (SIGKILL, as a run can be), its directory is stale.
    kill(holder.processIdentifier, SIGKILL)
    holder.waitUntilExit()
    let removed = ControlDirectorySweep.sweep()
    // (A transport another test makes meanwhile sweeps too, and may have removed it first.)
    #expect(removed.contains(locked) || !Self.exists(locked))
    #expect(!removed.contains(own) && Self.exists(own))
    #expect(!removed.contains(liveMaster) && !removed.contains(fresh))
  }

  @Test("another user's directory and a directory with a subdirectory are never touched")
  func foreignDirectoriesKept() throws {
    let withSubdirectory = try Self.makeDirectory()
    try FileManager.default.createDirectory(
      atPath: withSubdirectory + "/keep", withIntermediateDirectories: false)
    Self.age(withSubdirectory, by: 3600)
    let foreign = try Self.makeDirectory()
    Self.age(foreign, by: 3600)
    let changedOwner = getuid() == 0 && chown(foreign, 65534, 65534) == 0
    defer { Self.remove([withSubdirectory, foreign]) }
    let removed = ControlDirectorySweep.sweep()
    #expect(!removed.contains(withSubdirectory) && Self.exists(withSubdirectory + "/keep"))
    if changedOwner {
      #expect(!removed.contains(foreign) && Self.exists(foreign))
    }
  }
}
