import Foundation
import Testing

@testable import RollbackSystem

/// A flag one thread sets and another reads.
private final class SweepFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var value = false
  func set() { lock.withLock { value = true } }
  var isSet: Bool { lock.withLock { value } }
}

@Suite("a child is registered as driven before another thread's sweep can see it")
struct ProcessLaunchSweepTests {
  @Test(
    "a sweep for adopted zombies waits until the child being started is registered; its exit status stays ours"
  )
  func sweepWaitsForLaunch() throws {
    let swept = SweepFlag()
    let sweptDuringLaunch = SweepFlag()
    let child = try ProcessStrays.launchDriven { () throws(ProcessError) in
      let thread = Thread {
        ProcessStrays.reapAdoptedZombies()
        swept.set()
      }
      thread.start()
      let spawned = try ProcessSpawn.launch(
        path: "/bin/sh", arguments: ["sh", "-c", "exit 7"], processEnvironment: [:], cwd: nil)
      // The child exits at once; the sweep thread gets time to run while it is not yet registered.
      usleep(300_000)
      if swept.isSet { sweptDuringLaunch.set() }
      return spawned
    }
    defer {
      close(child.stdout)
      close(child.stderr)
      ProcessStrays.unregister(child.pid)
    }
    let during = sweptDuringLaunch.isSet
    #expect(!during, "a sweep ran while the child was being started")
    var waited = 0
    while !swept.isSet, waited < 500 {
      usleep(10_000)
      waited += 1
    }
    let after = swept.isSet
    #expect(after, "the sweep never ran after the launch")
    var status: Int32 = 0
    let reaped = waitpid(child.pid, &status, 0)
    #expect(reaped == child.pid)
    #expect((status >> 8) & 0xff == 7)
  }
}
