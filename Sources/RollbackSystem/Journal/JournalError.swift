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
