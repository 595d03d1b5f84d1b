import Foundation
import Testing

@testable import RollbackSystem

/// An error for exercising typed throws through the executor.
private struct ProbeFailure: Error, Equatable {
  let code: Int
}

/// The kernel's name for the calling thread.
private func threadName() -> String {
  let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
  return comm.trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite("BlockingExecutor")
struct BlockingExecutorTests {
  @Test("returns the work's value from another thread")
  func returnsValue() async {
    let value = await BlockingExecutor.run(name: "rollback.test") { _ in
      (threadName(), 42)
    }

    #expect(value.0 == "rollback.test")
    #expect(value.1 == 42)
  }

  @Test("propagates the typed error")
  func propagatesError() async {
    let (error, _) = await timedError { () async throws(ProbeFailure) in
      _ = try await BlockingExecutor.run { (_) throws(ProbeFailure) -> Int in throw ProbeFailure(code: 7) }
    }

    #expect(error == ProbeFailure(code: 7))
  }

  @Test("many blocking calls at once run in parallel, not on the cooperative pool")
  func parallelBlockingCalls() async {
    let (count, elapsed) = await timed {
      await withTaskGroup(of: Int.self) { group in
        for _ in 0..<16 {
          group.addTask {
            await BlockingExecutor.run { _ in
              usleep(300_000)  // a blocking C call
              return 1
            }
          }
        }
        return await group.reduce(0, +)
      }
    }

    #expect(count == 16)
    // Sixteen 0.3 s sleeps one after another take 4.8 s; on a 2-thread pool at least 2.4 s.
    #expect(elapsed < .seconds(2))
  }

  @Test("cancelling the task sets the flag the work sees")
  func cancellationSetsFlag() async throws {
    let task = Task {
      await BlockingExecutor.run { flag in
        let deadline = BlockingDeadline(after: .seconds(5))
        while !flag.isCancelled && !deadline.hasExpired { usleep(10_000) }
        return flag.isCancelled
      }
    }
    try await Task.sleep(for: .milliseconds(100))
    task.cancel()

    #expect(await task.value)
  }

  @Test(
    "durations read as short text",
    arguments: [
      (Duration.seconds(5), "5s"), (.milliseconds(1500), "1.5s"), (.milliseconds(250), "250ms"),
      (.milliseconds(2000), "2s"), (.milliseconds(1999), "2s"),
    ])
  func durationText(duration: Duration, text: String) {
    #expect(duration.compactText == text)
  }

  @Test("durations round up to whole units")
  func durationRounding() {
    #expect(Duration.microseconds(1500).millisecondsRoundedUp == 2)
    #expect(Duration.milliseconds(1001).secondsRoundedUp(atLeast: 1) == 2)
    #expect(Duration.milliseconds(10).secondsRoundedUp(atLeast: 1) == 1)
    #expect(Duration.seconds(-1).millisecondsRoundedUp == 0)
  }
}
