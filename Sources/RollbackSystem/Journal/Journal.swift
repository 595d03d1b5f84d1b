import Foundation
import RollbackCore

#if canImport(Glibc)
  import Glibc
#endif

/// Problems with the run journal.
public enum JournalError: Error, Sendable, CustomStringConvertible {
  /// The journal could not be opened or written.
  case io(path: String, operation: String, errno: Int32)
  /// No run matches.
  case notFound(String)

  /// A lowercase description naming the file.
  public var description: String {
    switch self {
    case .io(let path, let operation, let code):
      return "cannot \(operation) journal \(path): \(String(cString: strerror(code)))"
    case .notFound(let what): return what
    }
  }
}

/// Appends one fsynced JSON line per event to `STATE/runs/RUN_ID.jsonl`.
public final class JournalWriter: @unchecked Sendable {
  /// The journal file.
  public let path: String
  private let descriptor: Int32
  private let lock = NSLock()
  private let redact: @Sendable (String) -> String

  /// Opens (creating) the journal for appending.
  public init(path: String, redact: @escaping @Sendable (String) -> String) throws(JournalError) {
    let directory = Syscall.directoryName(path)
    do {
      try Syscall.makeDirectories(directory, mode: 0o700)
    } catch {
      throw .io(path: directory, operation: "create the directory", errno: error.code)
    }
    // Never through a symlink, never anything but a regular file (a FIFO would block).
    let fd: Int32
    do {
      fd = try Syscall.openRegular(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o600, noFollow: true)
        .descriptor
    } catch {
      throw .io(path: path, operation: "open (a regular file, not a symlink)", errno: error.code)
    }
    // The journal's name is durable before its first event is.
    do {
      try Syscall.syncDirectory(directory)
    } catch  where error.code == EACCES {
      // Writable but unreadable: the directory cannot be opened to sync.
    } catch {
      close(fd)
      throw .io(path: directory, operation: "fsync", errno: error.code)
    }
    self.path = path
    self.descriptor = fd
    self.redact = redact
  }

  deinit { close(descriptor) }

  /// Writes one event, redacted, and fsyncs it.
  public func append(_ event: JournalEvent) throws(JournalError) {
    let line = redact(event.json.rendered()) + "\n"
    lock.lock()
    defer { lock.unlock() }
    let bytes = Array(line.utf8)
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
      if written < 0 {
        if errno == EINTR { continue }
        throw .io(path: path, operation: "write", errno: errno)
      }
      offset += written
    }
    if fsync(descriptor) != 0 { throw .io(path: path, operation: "fsync", errno: errno) }
  }
}

/// Reads journals back.
public enum JournalReader {
  /// The events of one journal, in order; a torn last line (a run killed mid-write) is ignored.
  public static func events(at path: String) throws(JournalError) -> [JournalEvent] {
    try withContents(of: path) { bytes in
      var events: [JournalEvent] = []
      forEachLine(in: bytes) { line in
        if let event = object(line) { events.append(event) }
      }
      return events
    }
  }

  /// The events of one journal whose `event` is one of `kinds`, in order, as ``events(at:)``
  /// would return them with the others filtered out.
  ///
  /// A line is parsed as JSON only when its bytes may name one of the kinds: when it holds one
  /// of them quoted (`"run-started"`), or a `\u` escape that might spell one. A kind holding a
  /// character JSON may write with another escape (a quote, a backslash, a slash, a control
  /// character) turns the check off, and every line is parsed.
  public static func events(at path: String, kinds: Set<String>) throws(JournalError) -> [JournalEvent] {
    let needles = prefilter(kinds)
    return try withContents(of: path) { bytes in
      var events: [JournalEvent] = []
      forEachLine(in: bytes) { line in
        if let needles, !mayName(needles, line) { return }
        guard let event = object(line), let kind = event.kind, kinds.contains(kind) else {
          return
        }
        events.append(event)
      }
      return events
    }
  }

  /// The run's summary (what `history` lists), reading as JSON only the lines that may be one of
  /// ``RunSummary/eventKinds``; nil without a run-started event. The same as
  /// `RunReport.parse(events(at: path))?.summary`.
  public static func summary(at path: String) throws(JournalError) -> RunSummary? {
    RunSummary.parse(try events(at: path, kinds: RunSummary.eventKinds))
  }

