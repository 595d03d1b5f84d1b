import Foundation
import Testing

@testable import RollbackSystem

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A child shell that takes `flock` on the lock file through `/usr/bin/flock`, optionally
/// writes holder JSON into it, says "locked" and then becomes `sleep` (keeping the descriptor).
final class LockingChild {
  let process = Process()
  private let output = Pipe()

  init(lockFile: String, holderJSON: String?) throws {
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    let write = holderJSON == nil ? "" : "printf '%s\\n' \"$(printf \"$2\" $$)\" >&9; "
    process.arguments = [
      "-c", "exec 9<>\"$1\"; /usr/bin/flock -n 9 || exit 3; \(write)echo locked; exec sleep 30",
      "locking-child", lockFile, holderJSON ?? "",
    ]
    process.standardOutput = output
    try process.run()
  }

  /// Waits for the child to hold the lock; false if it exited instead.
  func waitUntilLocked() -> Bool {
    let data = output.fileHandleForReading.availableData
    return String(decoding: data, as: UTF8.self).hasPrefix("locked")
  }

  /// Kills the child (SIGKILL, so it cannot clean up) and waits for it.
  func killNow() {
    guard process.isRunning else { return }
    _ = kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  deinit {
    killNow()
  }
}

@Suite("execution lock")
struct FileLockTests {
  @Test("a second lock in the same process fails and names the first holder")
  func sameProcess() throws {
    let scratch = try ScratchDirectory()
    let path = scratch.file("state/lock")
    let started = Date(timeIntervalSince1970: 1_770_027_300)
    let first = try FileLock.acquire(at: path, runID: "20260202T101500Z-3f2a", startedAt: started)
    #expect(first.warning == nil)
    #expect(first.holder.pid == getpid())
    #expect(first.holder.startedAt == "2026-02-02T10:15:00Z")
    var caught: LockError?
    do {
      _ = try FileLock.acquire(at: path, runID: "second")
    } catch {
      caught = error
    }
    #expect(caught == .heldBy(first.holder, lockFile: path))
    let host = Syscall.hostName()
    let user = Syscall.userName()
    #expect(
      caught?.description
        == "another execution holds the lock: pid \(getpid()) on host \(host) by user \(user), "
        + "run 20260202T101500Z-3f2a (started 2026-02-02T10:15:00Z); wait for it to finish (or stop it), "
        + "then retry (lock file \(path))")
    // The lock file holds the holder as JSON with the documented keys.
    let json =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
    #expect(json?.keys.sorted() == ["host", "pid", "run_id", "started_at", "user"])
    #expect(json?["run_id"] as? String == "20260202T101500Z-3f2a")

    // The failed attempt closed its own descriptor only: the first lock is still held.
    #expect(first.isHeld)
    #expect(throws: LockError.heldBy(first.holder, lockFile: path)) {
      try FileLock.acquire(at: path, runID: "third")
    }

    first.release()
    #expect(!first.isHeld)
    first.release()  // a second release does nothing
    let second = try FileLock.acquire(at: path, runID: "second")
    #expect(second.warning == nil, "a clean release leaves nothing to warn about")
    #expect(second.previousHolder == nil)
  }

  @Test("dropping the lock releases it")
  func releasedOnDeinit() throws {
    let scratch = try ScratchDirectory()
    let path = scratch.file("lock")
    do {
      let lock = try FileLock.acquire(at: path, runID: "a")
      #expect(lock.isHeld)
    }
    let again = try FileLock.acquire(at: path, runID: "b")
    #expect(again.holder.runID == "b")
    #expect(again.warning == nil)
  }

  @Test("a lock held by another process fails naming it; after it dies the lock is free, with a warning")
  func otherProcess() throws {
    let scratch = try ScratchDirectory()
    let path = scratch.file("lock")
    let host = Syscall.hostName()
    let json =
      #"{"host":"\#(host)","pid":%d,"run_id":"20260202T101500Z-3f2a","started_at":"2026-02-02T10:15:00Z","user":"ops"}"#
    let child = try LockingChild(lockFile: path, holderJSON: json)
    #expect(child.waitUntilLocked(), "the child could not take the lock")
    let childPid = child.process.processIdentifier
    let expected = LockHolder(
      pid: childPid, host: host, user: "ops", runID: "20260202T101500Z-3f2a",
      startedAt: "2026-02-02T10:15:00Z")
    #expect(throws: LockError.heldBy(expected, lockFile: path)) {
      try FileLock.acquire(at: path, runID: "mine")
    }
    do {
      _ = try FileLock.acquire(at: path, runID: "mine")
    } catch {
      #expect(
        error.description.hasPrefix(
          "another execution holds the lock: pid \(childPid) on host \(host) by user ops"))
    }

    child.killNow()
    let lock = try FileLock.acquire(at: path, runID: "mine")
    #expect(lock.previousHolder == expected)
    #expect(
      lock.warning
        == "the previous holder of the lock (pid \(childPid), run 20260202T101500Z-3f2a, "
        + "started 2026-02-02T10:15:00Z) died without releasing it; its run may be incomplete: "
        + "check it with `rollback history` or `rollback resume 20260202T101500Z-3f2a`")
    #expect(lock.holder.runID == "mine")
  }

  @Test("a holder that did not record itself is reported as unknown")
  func unknownHolder() throws {
    let scratch = try ScratchDirectory()
    let path = scratch.file("lock")
    let child = try LockingChild(lockFile: path, holderJSON: nil)
    #expect(child.waitUntilLocked(), "the child could not take the lock")
    #expect(throws: LockError.heldByUnknown(lockFile: path)) { try FileLock.acquire(at: path, runID: "mine") }
    child.killNow()
    let lock = try FileLock.acquire(at: path, runID: "mine")
    #expect(lock.warning == nil)
  }

  @Test("a lock file naming a holder on another host is taken over with a warning")
  func leftoverFromAnotherHost() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write(
      "lock", #"{"host":"elsewhere","pid":1,"run_id":"r1","started_at":"2026-01-01T00:00:00Z","user":"u"}"#)
    let lock = try FileLock.acquire(at: path, runID: "r2")
    #expect(lock.previousHolder?.host == "elsewhere")
    #expect(
      lock.warning?.contains("(pid 1, run r1, started 2026-01-01T00:00:00Z on host elsewhere) ended") == true)
  }

  @Test("the lock cannot be taken where the state directory cannot be created")
  func unavailable() throws {
    let scratch = try ScratchDirectory()
    let blocker = try scratch.write("state", "not a directory")
    #expect(throws: LockError.self) { try FileLock.acquire(at: blocker + "/lock", runID: "r") }
  }
}
