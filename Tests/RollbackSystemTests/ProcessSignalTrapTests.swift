import Foundation
import Testing

@testable import RollbackSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Counts handler calls and remembers the signals they received.
private final class HandlerLog: @unchecked Sendable {
  private let lock = NSLock()
  private var signals: [Int32] = []

  func record(_ signal: Int32) {
    lock.lock()
    signals.append(signal)
    lock.unlock()
  }

  var received: [Int32] {
    lock.lock()
    defer { lock.unlock() }
    return signals
  }
}

/// The signals this process ignores, from `/proc/self/status` (bit n-1 is signal n).
private func ignoredSignals() -> UInt64? {
  guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
  for line in status.split(separator: "\n") where line.hasPrefix("SigIgn:") {
    return UInt64(line.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16)
  }
  return nil
}

@Suite("Process signal trap", .serialized)
struct ProcessSignalTrapTests {
  // SIGUSR2 stands in for SIGINT and SIGTERM: trapping those inside the test runner would
  // take Ctrl-C away from whoever runs the tests.
  @Test("the first trapped signal calls the handler once and is remembered")
  func handlerOnce() async throws {
    let log = HandlerLog()
    let trap = SignalTrap.install(signals: [SIGUSR2]) { log.record($0) }
    defer { trap.cancel() }
    #expect(trap.receivedSignal == nil)

    kill(getpid(), SIGUSR2)
    let (first, _) = await repeatUntil(for: .seconds(2), every: .milliseconds(10)) {
      trap.receivedCount
    } until: {
      $0 >= 1
    }
    try #require(first >= 1)

    kill(getpid(), SIGUSR2)
    let (second, _) = await repeatUntil(for: .seconds(2), every: .milliseconds(10)) {
      trap.receivedCount
    } until: {
      $0 >= 2
    }

    #expect(second == 2)
    #expect(log.received == [SIGUSR2])
    #expect(trap.receivedSignal == SIGUSR2)
  }

  // SIGUSR1 here: with SIGUSR2, after the test above cancelled its trap, the first signal
  // of this one was not seen.
  @Test("later signals go to onRepeat, each of them; the first only to the handler")
  func repeatsGoToOnRepeat() async throws {
    let first = HandlerLog()
    let repeats = HandlerLog()
    let trap = SignalTrap.install(
      signals: [SIGUSR1], handler: { first.record($0) }, onRepeat: { repeats.record($0) })
    defer { trap.cancel() }

    for expected in 1...3 {
      kill(getpid(), SIGUSR1)
      let (count, _) = await repeatUntil(for: .seconds(2), every: .milliseconds(10)) {
        trap.receivedCount
      } until: {
        $0 >= expected
      }
      try #require(count == expected)
    }

    #expect(first.received == [SIGUSR1])
    #expect(repeats.received == [SIGUSR1, SIGUSR1])
  }

  @Test("ignoring SIGPIPE is process-wide and idempotent")
  func ignoreSIGPIPE() throws {
    SignalTrap.ignoreSIGPIPE()
    SignalTrap.ignoreSIGPIPE()

    let ignored = try #require(ignoredSignals())
    #expect(ignored & (1 << (UInt64(SIGPIPE) - 1)) != 0)

    // A write into a pipe nobody reads fails with EPIPE instead of killing the process.
    var descriptors: [Int32] = [-1, -1]
    try #require(pipe(&descriptors) == 0)
    close(descriptors[0])
    defer { close(descriptors[1]) }
    let written = write(descriptors[1], "x", 1)
    #expect(written == -1 && errno == EPIPE)
  }
}
