import Dispatch
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Turns SIGINT and SIGTERM into a single call of a handler, so the CLI can cancel its task
/// tree, journal `interrupted`, release the lock and exit 130 instead of dying mid-step.
///
/// The signals' default action (terminate) is replaced with `SIG_IGN`, then a
/// `DispatchSource` delivers them on a private queue. Only the first signal calls the
/// handler; later ones are recorded as ignored, since the teardown they would ask for is
/// already under way and bounded by the step's grace. The trap lasts until ``cancel()``;
/// after that the signals stay ignored.
///
/// Children started by ``ProcessRunner`` get every signal back at its default action.
public final class SignalTrap: @unchecked Sendable {
  private let lock = NSLock()
  private var first: Int32?
  private var count = 0
  private var sources: [any DispatchSourceSignal] = []
  private let handler: @Sendable (Int32) -> Void
  private let onRepeat: (@Sendable (Int32) -> Void)?
  private let queue = DispatchQueue(label: "rollback.signal-trap")

  private init(handler: @escaping @Sendable (Int32) -> Void, onRepeat: (@Sendable (Int32) -> Void)?) {
    self.handler = handler
    self.onRepeat = onRepeat
  }

  /// Installs the trap and returns it; keep it for as long as signals should be trapped.
  ///
  /// - Parameters:
  ///   - signals: the signals to trap; SIGINT and SIGTERM by default.
  ///   - handler: called once, on a private queue, with the first signal received.
  ///   - onRepeat: called with each later signal (for example, to exit at once on a second
  ///     Ctrl-C when there is nothing to tear down); nil records them only.
  public static func install(
    signals: [Int32] = [SIGINT, SIGTERM],
    handler: @escaping @Sendable (Int32) -> Void,
    onRepeat: (@Sendable (Int32) -> Void)? = nil
  ) -> SignalTrap {
    let trap = SignalTrap(handler: handler, onRepeat: onRepeat)
    var sources: [any DispatchSourceSignal] = []
    let registered = DispatchSemaphore(value: 0)
    for number in signals {
      // Without this the default action would still kill the process (on Darwin the
      // source only observes; on Linux libdispatch then installs its own forwarding handler).
      _ = signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: trap.queue)
      source.setEventHandler { [weak trap] in trap?.received(number) }
      source.setRegistrationHandler { registered.signal() }
      source.resume()
      sources.append(source)
    }
    // Registration is asynchronous; a signal arriving before it would be lost (ignored).
    for _ in sources { _ = registered.wait(timeout: .now() + .seconds(1)) }
    trap.lock.lock()
    trap.sources = sources
    trap.lock.unlock()
    return trap
  }

  /// The first signal received, or nil while none has arrived.
  public var receivedSignal: Int32? {
    lock.lock()
    defer { lock.unlock() }
    return first
  }

  /// How many trapped signals have arrived (the handler ran for the first only).
  public var receivedCount: Int {
    lock.lock()
    defer { lock.unlock() }
    return count
  }

  /// Stops watching; the handler is not called again and the signals stay ignored.
  public func cancel() {
    lock.lock()
    let current = sources
    sources = []
    lock.unlock()
    for source in current { source.cancel() }
  }

  /// Ignores SIGPIPE for the whole process, so writing to a closed pipe or socket fails
  /// with `EPIPE` instead of killing rollback. Calling it again is harmless.
  public static func ignoreSIGPIPE() {
    _ = signal(SIGPIPE, SIG_IGN)
  }

  private func received(_ number: Int32) {
    lock.lock()
    count += 1
    let isFirst = first == nil
    if isFirst { first = number }
    lock.unlock()
    if isFirst { handler(number) } else { onRepeat?(number) }
  }
}
