import Foundation
import RollbackCore
import Testing

@testable import RollbackSystem

extension FleetHostTests {
  @Suite("Remote flag files: read, edit with the dotenv editor, replace safely over ssh")
  struct FleetFlagFileTests {
    static let key = "NEXT_PUBLIC_USE_BACKEND_API"
    static let names = [".env.local", ".env.production", ".env"]

    /// The bytes of a file on a host, read through ssh independently of RemoteFileStore.
    static func bytesOverSSH(_ transport: SSHTransport, _ host: SSHHost, _ path: String) async throws
      -> [UInt8]
    {
      let output = try await transport.run(
        on: host, script: "base64 -w0 < \"$1\"; echo", arguments: [path], timeout: .seconds(20))
      return [UInt8](try #require(Data(base64Encoded: output.stdout.first ?? "")))
    }

    /// Saves a host's env files (bytes, mode, owner) and puts them back afterwards.
    struct Saved {
      var files: [(path: String, bytes: [UInt8], mode: mode_t, uid: uid_t, gid: gid_t)] = []

      init(_ paths: [String]) throws {
        for path in paths {
          var info = stat()
          guard stat(path, &info) == 0 else { throw FleetCommandFailed(command: "stat \(path)", output: "") }
          files.append(
            (
              path, [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), info.st_mode & 0o7777,
              info.st_uid,
              info.st_gid
            ))
        }
      }

      func restore() {
        for file in files {
          try? Data(file.bytes).write(to: URL(fileURLWithPath: file.path))
          chmod(file.path, file.mode)
          chown(file.path, file.uid, file.gid)
        }
      }
    }

    static func replacing(_ bytes: [UInt8], _ old: String, with new: String) -> [UInt8] {
      Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: old, with: new).utf8)
    }

