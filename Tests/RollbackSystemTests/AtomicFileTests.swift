import Foundation
import Testing

@testable import RollbackSystem

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A fresh directory (mode 0755) under the system temporary directory, removed afterwards.
final class ScratchDirectory {
  let path: String

  init() throws {
    var template = Array((NSTemporaryDirectory() + "rollback-atomic-XXXXXX").utf8CString)
    let created = template.withUnsafeMutableBufferPointer { buffer in
      buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
    }
    guard let created else { throw ScratchError.cannotCreate }
    path = created
    chmod(path, 0o755)
  }

  deinit {
    chmod(path, 0o755)
    try? FileManager.default.removeItem(atPath: path)
  }

  func file(_ name: String) -> String { path + "/" + name }

  func write(_ name: String, _ text: String, mode: mode_t = 0o644) throws -> String {
    let target = file(name)
    try Data(text.utf8).write(to: URL(fileURLWithPath: target))
    chmod(target, mode)
    return target
  }

  func names() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: path).sorted()
  }

  enum ScratchError: Error { case cannotCreate }
}

func fileMode(_ path: String) -> mode_t {
  var info = stat()
  return stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
}

func fileText(_ path: String) -> String? {
  (try? Data(contentsOf: URL(fileURLWithPath: path))).map { String(decoding: $0, as: UTF8.self) }
}

/// Runs `body` on this thread with the file-system identity of `nobody`, so that a root test
/// process meets permissions like an ordinary user. `setfsuid` is per thread on Linux and the
/// body runs without suspension, so nothing else is affected. Returns false if not possible.
func asNobody(_ body: () -> Void) -> Bool {
  typealias SetFsUID = @convention(c) (UInt32) -> Int32
  guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "setfsuid") else { return false }
  let setfsuid = unsafeBitCast(symbol, to: SetFsUID.self)
  _ = setfsuid(65534)
  defer { _ = setfsuid(0) }
  guard setfsuid(UInt32.max) == 65534 else { return false }  // -1 only queries
  body()
  return true
}