  /// Run ids in the state directory, oldest first.
  public static func runIDs(stateDirectory: String) -> [String] {
    let directory = StateDirectory(path: stateDirectory).runsPath
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.filter { $0.hasSuffix(".jsonl") }.map { String($0.dropLast(6)) }.sorted()
  }

  /// The journal path of a run.
  public static func path(stateDirectory: String, runID: String) -> String {
    StateDirectory(path: stateDirectory).journalPath(runID: runID)
  }

  /// Calls `body` with the whole file; `notFound` when it cannot be opened or read.
  private static func withContents<Result>(
    of path: String, _ body: (UnsafeRawBufferPointer) -> Result
  ) throws(JournalError) -> Result {
    let bytes: [UInt8]
    do {
      let descriptor = try Syscall.openRegular(path, O_RDONLY, noFollow: true).descriptor
      defer { close(descriptor) }
      bytes = try Syscall.readAll(descriptor)
    } catch {
      throw .notFound("no journal at \(path)")
    }
    return bytes.withUnsafeBytes(body)
  }

  /// Calls `body` with each non-empty line, without its newline (`Data.split` on `\n`).
  private static func forEachLine(in bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void)
  {
    guard let base = bytes.baseAddress else { return }
    var start = 0
    while start < bytes.count {
      let end: Int
      if let newline = memchr(base + start, 0x0A, bytes.count - start) {
        end = base.distance(to: UnsafeRawPointer(newline))
      } else {
        end = bytes.count
      }
      if end > start { body(UnsafeRawBufferPointer(start: base + start, count: end - start)) }
      start = end + 1
    }
  }

  /// The line as a journal event, nil when it is not a JSON object (a torn line).
  private static func object(_ line: UnsafeRawBufferPointer) -> JournalEvent? {
    guard let base = line.baseAddress else { return nil }
    return JournalEvent.decode(line: Data(bytes: base, count: line.count))
  }

  /// Each kind quoted, as bytes; nil when some kind could be written only escaped.
  private static func prefilter(_ kinds: Set<String>) -> [[UInt8]]? {
    var needles: [[UInt8]] = []
    for kind in kinds {
      let bytes = Array(kind.utf8)
      if bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x2F || $0 == 0x5C }) { return nil }
      needles.append([0x22] + bytes + [0x22])
    }
    return needles
  }

  /// Whether the line holds one of the quoted kinds, or a `\u` escape.
  private static func mayName(_ needles: [[UInt8]], _ line: UnsafeRawBufferPointer) -> Bool {
    guard let base = line.baseAddress else { return false }
    let count = line.count
    var index = 0
    while index + 1 < count {
      let byte = line[index]
      if byte == 0x5C, line[index + 1] == 0x75 { return true }
      if byte == 0x22 {
        for needle in needles where needle.count <= count - index && needle[1] == line[index + 1] {
          let same = needle.withUnsafeBytes { bytes in
            bytes.baseAddress.map { memcmp(base + index, $0, bytes.count) == 0 } ?? false
          }
          if same { return true }
        }
      }
      index += 1
    }
    return false
  }
}

extension ResumePoint {
  /// The resume point of run `runID` from its journal's progress; when the start time cannot
  /// be read, now.
  public init(runID: String, progress: JournalProgress) {
    self.init(
      runID: runID, finished: progress.finished, unfinished: progress.unfinished,
      startedAt: progress.start.startedAt.flatMap(Timestamp.parse) ?? Date())
  }
}

/// Run identifiers: `20260202T101500Z-3f2a`, sortable by time.
public enum RunID {
  /// A new id for now.
  public static func make(at date: Date = Date()) -> String {
    "\(Timestamp.compact(date))-\(String(format: "%04x", UInt16.random(in: 0...UInt16.max)))"
  }
}