    static func leftovers(in directory: String) -> [String] {
      ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
        $0.contains(".rollback-tmp-") || $0.contains(".rollback-old-")
      }
    }

    @Test(
      "flip the flag on 3 hosts (one with CRLF files): only the value changes, mode and owner kept, backups local"
    )
    func flipOnThreeHosts() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let hosts = Array(fleet.hosts.prefix(3))
      let remote = Self.names.map { "\(fleet.root)/app/\($0)" }
      var saved: [String: Saved] = [:]
      for host in hosts {
        let local = Self.names.map { "\(fleet.localRoot(of: host.name))/app/\($0)" }
        saved[host.name] = try Saved(local)
        // An unusual mode and owner, which the replacement must keep.
        chmod(local[0], 0o640)
        chown(local[0], 1234, 2345)
      }
      defer { for save in saved.values { save.restore() } }
      var connections: [String: Int] = [:]
      for host in hosts { connections[host.name] = try fleet.connections(host.name) }
      #expect(await transport.openMasters(hosts, timeout: .seconds(20)).isEmpty)
      var before: [String: [[UInt8]]] = [:]
      for host in hosts {
        var files: [[UInt8]] = []
        for path in remote { files.append(try await Self.bytesOverSSH(transport, host, path)) }
        before[host.name] = files
      }
      let state = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-state-\(UUID())").path
      defer { try? FileManager.default.removeItem(atPath: state) }
      let backups = FleetBackups(stateDirectory: state, runID: "20261201T000000Z-test")
      let results = await transport.forEachHost(hosts) { host -> String? in
        let editor = RemoteFlagEditor(
          store: RemoteFileStore(transport: transport, host: host, timeout: .seconds(20)))
        do {
          let result = try await editor.set(
            key: Self.key, value: "false", in: remote, backups: backups, dryRun: false)
          return result.changes.allSatisfy { $0.changed && $0.before == "true" && $0.backup != nil }
            ? nil : "unexpected changes \(result.changes)"
        } catch {
          return "\(error)"
        }
      }
      #expect(results.values.compactMap { $0 }.isEmpty, "\(results)")
      for host in hosts {
        for (index, path) in remote.enumerated() {
          let old = try #require(before[host.name]?[index])
          let new = try await Self.bytesOverSSH(transport, host, path)
          #expect(
            new == Self.replacing(old, "\(Self.key)=true", with: "\(Self.key)=false"), "\(host.name) \(path)")
          #expect(new != old)
          if host.name == fleet.crlfHost {
            #expect(new.filter { $0 == 13 }.count == old.filter { $0 == 13 }.count)
            #expect(old.contains(13))
          }
        }
        var info = stat()
        #expect(stat("\(fleet.localRoot(of: host.name))/app/.env.local", &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o640 && info.st_uid == 1234 && info.st_gid == 2345, "\(host.name)")
        #expect(Self.leftovers(in: "\(fleet.localRoot(of: host.name))/app").isEmpty)
        // The backups are on this machine, under STATE/backups/RUN_ID/HOST, holding the old bytes.
        let directory = backups.directory(for: host.name)
        #expect(directory == "\(state)/backups/20261201T000000Z-test/\(host.name)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: directory).map {
          [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\($0)")))
        }
        #expect(Set(kept) == Set(before[host.name] ?? []))
      }
      // Reads, backups and the write went through one connection per host.
      for host in hosts {
        #expect(try fleet.connections(host.name) == (connections[host.name] ?? 0) + 1, "\(host.name)")
      }
      // A dry run reads for real and shows a diff, writing nothing.
      let host = hosts[0]
      let after = try await Self.bytesOverSSH(transport, host, remote[0])
      let dry = try await RemoteFlagEditor(
        store: RemoteFileStore(transport: transport, host: host, timeout: .seconds(20))
      ).set(key: Self.key, value: "true", in: remote, backups: nil, dryRun: true)
      #expect(dry.diffs.count == 3)
      #expect(dry.diffs[0].contains("-\(Self.key)=false") && dry.diffs[0].contains("+\(Self.key)=true"))
      #expect(try await Self.bytesOverSSH(transport, host, remote[0]) == after)
      await transport.shutdown(hosts)
    }

    @Test("a file changed between read and write: refused, and no file of the host is replaced")
    func changedMeanwhile() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-1")
      let local = Self.names.map { "\(fleet.localRoot(of: host.name))/app/\($0)" }
      let saved = try Saved(local)
      defer { saved.restore() }
      let store = RemoteFileStore(transport: transport, host: host, timeout: .seconds(20))
      var writes: [(file: RemoteFile, bytes: [UInt8])] = []
      for name in Self.names {
        let file = try await store.read("\(fleet.root)/app/\(name)")
        writes.append(
          (file, try DotEnvDocument(bytes: file.bytes).setting(key: Self.key, value: "false").bytes))
      }
      // Someone edits the second file after the read.
      let meanwhile = Array("# edited by hand\n".utf8) + saved.files[1].bytes
      try Data(meanwhile).write(to: URL(fileURLWithPath: local[1]))
      await #expect(
        throws: RemoteFileError.changedMeanwhile(host: "host-1", path: "\(fleet.root)/app/.env.production")
      ) {
        try await store.replace(writes)
      }
      #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: local[0]))) == saved.files[0].bytes)
      #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: local[1]))) == meanwhile)
      #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: local[2]))) == saved.files[2].bytes)
      #expect(Self.leftovers(in: "\(fleet.localRoot(of: host.name))/app").isEmpty)
      await transport.shutdown([host])
    }

    @Test("a directory or a FIFO at the path is refused without blocking; a missing file is a clear error")
    func notRegularOrMissing() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-2")
      let app = "\(fleet.localRoot(of: host.name))/app"
      let local = Self.names.map { "\(app)/\($0)" }
      let saved = try Saved(local)
      try FileManager.default.createDirectory(atPath: "\(app)/dir.env", withIntermediateDirectories: false)
      #expect(mkfifo("\(app)/fifo.env", 0o644) == 0)
      defer {
        try? FileManager.default.removeItem(atPath: "\(app)/dir.env")
        unlink("\(app)/fifo.env")
        saved.restore()
      }
      let store = RemoteFileStore(transport: transport, host: host, timeout: .seconds(10))
      let started = ContinuousClock.now
      await #expect(
        throws: RemoteFileError.notRegular(
          host: "host-2", path: "\(fleet.root)/app/dir.env", kind: "a directory")
      ) {
        try await store.read("\(fleet.root)/app/dir.env")
      }
      await #expect(
        throws: RemoteFileError.notRegular(
          host: "host-2", path: "\(fleet.root)/app/fifo.env", kind: "a FIFO (named pipe)")
      ) {
        try await store.read("\(fleet.root)/app/fifo.env")
      }
      #expect(ContinuousClock.now - started < .seconds(8))
      do {
        _ = try await store.read("\(fleet.root)/app/missing.env")
        Issue.record("a missing file was read")
      } catch {
        #expect(error == .notFound(host: "host-2", path: "\(fleet.root)/app/missing.env"))
        #expect(error.description == "host-2: \(fleet.root)/app/missing.env does not exist")
      }
      // With a FIFO among a flag's files, no file is changed.
      let editor = RemoteFlagEditor(store: store)
      await #expect(throws: RemoteFlagEditor.EditError.self) {
        try await editor.set(
          key: Self.key, value: "false", in: ["\(fleet.root)/app/.env", "\(fleet.root)/app/fifo.env"],
          backups: nil,
          dryRun: false)
      }
      #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: local[2]))) == saved.files[2].bytes)
      await transport.shutdown([host])
    }

    @Test("a failure on a later file of a host leaves the earlier ones untouched (all or nothing)")
    func allOrNothingOnAHost() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-1")
      let app = "\(fleet.localRoot(of: host.name))/app"
      let saved = try Saved(["\(app)/.env.local", "\(app)/.env"])
      // An immutable second file: everything up to the renames succeeds, then it cannot be replaced.
      let immutable = try fleet.run(["/usr/bin/chattr", "+i", "\(app)/.env"])
      try #require(immutable.status == 0, "chattr +i: \(immutable.output)")
      defer {
        _ = try? fleet.run(["/usr/bin/chattr", "-i", "\(app)/.env"])
        saved.restore()
      }
      let editor = RemoteFlagEditor(
        store: RemoteFileStore(transport: transport, host: host, timeout: .seconds(20)))
      var caught: RemoteFlagEditor.EditError?
      do {
        _ = try await editor.set(
          key: Self.key, value: "false", in: ["\(fleet.root)/app/.env.local", "\(fleet.root)/app/.env"],
          backups: nil, dryRun: false)
      } catch {
        caught = error
      }
      guard case .file(.failed(let name, let path, _))? = caught else {
        Issue.record("expected a failure on .env, got \(String(describing: caught))")
        return
      }
      #expect(name == "host-1" && path == "\(fleet.root)/app/.env")
      #expect(
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(app)/.env.local"))) == saved.files[0].bytes)
      #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(app)/.env"))) == saved.files[1].bytes)
      #expect(Self.leftovers(in: app).isEmpty, "\(Self.leftovers(in: app))")
      await transport.shutdown([host])
    }

    @Test("a file with a second hard link, or over the size cap, is refused")
    func hardLinksAndSize() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-3")
      let app = "\(fleet.localRoot(of: host.name))/app"
      #expect(link("\(app)/.env", "\(app)/second-name.env") == 0)
      defer { unlink("\(app)/second-name.env") }
      let store = RemoteFileStore(transport: transport, host: host, timeout: .seconds(20))
      await #expect(
        throws: RemoteFileError.hardLinks(host: "host-3", path: "\(fleet.root)/app/.env", count: 2)
      ) {
        try await store.read("\(fleet.root)/app/.env")
      }
      let size = try #require(
        try FileManager.default.attributesOfItem(atPath: "\(app)/.env.local")[.size] as? Int)
      let small = RemoteFileStore(transport: transport, host: host, timeout: .seconds(20), sizeCap: 16)
      await #expect(
        throws: RemoteFileError.tooLarge(
          host: "host-3", path: "\(fleet.root)/app/.env.local", size: size, cap: 16)
      ) {
        try await small.read("\(fleet.root)/app/.env.local")
      }
      await transport.shutdown([host])
    }

    @Test("a symlinked flag file is followed: the target changes, the link stays a link")
    func symlinkFollowed() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-1")
      let app = "\(fleet.localRoot(of: host.name))/app"
      let saved = try Saved(["\(app)/.env"])
      #expect(symlink(".env", "\(app)/link.env") == 0)
      defer {
        unlink("\(app)/link.env")
        saved.restore()
      }
      let editor = RemoteFlagEditor(
        store: RemoteFileStore(transport: transport, host: host, timeout: .seconds(20)))
      let result = try await editor.set(
        key: Self.key, value: "false", in: ["\(fleet.root)/app/link.env"], backups: nil, dryRun: false)
      #expect(result.changes.first?.changed == true)
      #expect(
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(app)/.env")))
          == Self.replacing(saved.files[0].bytes, "\(Self.key)=true", with: "\(Self.key)=false"))
      #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "\(app)/link.env")) == ".env")
      await transport.shutdown([host])
    }

    @Test("a read's real path: the path itself, or resolved through a symlinked directory or a '..'")
    func realPaths() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-1")
      let local = fleet.localRoot(of: host.name)
      #expect(symlink("app", "\(local)/linked-app") == 0)
      defer { unlink("\(local)/linked-app") }
      let store = RemoteFileStore(transport: transport, host: host, timeout: .seconds(20))
      let real = "\(fleet.root)/app/.env"
      let expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(local)/app/.env")))
      for path in [real, "\(fleet.root)/linked-app/.env", "\(fleet.root)/app/../app/.env"] {
        let file = try await store.read(path)
        #expect(file.path == path)
        #expect(file.realPath == real, "\(path)")
        #expect(file.bytes == expected, "\(path)")
        #expect(file.sha256 == SHA256Digest.hex(expected))
      }
      await transport.shutdown([host])
    }

    @Test(
      "a kept preflight read that went stale: the host refuses the swap, the edit reads again, the outside write survives"
    )
    func staleKnownContent() async throws {
      let fleet = try TestFleet.current()
      let transport = try fleet.transport()
      let host = fleet.host("host-2")
      let local = "\(fleet.localRoot(of: host.name))/app/.env.local"
      let remote = "\(fleet.root)/app/.env.local"
      let saved = try Saved([local])
      defer { saved.restore() }
      let store = RemoteFileStore(transport: transport, host: host, timeout: .seconds(20))
      let kept = try await store.read(remote)
      // Someone else changes the file after the preflight read it.
      let outside = saved.files[0].bytes + Array("OUTSIDE_WRITE=1\n".utf8)
      try Data(outside).write(to: URL(fileURLWithPath: local))
      let result = try await RemoteFlagEditor(store: store).set(
        key: Self.key, value: "false", in: [remote], backups: nil, dryRun: false, known: [remote: kept])
      #expect(result.changes.first?.changed == true)
      #expect(
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: local)))
          == Self.replacing(outside, "\(Self.key)=true", with: "\(Self.key)=false"))
      // A fresh kept read is used as is: no read before the write (the file is unchanged).
      let fresh = try await store.read(remote)
      let again = try await RemoteFlagEditor(store: store).set(
        key: Self.key, value: "true", in: [remote], backups: nil, dryRun: false, known: [remote: fresh])
      #expect(again.changes.first?.before == "false")
      #expect(
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: local)), as: UTF8.self).contains(
          "OUTSIDE_WRITE=1\n"))
      await transport.shutdown([host])
    }
  }
}
