import Foundation

/// A flag that a blocking call polls to learn that its caller went away.
///
/// ``BlockingExecutor`` sets it when the awaiting task is cancelled; long blocking work
/// (a curl transfer, a libpq poll loop) checks it between waits and stops early.
public final class CancellationFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var cancelled = false

  /// Creates a flag that is not set.
  public init() {}

  /// Whether ``cancel()`` has been called.
  public var isCancelled: Bool {
    lock.lock()
    defer { lock.unlock() }
    return cancelled
  }

  /// Sets the flag. Calling it more than once is harmless.
  public func cancel() {
    lock.lock()
    cancelled = true
    lock.unlock()
  }
}

/// Runs blocking C calls (curl perform, libpq) on a dedicated thread, off Swift's
/// cooperative pool, so a slow server can never starve the async tasks.
///
/// Each call gets its own short-lived thread; the awaiting task suspends on a checked
/// continuation until the work returns. The work must bound its own duration (a
/// timeout option); cancelling the task sets the ``CancellationFlag`` it receives.
public enum BlockingExecutor {
  /// Runs `work` on a new thread and returns its result, propagating its typed error.
  ///
  /// - Parameters:
  ///   - name: the thread name shown by debuggers and `top -H` (for example
  ///     `rollback.curl`); Linux keeps the first 15 bytes.
  ///   - work: the blocking work. It receives a flag that is set when the calling task
  ///     is cancelled; check it where the work can stop safely.
  public static func run<Value: Sendable, Failure: Error>(
    name: String = "rollback.block",
    _ work: @escaping @Sendable (CancellationFlag) throws(Failure) -> Value
  ) async throws(Failure) -> Value {
    let flag = CancellationFlag()
    let result: Result<Value, Failure> = await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, Failure>, Never>) in
        let thread = Thread {
          nameCurrentThread(name)
          continuation.resume(returning: Result { () throws(Failure) -> Value in try work(flag) })
        }
        thread.start()
      }
    } onCancel: {
      flag.cancel()
    }
    return try result.get()
  }
}

/// Names the calling thread for debuggers and `top -H`. Foundation's `Thread.name` does
/// not reach the kernel on Linux and Glibc's `pthread_setname_np` is not visible to
/// Swift, so this writes the thread's `comm` file, which is what that function does.
private func nameCurrentThread(_ name: String) {
  #if os(Linux)
    let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    defer { close(descriptor) }
    // The kernel keeps 15 bytes.
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
  #elseif canImport(Darwin)
    _ = pthread_setname_np(name)
  #endif
}
