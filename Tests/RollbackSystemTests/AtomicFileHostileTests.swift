import Foundation
import Testing

@testable import RollbackSystem

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Runs a command, returning its exit status and standard output.
private func command(_ arguments: [String]) throws -> (status: Int32, output: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = FileHandle.nullDevice
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

private func hasSetfacl() -> Bool {
  FileManager.default.isExecutableFile(atPath: "/usr/bin/setfacl")
}

@Suite("editing hostile files: FIFOs, hard links, ACLs, xattrs, planted symlinks, look-alike temp files")
struct AtomicFileHostileTests {
  @Test("a FIFO in place of the file is refused at once, naming it, and nothing is written")
  func fifoRefused() throws {
    let scratch = try ScratchDirectory()
    let path = scratch.file(".env")
    #expect(mkfifo(path, 0o644) == 0)
    let started = Date()
    #expect(throws: FileError.refused(path: path, reason: "it is a FIFO (named pipe), not a regular file")) {
      try AtomicFile.read(path)
    }
    #expect(throws: FileError.refused(path: path, reason: "it is a FIFO (named pipe), not a regular file")) {
      try AtomicFile.replace(path, with: Array("A=1\n".utf8))
    }
    #expect(Date().timeIntervalSince(started) < 1)
    #expect(
      FileError.refused(path: path, reason: "it is a FIFO (named pipe), not a regular file").description
        == "refusing to edit \(path): it is a FIFO (named pipe), not a regular file; nothing written")
    var info = stat()
    #expect(lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
    #expect(try scratch.names() == [".env"])
  }

  @Test("the journal and the lock file refuse a FIFO and a symlink instead of blocking or following")
  func stateFilesNeverThroughSymlinks() throws {
    let scratch = try ScratchDirectory()
    let elsewhere = try scratch.write("elsewhere", "untouched\n")
    let journal = scratch.file("run.jsonl")
    #expect(symlink(elsewhere, journal) == 0)
    #expect(throws: JournalError.self) { try JournalWriter(path: journal, redact: { $0 }) }
    let lockPath = scratch.file("lock")
    #expect(symlink(elsewhere, lockPath) == 0)
    #expect(throws: LockError.self) { try FileLock.acquire(at: lockPath, runID: "r") }
    let fifo = scratch.file("fifo-lock")
    #expect(mkfifo(fifo, 0o644) == 0)
    #expect(throws: LockError.self) { try FileLock.acquire(at: fifo, runID: "r") }
    #expect(fileText(elsewhere) == "untouched\n")
  }

  @Test("a file with two hard links is refused with the reason, and both names keep their content")
  func hardLinkRefused() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write(".env", "FLAG=true\n")
    #expect(link(path, scratch.file("copy.env")) == 0)
    do {
      try AtomicFile.replace(path, with: Array("FLAG=false\n".utf8), expecting: Array("FLAG=true\n".utf8))
      Issue.record("a hard-linked file was replaced")
    } catch {
      guard case .refused(let shown, let reason) = error else {
        Issue.record("unexpected error \(error)")
        return
      }
      #expect(shown == path)
      #expect(reason.contains("2 hard links"))
      #expect(error.description.hasSuffix("nothing written"))
    }
    #expect(fileText(path) == "FLAG=true\n")
    #expect(fileText(scratch.file("copy.env")) == "FLAG=true\n")
    #expect(try scratch.names() == [".env", "copy.env"])
  }

  @Test(
    "a POSIX ACL set with setfacl and a user.* xattr survive a replace",
    .enabled(if: hasSetfacl(), "needs setfacl (Debian package acl)"))
  func aclAndXattrsKept() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write(".env", "FLAG=true\n", mode: 0o600)
    let set = try command(["setfacl", "-m", "u:65534:r", path])
    #expect(set.status == 0)
    let value = Array("kept".utf8)
    let opened = try Syscall.openRegular(path, O_RDONLY)
    try Syscall.setAttribute(opened.descriptor, "user.origin", value)
    close(opened.descriptor)
    let before = try command(["getfacl", "-c", path])
    #expect(before.output.contains("user:nobody:r--"))

    try AtomicFile.replace(path, with: Array("FLAG=false\n".utf8), expecting: Array("FLAG=true\n".utf8))

    #expect(fileText(path) == "FLAG=false\n")
    let after = try command(["getfacl", "-c", path])
    #expect(after.status == 0)
    #expect(after.output == before.output)
    let reopened = try Syscall.openRegular(path, O_RDONLY)
    defer { close(reopened.descriptor) }
    #expect(try Syscall.attribute(reopened.descriptor, "user.origin") == value)
    let names = try Syscall.attributeNames(reopened.descriptor)
    #expect(names.contains("system.posix_acl_access"))
    #expect(!names.contains(AtomicFile.temporaryProofAttribute))
    #expect(try scratch.names() == [".env"])
  }

  @Test(
    "as root, a symlink planted by another user towards root's file is refused; root's own link is followed",
    .enabled(if: geteuid() == 0, "needs root to give the link away"))
  func plantedSymlinkRefused() throws {
    let scratch = try ScratchDirectory()
    #expect(mkdir(scratch.file("app"), 0o755) == 0)
    #expect(chown(scratch.file("app"), 65534, 65534) == 0)
    let secret = try scratch.write("shadow", "root:secret\n", mode: 0o600)
    let planted = scratch.file("app/.env")
    #expect(symlink(secret, planted) == 0)
    #expect(lchown(planted, 65534, 65534) == 0)
    do {
      try AtomicFile.replace(planted, with: Array("FLAG=false\n".utf8))
      Issue.record("the planted symlink was followed")
    } catch {
      guard case .refused(let shown, let reason) = error else {
        Issue.record("unexpected error \(error)")
        return
      }
      #expect(shown == planted)
      #expect(reason.contains("uid 65534"))
    }
    #expect(fileText(secret) == "root:secret\n")
    #expect(throws: FileError.self) { try AtomicFile.resolve(planted) }
    #expect(throws: FileError.self) { try AtomicFile.read(planted) }
    // A link owned by the target's owner is followed.
    #expect(lchown(planted, 0, 0) == 0)
    try AtomicFile.replace(planted, with: Array("root:changed\n".utf8))
    #expect(fileText(secret) == "root:changed\n")
  }

  @Test("the stray-temp cleanup keeps a look-alike someone else made, even of a dead pid")
  func lookAlikeSurvives() throws {
    let scratch = try ScratchDirectory()
    let finished = Process()
    finished.executableURL = URL(fileURLWithPath: "/bin/true")
    try finished.run()
    finished.waitUntilExit()
    let deadPid = finished.processIdentifier
    let lookAlike = try scratch.write(".env.rollback-tmp-\(deadPid)-abcdef", "someone's data\n")
    // Even a copy of a genuine temporary file (proof attribute included, as `cp -a` does) is
    // not ours: its inode differs. (The genuine one, named after this live process, stays.)
    let made = try AtomicFile.createTemporaryFile(beside: scratch.file(".env"), shownAs: ".env")
    close(made.descriptor)
    let proof = try Syscall.openRegular(made.path, O_RDONLY)
    let value = try Syscall.attribute(proof.descriptor, AtomicFile.temporaryProofAttribute)
    close(proof.descriptor)
    let copy = try scratch.write(".env.rollback-tmp-\(deadPid)-123456", "a copy\n")
    let opened = try Syscall.openRegular(copy, O_RDONLY)
    try Syscall.setAttribute(opened.descriptor, AtomicFile.temporaryProofAttribute, value)
    close(opened.descriptor)

    let removed = try AtomicFile.cleanStrayTempFiles(in: scratch.path)
    #expect(removed.isEmpty)
    #expect(fileText(lookAlike) == "someone's data\n")
    #expect(fileText(copy) == "a copy\n")
    #expect(FileManager.default.fileExists(atPath: made.path))
  }

  @Test("an edit waits for the edit lock another editor holds on the file's directory")
  func editLockSerialises() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write(".env", "A=1\n")
    let held = try AtomicFileEditLock.acquire(for: [path])
    #expect(throws: FileError.self) {
      try AtomicFileEditLock.acquire(for: [scratch.file("other.env")], timeout: 0.2)
    }
    held.release()
    let again = try AtomicFileEditLock.acquire(for: [path], timeout: 0.2)
    again.release()
  }
}