/// Time formats used in journals and reports, always in UTC.
///
/// Written with the C library's calendar functions rather than Foundation's formatters: a
/// run writes a few dozen timestamps, and `rollback history` parses one per journal.
public enum Timestamp {
  /// `2026-02-02T10:15:00.123Z`; without `fractional`, `2026-02-02T10:15:00Z`.
  public static func iso(_ date: Date, fractional: Bool = true) -> String {
    let (fields, millis) = utc(date)
    var text = pad(Int(fields.tm_year) + 1900, 4) + "-" + pad(Int(fields.tm_mon) + 1, 2) + "-"
    text += pad(Int(fields.tm_mday), 2) + "T" + pad(Int(fields.tm_hour), 2) + ":"
    text += pad(Int(fields.tm_min), 2) + ":" + pad(Int(fields.tm_sec), 2)
    if fractional { text += "." + pad(millis, 3) }
    return text + "Z"
  }

  /// `20260202T101500Z`.
  public static func compact(_ date: Date) -> String {
    let (fields, _) = utc(date)
    return pad(Int(fields.tm_year) + 1900, 4) + pad(Int(fields.tm_mon) + 1, 2) + pad(Int(fields.tm_mday), 2)
      + "T" + pad(Int(fields.tm_hour), 2) + pad(Int(fields.tm_min), 2) + pad(Int(fields.tm_sec), 2) + "Z"
  }

  /// Parses an ISO 8601 time as ``iso(_:fractional:)`` writes it: `YYYY-MM-DDTHH:MM:SS`, any
  /// fraction of a second, then `Z` or an offset `±HH:MM`. Nil for anything else.
  public static func parse(_ text: String) -> Date? {
    let bytes = Array(text.utf8)
    var index = 0
    func number(_ digits: Int) -> Int? {
      guard index + digits <= bytes.count else { return nil }
      var value = 0
      for byte in bytes[index..<index + digits] {
        guard byte >= 48, byte <= 57 else { return nil }
        value = value * 10 + Int(byte - 48)
      }
      index += digits
      return value
    }
    func expect(_ character: UInt8) -> Bool {
      guard index < bytes.count, bytes[index] == character else { return false }
      index += 1
      return true
    }
    guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
      expect(84) || expect(116), let hour = number(2), expect(58), let minute = number(2), expect(58),
      let second = number(2),
      (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
    else { return nil }
    var fraction = 0.0
    if expect(46) {
      var scale = 0.1
      let first = index
      while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
        fraction += Double(bytes[index] - 48) * scale
        scale /= 10
        index += 1
      }
      guard index > first else { return nil }
    }
    var offset = 0
    if expect(90) || expect(122) {
      offset = 0
    } else if index < bytes.count, bytes[index] == 43 || bytes[index] == 45 {
      let sign = bytes[index] == 45 ? -1 : 1
      index += 1
      guard let hours = number(2), expect(58), let minutes = number(2), hours < 24, minutes < 60 else {
        return nil
      }
      offset = sign * (hours * 3600 + minutes * 60)
    } else {
      return nil
    }
    guard index == bytes.count else { return nil }
    var fields = tm()
    fields.tm_year = Int32(year - 1900)
    fields.tm_mon = Int32(month - 1)
    fields.tm_mday = Int32(day)
    fields.tm_hour = Int32(hour)
    fields.tm_min = Int32(minute)
    fields.tm_sec = Int32(second)
    let seconds = timegm(&fields)
    return Date(timeIntervalSince1970: Double(seconds - offset) + fraction)
  }

  private static func utc(_ date: Date) -> (tm, Int) {
    // To the nearest millisecond: a Date's Double cannot hold .123 exactly.
    let total = Int64((date.timeIntervalSince1970 * 1000).rounded())
    let (quotient, remainder) = total.quotientAndRemainder(dividingBy: 1000)
    var seconds = time_t(remainder < 0 ? quotient - 1 : quotient)
    let millis = Int(remainder < 0 ? remainder + 1000 : remainder)
    var fields = tm()
    gmtime_r(&seconds, &fields)
    return (fields, millis)
  }

  private static func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
  }
}

/// A content hash of a runbook, to notice that it changed between a run and its resume (FNV-1a, 64 bit).
public enum ContentHash {
  /// The hash as 16 hex digits.
  public static func of(_ bytes: some Sequence<UInt8>) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01b3
    }
    return String(format: "%016llx", hash)
  }
}
