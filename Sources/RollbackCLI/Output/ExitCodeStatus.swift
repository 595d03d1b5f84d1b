import ArgumentParser
import RollbackCore

extension ExitCode {
  /// The exit code of a named status.
  init(_ status: ExitStatus) {
    self.init(status.rawValue)
  }
}