@Suite("durable atomic file replace")
struct AtomicFileTests {
  @Test("replace keeps mode 0640, returns the previous bytes and leaves no temporary file")
  func keepsMode() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write(".env.local", "NEXT=true\n", mode: 0o640)
    let result = try AtomicFile.replace(path, with: Array("NEXT=false\n".utf8))
    #expect(fileText(path) == "NEXT=false\n")
    #expect(fileMode(path) == 0o640)
    #expect(result.previous == Array("NEXT=true\n".utf8))
    #expect(result.path == (try AtomicFile.resolve(path)))
    #expect(try scratch.names() == [".env.local"])
  }

  @Test("replace keeps the owner", .enabled(if: geteuid() == 0, "only root can give a file away"))
  func keepsOwner() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write(".env", "A=1\n", mode: 0o600)
    #expect(chown(path, 65534, 65534) == 0)
    try AtomicFile.replace(path, with: Array("A=2\n".utf8))
    var info = stat()
    #expect(stat(path, &info) == 0)
    #expect(info.st_uid == 65534)
    #expect(info.st_gid == 65534)
    #expect(info.st_mode & 0o7777 == 0o600)
  }

  @Test("a symlink is followed: the link stays a link and its target changes")
  func followsSymlink() throws {
    let scratch = try ScratchDirectory()
    #expect(mkdir(scratch.file("releases"), 0o755) == 0)
    let target = try scratch.write("releases/.env.production", "NEXT=true\n", mode: 0o640)
    let link = scratch.file(".env.production")
    #expect(symlink("releases/.env.production", link) == 0)
    let result = try AtomicFile.replace(link, with: Array("NEXT=false\n".utf8))
    var info = stat()
    #expect(lstat(link, &info) == 0)
    #expect(info.st_mode & S_IFMT == S_IFLNK)
    #expect(fileText(target) == "NEXT=false\n")
    #expect(fileMode(target) == 0o640)
    #expect(result.path == (try AtomicFile.resolve(target)))
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: scratch.file("releases")) == [".env.production"])
  }

  @Test("a read-only directory gives permissionDenied and leaves the original intact")
  func readOnlyDirectory() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write(".env", "NEXT=true\n", mode: 0o644)
    #expect(chmod(scratch.path, 0o555) == 0)
    var outcome: Result<AtomicFile.Replacement, FileError>?
    var writable = true
    let attempt = {
      writable = AtomicFile.isWritable(path)
      outcome = Result { () throws(FileError) in
        try AtomicFile.replace(path, with: Array("NEXT=false\n".utf8))
      }
    }
    if geteuid() == 0 {
      #expect(asNobody(attempt), "could not take the identity of nobody")
    } else {
      attempt()
    }
    #expect(!writable)
    guard case .failure(let error) = outcome else {
      Issue.record("the replace succeeded in a read-only directory")
      return
    }
    #expect(error == .permissionDenied(path: path, operation: "create a temporary file beside"))
    #expect(error.description.hasPrefix("cannot create a temporary file beside \(path): permission denied"))
    #expect(fileText(path) == "NEXT=true\n")
    #expect(try scratch.names() == [".env"])
  }

  @Test("a missing file is notFound, naming the path")
  func missingFile() throws {
    let scratch = try ScratchDirectory()
    let path = scratch.file(".env.missing")
    #expect(throws: FileError.notFound(path: path)) { try AtomicFile.replace(path, with: [0x41]) }
    #expect(throws: FileError.notFound(path: path)) { try AtomicFile.read(path) }
    #expect(!AtomicFile.isWritable(path))
    #expect(FileError.notFound(path: path).description == "\(path) does not exist; check the path and retry")
  }

  @Test("a file changed since it was read is not overwritten")
  func changedMeanwhile() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write(".env", "NEXT=true\nOTHER=edited\n")
    #expect(throws: FileError.changedMeanwhile(path: path)) {
      try AtomicFile.replace(path, with: Array("NEXT=false\n".utf8), expecting: Array("NEXT=true\n".utf8))
    }
    #expect(fileText(path) == "NEXT=true\nOTHER=edited\n")
    try AtomicFile.replace(
      path, with: Array("NEXT=false\n".utf8), expecting: Array("NEXT=true\nOTHER=edited\n".utf8))
    #expect(fileText(path) == "NEXT=false\n")
    #expect(try scratch.names() == [".env"])
  }

  @Test("bytes that are not UTF-8 survive a round trip")
  func binaryBytes() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write(".env", "")
    let bytes: [UInt8] = [0xEF, 0xBB, 0xBF, 0x41, 0x3D, 0xFF, 0x0D, 0x0A, 0x00, 0x42]
    try AtomicFile.replace(path, with: bytes)
    #expect(try AtomicFile.read(path) == bytes)
  }

  @Test("create makes a new file with its mode and never overwrites one")
  func create() throws {
    let scratch = try ScratchDirectory()
    let path = scratch.file(".env.local")
    try AtomicFile.create(path, with: Array("NEXT=false\n".utf8), mode: 0o640)
    #expect(fileText(path) == "NEXT=false\n")
    #expect(fileMode(path) == 0o640)
    #expect(throws: FileError.other(path: path, errno: EEXIST, operation: "create")) {
      try AtomicFile.create(path, with: Array("NEXT=true\n".utf8))
    }
    #expect(fileText(path) == "NEXT=false\n")
    #expect(try scratch.names() == [".env.local"])
  }

  @Test("a backup holds the previous content, mode 0600, and never overwrites an earlier one")
  func backup() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write(".env.local", "NEXT=true\r\n", mode: 0o644)
    let backups = scratch.file("state/backups")
    let time = Date(timeIntervalSince1970: 1_770_027_300)  // 2026-02-02T10:15:00Z
    let first = try AtomicFile.backup(path: path, to: backups, at: time)
    try AtomicFile.replace(path, with: Array("NEXT=false\r\n".utf8))
    let second = try AtomicFile.backup(path: path, to: backups, at: time)
    #expect(fileText(first) == "NEXT=true\r\n")
    #expect(fileText(second) == "NEXT=false\r\n")
    #expect(fileMode(first) == 0o600)
    #expect(fileMode(backups) == 0o700)
    let stem = AtomicFile.backupStem(for: try AtomicFile.resolve(path), at: time)
    #expect(stem.hasSuffix("_.env.local.20260202T101500Z"))
    #expect(first == backups + "/" + stem + ".bak")
    #expect(second == backups + "/" + stem + ".1.bak")
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: backups).sorted() == [
        stem + ".1.bak", stem + ".bak",
      ])
  }

  @Test("a step run again after a kill reuses the identical backup of its run, never a different one")
  func backupReusedWhenIdentical() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write(".env", "NEXT=true\n", mode: 0o644)
    let other = try scratch.write(".env.local", "NEXT=true\n", mode: 0o644)
    let backups = scratch.file("state/backups/run-1")
    let old = Array("NEXT=true\n".utf8)
    let first = try AtomicFile.backup(
      contents: old, of: path, to: backups, at: Date(timeIntervalSince1970: 1_770_027_300),
      reusingIdentical: true)
    // The same content a second later (the resumed step): the first backup, nothing new.
    let again = try AtomicFile.backup(
      contents: old, of: path, to: backups, at: Date(timeIntervalSince1970: 1_770_027_301),
      reusingIdentical: true)
    #expect(again == first)
    // Other content, or another file with the same content: a backup of its own.
    let changed = try AtomicFile.backup(
      contents: Array("NEXT=false\n".utf8), of: path, to: backups, reusingIdentical: true)
    let otherFile = try AtomicFile.backup(contents: old, of: other, to: backups, reusingIdentical: true)
    #expect(changed != first && otherFile != first && otherFile != changed)
    #expect(fileText(changed) == "NEXT=false\n")
    #expect(try FileManager.default.contentsOfDirectory(atPath: backups).count == 3)
    // Without reuse (rollback flag's shared backups), every call writes a new file.
    _ = try AtomicFile.backup(contents: old, of: path, to: backups)
    #expect(try FileManager.default.contentsOfDirectory(atPath: backups).count == 4)
  }

  @Test("stray temporary files of dead runs are removed, live ones and other files are kept")
  func cleansStrayTemporaryFiles() throws {
    let scratch = try ScratchDirectory()
    let finished = Process()
    finished.executableURL = URL(fileURLWithPath: "/bin/true")
    try finished.run()
    finished.waitUntilExit()
    let deadPid = finished.processIdentifier
    // Genuine temporary files (with their proof), renamed to the names a dead and a live run
    // would have given them; renaming keeps the inode, and so the proof.
    let made = try AtomicFile.createTemporaryFile(beside: scratch.file(".env"), shownAs: ".env")
    close(made.descriptor)
    let stray = scratch.file(".env.rollback-tmp-\(deadPid)-1a2b3c")
    #expect(rename(made.path, stray) == 0)
    let madeLive = try AtomicFile.createTemporaryFile(beside: scratch.file(".env"), shownAs: ".env")
    close(madeLive.descriptor)
    let live = scratch.file(".env.rollback-tmp-\(getpid())-4d5e6f")
    #expect(rename(madeLive.path, live) == 0)
    _ = try scratch.write(".env", "A=1\n")
    _ = try scratch.write(".hidden", "x")
    let removed = try AtomicFile.cleanStrayTempFiles(in: scratch.path)
    #expect(removed == [stray])
    #expect(
      try scratch.names()
        == [".env", live.split(separator: "/").last.map(String.init) ?? "", ".hidden"].sorted())
    #expect(AtomicFile.temporaryFileOwner(".env.rollback-tmp-4242-ff") == 4242)
    #expect(AtomicFile.temporaryFileOwner(".env") == nil)
  }

  @Test(
    "a stray temporary file's pid counts as its live owner only if that process is not younger than the file"
  )
  func strayOwnerByStartTime() throws {
    // This test process is alive; it started a moment ago, after a file changed an hour ago:
    // such a file was made by an earlier process with the same pid (pids wrap), now gone.
    let now = Date().timeIntervalSince1970
    #expect(AtomicFile.ownerLives(getpid(), changedAt: now - 3600) == false)
    // A file changed since this process started may be its own: kept.
    #expect(AtomicFile.ownerLives(getpid(), changedAt: now) == true)
    // A pid no process has: gone.
    #expect(AtomicFile.ownerLives(Int32.max, changedAt: now) == false)
  }

  @Test("errors say what failed, on which path, and what to do")
  func errorDescriptions() {
    #expect(
      FileError.noSpace(path: "/app/.env").description
        == "cannot write /app/.env: no space left on the device; free some space and retry")
    #expect(
      FileError.from(errno: EROFS, path: "/app/.env", operation: "write").description
        == "cannot write /app/.env: read-only file system (errno \(EROFS))")
    #expect(
      FileError.from(errno: EACCES, path: "/x", operation: "read")
        == .permissionDenied(path: "/x", operation: "read"))
    #expect(FileError.from(errno: ENOSPC, path: "/x", operation: "write") == .noSpace(path: "/x"))
  }
}
