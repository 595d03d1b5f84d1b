import Foundation
import Testing

@testable import RollbackSystem

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reading a whole file in one buffer sized by `fstat`, and comparing a file with the bytes an
/// edit was computed from without reading it into a second buffer.
@Suite("reading and comparing whole files")
struct AtomicFileReadTests {
  /// Deterministic bytes of every value, `count` of them.
  static func bytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
    var value = seed
    return (0..<count).map { _ in
      value = value &* 31 &+ 17
      return value
    }
  }

  static func store(_ bytes: [UInt8], in scratch: ScratchDirectory, as name: String = "f") throws -> String {
    let path = scratch.file(name)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// Opens `path` read-only for the body, then closes it.
  static func withDescriptor<T>(_ path: String, _ body: (Int32) throws -> T) throws -> T {
    let descriptor = open(path, O_RDONLY)
    #expect(descriptor >= 0)
    defer { close(descriptor) }
    return try body(descriptor)
  }

  @Test("files of every size read back exactly", arguments: [0, 1, 4095, 4096, 65_536, 65_537, 300_001])
  func readsExactly(_ count: Int) throws {
    let scratch = try ScratchDirectory()
    let expected = Self.bytes(count)
    let path = try Self.store(expected, in: scratch)
    #expect(try AtomicFile.read(path) == expected)
    #expect(try Self.withDescriptor(path) { try Syscall.readAll($0) } == expected)
  }

  @Test("a descriptor whose size fstat does not know (a pipe) is read to its end")
  func readsPastTheStatSize() throws {
    var ends: [Int32] = [0, 0]
    #expect(pipe(&ends) == 0)
    let (reading, writing) = (ends[0], ends[1])
    defer { close(reading) }
    // More than a pipe holds: the writer blocks until the reader drains it.
    let expected = Self.bytes(200_000, seed: 3)
    let writer = Thread {
      var written = 0
      while written < expected.count {
        let count = expected.withUnsafeBytes {
          write(writing, $0.baseAddress.map { $0 + written }, $0.count - written)
        }
        if count <= 0 { break }
        written += count
      }
      close(writing)
    }
    writer.start()
    #expect(try Syscall.readAll(reading) == expected)
  }

  @Test("the comparison with the expected bytes: equal, or any difference in content or length")
  func contentEquals() throws {
    let scratch = try ScratchDirectory()
    let content = Self.bytes(300_001)
    let path = try Self.store(content, in: scratch)
    func equals(_ expected: [UInt8]) throws -> Bool {
      try Self.withDescriptor(path) { try Syscall.contentEquals($0, expected) }
    }
    #expect(try equals(content))
    var flipped = content
    flipped[200_000] ^= 1
    #expect(try !equals(flipped))
    flipped = content
    flipped[300_000] ^= 1
    #expect(try !equals(flipped))
    #expect(try !equals(Array(content.dropLast())))
    #expect(try !equals(content + [0]))
    #expect(try !equals(Array(content.prefix(131_072))))
    #expect(try !equals([]))
    let empty = try Self.store([], in: scratch, as: "empty")
    #expect(try Self.withDescriptor(empty) { try Syscall.contentEquals($0, []) })
    #expect(try !Self.withDescriptor(empty) { try Syscall.contentEquals($0, [0x41]) })
  }

  @Test("a replace that expects bytes refuses a file that only grew, and returns those bytes")
  func replaceExpecting() throws {
    let scratch = try ScratchDirectory()
    let old = Self.bytes(250_000)
    let path = try Self.store(old + Array("EXTRA=1\n".utf8), in: scratch, as: ".env")
    #expect(throws: FileError.changedMeanwhile(path: path)) {
      try AtomicFile.replace(path, with: [0x41], expecting: old)
    }
    #expect(try AtomicFile.read(path) == old + Array("EXTRA=1\n".utf8))
    let result = try AtomicFile.replace(path, with: [0x41], expecting: old + Array("EXTRA=1\n".utf8))
    #expect(result.previous == old + Array("EXTRA=1\n".utf8))
    #expect(try AtomicFile.read(path) == [0x41])
  }
}
