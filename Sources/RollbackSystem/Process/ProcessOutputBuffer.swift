/// Cuts one stream's bytes into lines for the live callback.
///
/// A line is delivered without its `\n` (and without a `\r` before it). A line longer than
/// `maxLineBytes` is delivered in pieces, cut on a UTF-8 character boundary, so a child that
/// never prints a newline cannot grow memory without bound.
struct ProcessLineSplitter {
  /// The longest piece delivered at once.
  let maxLineBytes: Int
  private var pending: [UInt8] = []

  init(maxLineBytes: Int = 16 * 1024) {
    self.maxLineBytes = Swift.max(4, maxLineBytes)
  }

  /// Appends bytes and returns the lines they complete.
  mutating func append(_ bytes: UnsafeRawBufferPointer) -> [String] {
    var lines: [String] = []
    for byte in bytes {
      if byte == UInt8(ascii: "\n") {
        lines.append(Self.text(of: pending[...]))
        pending.removeAll(keepingCapacity: true)
      } else {
        pending.append(byte)
        if pending.count >= maxLineBytes {
          let cut = Self.characterBoundary(in: pending, atOrBefore: pending.count)
          lines.append(Self.text(of: pending[..<cut]))
          pending.removeFirst(cut)
        }
      }
    }
    return lines
  }

  /// The unterminated last line, if any, at the end of the stream.
  mutating func finish() -> String? {
    guard !pending.isEmpty else { return nil }
    defer { pending.removeAll() }
    return Self.text(of: pending[...])
  }

  private static func text(of bytes: ArraySlice<UInt8>) -> String {
    var slice = bytes
    if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
    return String(decoding: slice, as: UTF8.self)
  }

  /// The largest index `<= end` that does not split a UTF-8 sequence (never 0 when `end > 0`).
  private static func characterBoundary(in bytes: [UInt8], atOrBefore end: Int) -> Int {
    var index = end
    // Step back over at most three continuation bytes to the start of the last character.
    var steps = 0
    while index > 0, steps < 4, bytes[index - 1] & 0xC0 == 0x80 {
      index -= 1
      steps += 1
    }
    guard index > 0 else { return end }
    let lead = bytes[index - 1]
    let length: Int
    switch lead {
    case 0xF0...0xF7: length = 4
    case 0xE0...0xEF: length = 3
    case 0xC0...0xDF: length = 2
    default: length = 1
    }
    // A complete character ends exactly at `end`: keep it; otherwise cut before its lead.
    if (index - 1) + length <= end { return end }
    return index - 1 > 0 ? index - 1 : end
  }
}

/// Keeps the last `cap` bytes of the combined output for the journal.
struct ProcessOutputTail {
  /// The most bytes kept.
  let cap: Int
  private var storage: [UInt8] = []
  private(set) var truncated = false

  init(cap: Int) {
    self.cap = Swift.max(0, cap)
  }

  /// Appends one delivered line and its newline.
  mutating func append(line: String) {
    storage.append(contentsOf: line.utf8)
    storage.append(UInt8(ascii: "\n"))
    // Trim only when twice the cap is reached, so appending stays amortised O(1).
    if storage.count > Swift.max(2 * cap, 4096) {
      storage.removeFirst(storage.count - cap)
      truncated = true
    }
  }

  /// The kept tail, starting on a character boundary, and whether anything was dropped.
  func finish() -> (text: String, truncated: Bool) {
    var bytes = storage[...]
    var dropped = truncated
    if bytes.count > cap {
      bytes = bytes.suffix(cap)
      dropped = true
    }
    if dropped {
      // Do not start in the middle of a multi-byte character.
      while let first = bytes.first, first & 0xC0 == 0x80 { bytes = bytes.dropFirst() }
    }
    return (String(decoding: bytes, as: UTF8.self), dropped)
  }
}

/// Splits both streams into lines, hands each to the live callback and keeps the tail.
struct ProcessOutputCollector {
  private var stdoutLines = ProcessLineSplitter()
  private var stderrLines = ProcessLineSplitter()
  private var tail: ProcessOutputTail
  private let onOutput: @Sendable (ProcessStream, String) -> Void

  init(cap: Int, onOutput: @escaping @Sendable (ProcessStream, String) -> Void) {
    tail = ProcessOutputTail(cap: cap)
    self.onOutput = onOutput
  }

  /// Takes bytes read from `stream` and delivers the lines they complete.
  mutating func receive(_ bytes: UnsafeRawBufferPointer, from stream: ProcessStream) {
    let lines: [String]
    switch stream {
    case .stdout: lines = stdoutLines.append(bytes)
    case .stderr: lines = stderrLines.append(bytes)
    }
    for line in lines { deliver(line, from: stream) }
  }

  /// Delivers the unterminated last line of `stream`, if any.
  mutating func finish(_ stream: ProcessStream) {
    let last: String?
    switch stream {
    case .stdout: last = stdoutLines.finish()
    case .stderr: last = stderrLines.finish()
    }
    if let last { deliver(last, from: stream) }
  }

  /// The captured tail and whether it was truncated.
  func captured() -> (text: String, truncated: Bool) {
    tail.finish()
  }

  private mutating func deliver(_ line: String, from stream: ProcessStream) {
    tail.append(line: line)
    onOutput(stream, line)
  }
}
