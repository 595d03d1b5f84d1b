import Foundation
import Testing

@testable import RollbackSystem

@Suite("ProcessStartTime from /proc/PID/stat, on real child processes")
struct ProcessStartTimeTests {
  func spawnSleep() throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sleep")
    process.arguments = ["10"]
    try process.run()
    return process
  }

  /// SIGKILL (the test runner may block SIGTERM, and children inherit the mask), then reap.
  func stop(_ process: Process) {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  @Test("a child started now has a start time of now (within the boot time's second)")
  func childStartsNow() throws {
    let before = Date()
    let child = try spawnSleep()
    defer {
      stop(child)
    }
    let after = Date()
    let started = try ProcessStartTime.read(pid: child.processIdentifier)
    #expect(started >= before.addingTimeInterval(-1.05), "started \(started), spawned after \(before)")
    #expect(started <= after.addingTimeInterval(0.05), "started \(started), spawned before \(after)")
  }

  @Test("a process started later reads later; this test process reads earlier than both")
  func ordering() async throws {
    let first = try spawnSleep()
    defer {
      stop(first)
    }
    try await Task.sleep(for: .milliseconds(300))
    let second = try spawnSleep()
    defer {
      stop(second)
    }
    let a = try ProcessStartTime.read(pid: first.processIdentifier)
    let b = try ProcessStartTime.read(pid: second.processIdentifier)
    let me = try ProcessStartTime.read(pid: ProcessInfo.processInfo.processIdentifier)
    let gap = b.timeIntervalSince(a)
    #expect(gap >= 0.25 && gap < 2, "gap \(gap)")
    #expect(me <= a)
  }

  @Test("a process that is gone is a clear error")
  func goneProcess() throws {
    let child = try spawnSleep()
    let pid = child.processIdentifier
    stop(child)
    #expect(throws: ProcessStartTimeError.self) { try ProcessStartTime.read(pid: pid) }
    do {
      _ = try ProcessStartTime.read(pid: pid)
    } catch {
      #expect(error.description.hasPrefix("cannot read the start time of process \(pid): no such process"))
    }
  }

  @Test("a command name with spaces and parentheses does not shift the fields")
  func oddCommandName() {
    let fields = (3...52).map { $0 == 22 ? "987654" : "\($0)" }.joined(separator: " ")
    #expect(ProcessStartTime.startTicks(stat: "1234 (a) b (c)) " + fields + "\n") == 987_654)
    #expect(ProcessStartTime.startTicks(stat: "1234 (short) S 1 2") == nil)
    #expect(
      ProcessStartTime.bootTime(procStat: "cpu 1 2 3\nbtime 1764547200\nprocesses 9\n") == 1_764_547_200)
  }
}
