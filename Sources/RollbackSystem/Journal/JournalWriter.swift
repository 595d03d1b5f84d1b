import Foundation
import RollbackCore

#if canImport(Glibc)
  import Glibc
#endif

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

  /// Writes one event, its string values redacted, and fsyncs it.
  public func append(_ event: JournalEvent) throws(JournalError) {
    let line = event.json.mappingStrings(redact).rendered() + "\n"
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
