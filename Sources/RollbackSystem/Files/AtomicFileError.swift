#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why a file could not be read, replaced, backed up or locked.
///
/// Every case names the path the person at the keyboard cares about (the flag file, not the
/// temporary file beside it) and says what to try next.
public enum FileError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The file (or its directory) does not exist.
  case notFound(path: String)
  /// The operation was refused by permissions (`EACCES`, `EPERM`).
  case permissionDenied(path: String, operation: String)
  /// The disk or the quota is full (`ENOSPC`, `EDQUOT`).
  case noSpace(path: String)
  /// The file changed between reading it and replacing it.
  case changedMeanwhile(path: String)
  /// Any other failure, with the `errno` and the operation that failed.
  case other(path: String, errno: Int32, operation: String)
  /// The edit was refused before anything was written, for `reason` (not a regular file, more
  /// than one hard link, an untrusted symlink, attributes that cannot be kept).
  case refused(path: String, reason: String)

  /// A short lowercase message: what failed, on which path, and what to do.
  public var description: String {
    switch self {
    case .notFound(let path):
      return "\(path) does not exist; check the path and retry"
    case .permissionDenied(let path, let operation):
      return "cannot \(operation) \(path): permission denied; run as a user who may write it "
        + "(file and directory) or fix its permissions, then retry"
    case .noSpace(let path):
      return "cannot write \(path): no space left on the device; free some space and retry"
    case .changedMeanwhile(let path):
      return "\(path) changed while it was being edited; nothing written; check its content and retry"
    case .other(let path, let code, let operation):
      return "cannot \(operation) \(path): \(Self.text(of: code)) (errno \(code))"
    case .refused(let path, let reason):
      return "refusing to edit \(path): \(reason); nothing written"
    }
  }

  /// The error for a failed system call, by `errno`.
  static func from(errno code: Int32, path: String, operation: String) -> FileError {
    switch code {
    case ENOENT: return .notFound(path: path)
    case EACCES, EPERM: return .permissionDenied(path: path, operation: operation)
    case ENOSPC, EDQUOT: return .noSpace(path: path)
    default: return .other(path: path, errno: code, operation: operation)
    }
  }

  /// The error for the system call that just failed, reading `errno`.
  static func last(path: String, operation: String) -> FileError {
    from(errno: errno, path: path, operation: operation)
  }

  private static func text(of code: Int32) -> String {
    guard let message = strerror(code) else { return "unknown error" }
    let text = String(cString: message)
    return text.prefix(1).lowercased() + text.dropFirst()
  }
}
