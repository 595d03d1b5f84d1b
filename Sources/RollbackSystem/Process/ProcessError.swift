#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why a child process could not be started. Nothing ran when one of these is thrown.
///
/// How a started process ended (any exit status, a signal, a timeout) is a
/// ``ProcessOutcome``, never an error.
public enum ProcessError: Error, Sendable, Equatable, CustomStringConvertible {
  /// No executable file by this name: not in the environment's `PATH`, or no file at the
  /// given path. An empty name means the argument vector was empty.
  case executableNotFound(name: String)
  /// The file exists but is not an executable regular file.
  case notExecutable(path: String)
  /// The working directory does not exist or is not a directory.
  case cwdMissing(path: String)
  /// `posix_spawn` (or the pipes it needs) failed with this errno.
  case spawnFailed(errno: Int32)
  /// A command on another host could not be run there (ssh could not reach it, timed out, …);
  /// the text names the host.
  case remote(String)

  /// A lowercase explanation that says what to fix.
  public var description: String {
    switch self {
    case .executableNotFound(let name) where name.isEmpty:
      return "empty command: give the program to run"
    case .executableNotFound(let name):
      return "executable not found: \(name) (check the name, or the PATH in the step's environment)"
    case .notExecutable(let path):
      return "not executable: \(path) (make it executable with chmod +x, or run it through its interpreter)"
    case .cwdMissing(let path):
      return "working directory missing: \(path) (create it or fix the step's cwd)"
    case .spawnFailed(let code):
      return "could not start the process: \(Self.message(for: code)) (errno \(code))"
    case .remote(let text):
      return text
    }
  }

  private static func message(for code: Int32) -> String {
    guard let text = strerror(code) else { return "unknown error" }
    return String(cString: text).lowercased()
  }
}
