import Testing

@testable import RollbackSystem

/// Feeds `text` to a splitter in pieces of `piece` bytes and returns every line.
private func split(_ text: String, piece: Int, maxLineBytes: Int = 16 * 1024) -> [String] {
  var splitter = ProcessLineSplitter(maxLineBytes: maxLineBytes)
  var lines: [String] = []
  let bytes = Array(text.utf8)
  var start = 0
  while start < bytes.count {
    let end = Swift.min(bytes.count, start + piece)
    bytes[start..<end].withUnsafeBytes { lines += splitter.append($0) }
    start = end
  }
  if let last = splitter.finish() { lines.append(last) }
  return lines
}

@Suite("Process output buffering")
struct ProcessOutputBufferTests {
  @Test("lines are cut at newlines whatever the read sizes, CRLF included")
  func linesAcrossReads() {
    let text = "alpha\r\nbeta\n\ngamma"
    for piece in [1, 2, 3, 7, 100] {
      #expect(split(text, piece: piece) == ["alpha", "beta", "", "gamma"])
    }
  }

  @Test("an overlong line is delivered in pieces that never split a character")
  func overlongLine() {
    let text = String(repeating: "é", count: 50) + "\n"  // 100 bytes of two-byte characters
    for piece in [1, 5, 64] {
      let lines = split(text, piece: piece, maxLineBytes: 7)
      #expect(lines.joined() == String(repeating: "é", count: 50))
      #expect(lines.allSatisfy { !$0.contains("\u{FFFD}") && $0.utf8.count <= 7 })
    }
  }

  @Test("the tail keeps the last bytes and marks the drop")
  func tail() {
    var tail = ProcessOutputTail(cap: 8)
    for number in 1...5000 { tail.append(line: String(number)) }
    let (text, truncated) = tail.finish()

    #expect(truncated)
    #expect(text == "99\n5000\n")

    var small = ProcessOutputTail(cap: 100)
    small.append(line: "short")
    #expect(small.finish() == ("short\n", false))
  }

  @Test("a zero cap keeps nothing but says output was dropped")
  func zeroCap() {
    var tail = ProcessOutputTail(cap: 0)
    tail.append(line: "x")
    #expect(tail.finish() == ("", true))
  }
}
