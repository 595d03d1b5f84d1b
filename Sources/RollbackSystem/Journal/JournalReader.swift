import Foundation
import RollbackCore

#if canImport(Glibc)
  import Glibc
#endif

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
    guard var summary = RunSummary.parse(try events(at: path, kinds: RunSummary.eventKinds)) else {
      return nil
    }
    // A run without its end: its hosts are read from the per-host step events (a second pass,
    // made only for such runs).
    if summary.status == "in progress" {
      summary.deriveHosts(from: try events(at: path, kinds: RunSummary.hostEventKinds))
    }
    return summary
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
    openIntegrations = OpenIntegrations(progress.integrations)
    hostsFinished = progress.hostsFinished
  }
}
