import Foundation
import Testing

@testable import RollbackSystem

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Another writer acting in the last instant of an edit, after its final check and before its
/// new file takes the original's place: the writer's content is kept and the edit is refused.
@Suite("an outside writer in the instant before the swap")
struct AtomicFileSwapTests {
  static let old = Array("A=true\nB=old\n".utf8)
  static let ours = Array("A=false\nB=old\n".utf8)
  static let theirs = Array("A=true\nB=theirs\n".utf8)

  @Test("a file renamed into place just before the swap (an editor's save) is put back; the edit is refused")
  func renamedIntoPlace() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write("app.env", String(decoding: Self.old, as: UTF8.self))
    #expect(throws: FileError.changedMeanwhile(path: path)) {
      try AtomicFile.replace(path, with: Self.ours, expecting: Self.old) { _ in
        let saved = scratch.file("app.env.swp")
        try? Data(Self.theirs).write(to: URL(fileURLWithPath: saved))
        rename(saved, path)
      }
    }
    #expect(try AtomicFile.read(path) == Self.theirs)
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["app.env"])
  }

  @Test(
    "a process that opens the file for writing just before the swap and writes later writes into the file in place"
  )
  func openedForWritingBeforeTheSwap() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write("app.env", String(decoding: Self.old, as: UTF8.self))
    // Opens the file (the original) for writing, then writes a moment later: by then a plain
    // rename would have put the new file in place and the write would go to the old inode.
    let writer = Process()
    writer.executableURL = URL(fileURLWithPath: "/bin/sh")
    writer.arguments = ["-c", "exec 3<>\"$0\"; sleep 0.3; printf 'A=true\\nB=theirs\\n' >&3", path]
    #expect(throws: FileError.changedMeanwhile(path: path)) {
      try AtomicFile.replace(path, with: Self.ours, expecting: Self.old) { descriptor in
        try? writer.run()
        // The writer's open breaks the edit's lease (and waits for the edit to end).
        let deadline = Date().addingTimeInterval(10)
        while FileLease.isIntact(descriptor), Date() < deadline { usleep(2000) }
      }
    }
    writer.waitUntilExit()
    #expect(writer.terminationStatus == 0)
    #expect(try AtomicFile.read(path) == Self.theirs)
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["app.env"])
  }

  @Test("without another writer the swap replaces the file and leaves nothing beside it")
  func plainSwap() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write("app.env", String(decoding: Self.old, as: UTF8.self), mode: 0o640)
    // At the swap the original already carries the proof of a temporary file: killed right
    // after the swap, it is left under the temporary name, and only a proven file is cleaned.
    var proofAtSwap: String?
    var inode: UInt64 = 0
    let result = try AtomicFile.replace(path, with: Self.ours, expecting: Self.old) { descriptor in
      inode = (try? Syscall.status(descriptor)).map { UInt64($0.st_ino) } ?? 0
      proofAtSwap = (try? Syscall.attribute(descriptor, AtomicFile.temporaryProofAttribute))
        .map { String(decoding: $0, as: UTF8.self) }
    }
    #expect(proofAtSwap == String(inode))
    // The file in place keeps no proof.
    let placed = try Syscall.open(path, O_RDONLY)
    defer { close(placed) }
    #expect((try? Syscall.attribute(placed, AtomicFile.temporaryProofAttribute)) == nil)
    #expect(result.previous == Self.old)
    #expect(try AtomicFile.read(path) == Self.ours)
    #expect(Syscall.fileStatus(path).map { $0.st_mode & 0o777 } == 0o640)
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["app.env"])
  }
}
