import Dispatch
import Foundation
import RollbackCore
import RollbackSystem

/// Turns SIGINT and SIGTERM into a callback; a second signal exits at once with 130.
final class StopSignals: @unchecked Sendable {
  private let lock = NSLock()
  private var sources: [any DispatchSourceSignal] = []
  private var received = 0

  /// Starts listening; `onStop` runs on the first signal.
  func install(_ onStop: @escaping @Sendable () -> Void) {
    lock.lock()
    defer { lock.unlock() }
    for number in [SIGINT, SIGTERM] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { [self] in
        lock.lock()
        received += 1
        let count = received
        lock.unlock()
        if count > 1 { exit(ExitStatus.interrupted.rawValue) }
        onStop()
      }
      source.resume()
      sources.append(source)
    }
  }

  /// Stops listening and restores the default dispositions.
  func remove() {
    lock.lock()
    defer { lock.unlock() }
    sources.forEach { $0.cancel() }
    sources.removeAll()
    signal(SIGINT, SIG_DFL)
    signal(SIGTERM, SIG_DFL)
  }
}
