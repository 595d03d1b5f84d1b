import Foundation
import RollbackSystem
import Testing

extension FleetHostTests {
  @Suite("RemoteHostLock on real hosts")
  struct FleetHostLockTests {
    @Test(
      "a second run gets an error naming the holder; the same run takes its lock over; release removes only its own"
    )
    func secondHolderRefused() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-2")
      // The host's own directory (/tmp is shared by the test hosts of this machine).
      let lockDir = "\(fleet.root)/run"
      let localLock = "\(fleet.localRoot(of: host.name))/run/\(RemoteHostLock.fileName)"
      defer { unlink(localLock) }
      let first = RemoteHostLock(
        transport: transport, host: host, runID: "run-A", directory: lockDir, user: "alice",
        controlHost: "laptop-a")
      let second = RemoteHostLock(
        transport: transport, host: host, runID: "run-B", directory: lockDir, user: "bob",
        controlHost: "laptop-b")
      #expect(try await first.acquire() == .created)
      let content = String(decoding: try Data(contentsOf: URL(fileURLWithPath: localLock)), as: UTF8.self)
      #expect(content.hasPrefix("run=run-A\nuser=alice\ncontrol=laptop-a\nstarted="))
      // host-1 has its own lock directory: the lock of host-2 does not lock it.
      let other = RemoteHostLock(
        transport: transport, host: fleet.host("host-1"), runID: "run-B", directory: lockDir, user: "bob",
        controlHost: "laptop-b")
      #expect(try await other.acquire() == .created)
      try await other.release()

      var caught: RemoteLockError?
      do { try await second.acquire() } catch { caught = error }
      guard case .held(let name, let path, let holder)? = caught else {
        Issue.record("expected the lock to be held, got \(String(describing: caught))")
        return
      }
      #expect(name == "host-2" && path == "\(lockDir)/\(RemoteHostLock.fileName)")
      #expect(holder.runID == "run-A" && holder.user == "alice" && holder.controlHost == "laptop-a")
      #expect(
        caught?.description.hasPrefix("host-2 is locked by another rollback: run run-A by alice on laptop-a")
          == true)
      // The refused run changed nothing.
      #expect(
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: localLock)), as: UTF8.self) == content)

      // A resume of run A takes its own lock over.
      #expect(try await first.acquire() == .resumed)
      // Forcing a lock younger than the stale limit is refused; older, it is taken over.
      await #expect {
        try await second.acquire(force: true, staleAfter: 3600)
      } throws: { error in
        guard case .notStale(_, _, let holder, 3600) = error as? RemoteLockError else { return false }
        return holder.runID == "run-A"
      }
      #expect(try await second.acquire(force: true, staleAfter: 0) == .forced)
      // Run A's release leaves run B's lock in place and says who holds it.
      await #expect {
        try await first.release()
      } throws: { error in
        guard case .held(_, _, let holder) = error as? RemoteLockError else { return false }
        return holder.runID == "run-B" && holder.user == "bob"
      }
      #expect(FileManager.default.fileExists(atPath: localLock))
      try await second.release()
      #expect(!FileManager.default.fileExists(atPath: localLock))
      // Releasing a lock that is gone is not an error.
      try await second.release()
      await transport.shutdown([host, fleet.host("host-1")])
    }

    @Test("by default the lock names this machine's user and host name")
    func defaultHolder() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-3")
      let localLock = "\(fleet.localRoot(of: host.name))/run/\(RemoteHostLock.fileName)"
      defer { unlink(localLock) }
      let lock = RemoteHostLock(
        transport: transport, host: host, runID: "run-default", directory: "\(fleet.root)/run")
      #expect(try await lock.acquire() == .created)
      var name = [CChar](repeating: 0, count: 256)
      #expect(gethostname(&name, 255) == 0)
      let machine = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      let user = ProcessInfo.processInfo.environment["USER"] ?? NSUserName()
      let content = String(decoding: try Data(contentsOf: URL(fileURLWithPath: localLock)), as: UTF8.self)
      #expect(content.hasPrefix("run=run-default\nuser=\(user)\ncontrol=\(machine)\nstarted="))
      #expect(!machine.isEmpty && !user.isEmpty)
      try await lock.release()
      await transport.shutdown([host])
    }

    @Test("two runs racing for the same host: exactly one gets the lock")
    func race() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-1")
      let lockDir = "\(fleet.root)/run"
      defer { unlink("\(fleet.localRoot(of: host.name))/run/\(RemoteHostLock.fileName)") }
      _ = await transport.openMasters([host], timeout: .seconds(20))
      let outcomes = await withTaskGroup(of: Bool.self) { group in
        for index in 0..<6 {
          group.addTask {
            let lock = RemoteHostLock(
              transport: transport, host: host, runID: "run-\(index)", directory: lockDir, user: "u\(index)",
              controlHost: "c")
            return (try? await lock.acquire()) == .created
          }
        }
        var won = 0
        for await created in group where created { won += 1 }
        return won
      }
      #expect(outcomes == 1)
      await transport.shutdown([host])
    }
  }
}
