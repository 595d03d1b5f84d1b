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
    let directory = (path as NSString).deletingLastPathComponent
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
    self.path = path
    self.descriptor = fd
    self.redact = redact
  }

  deinit { close(descriptor) }

  /// Writes one event, redacted, and fsyncs it.
  public func append(_ event: JSONValue) throws(JournalError) {
    let line = redact(event.rendered()) + "\n"
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
  public static func events(at path: String) throws(JournalError) -> [[String: Any]] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .notFound("no journal at \(path)")
    }
    return data.split(separator: UInt8(ascii: "\n")).compactMap { line in
      (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
    }
  }

  /// Run ids in the state directory, oldest first.
  public static func runIDs(stateDirectory: String) -> [String] {
    let directory = (stateDirectory as NSString).appendingPathComponent("runs")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.filter { $0.hasSuffix(".jsonl") }.map { String($0.dropLast(6)) }.sorted()
  }

  /// The journal path of a run.
  public static func path(stateDirectory: String, runID: String) -> String {
    ((stateDirectory as NSString).appendingPathComponent("runs") as NSString).appendingPathComponent(
      "\(runID).jsonl")
  }
}

/// Run identifiers: `20260202T101500Z-3f2a`, sortable by time.
public enum RunID {
  /// A new id for now.
  public static func make(at date: Date = Date()) -> String {
    "\(Timestamp.compact(date))-\(String(format: "%04x", UInt16.random(in: 0...UInt16.max)))"
  }
}

/// Time formats used in journals and reports.
public enum Timestamp {
  /// `2026-02-02T10:15:00.123Z`.
  public static func iso(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
  }

  /// `20260202T101500Z`.
  public static func compact(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.locale = Locale(identifier: "en_US_POSIX")
    return formatter.string(from: date)
  }

  /// Parses an ISO time written by ``iso(_:)``.
  public static func parse(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
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
