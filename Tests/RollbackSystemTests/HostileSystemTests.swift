import Foundation
import Testing

@testable import RollbackSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Bounds that hold whatever the database, the network or a step's processes do.
@Suite("hostile inputs: Postgres and process bounds")
struct HostileSystemTests {
  @Test("a probe that writes fails read-only (SQLSTATE 25006) and changes nothing")
  func probeIsReadOnly() async throws {
    let dsn = try SystemTestHarness.databaseURL()
    let table = "hostile_probe_\(UInt32.random(in: 0...UInt32.max))"
    _ = try await PostgresClient().execute(
      dsn: dsn, query: "CREATE TABLE \(table) AS SELECT g FROM generate_series(1, 3) g", timeout: .seconds(5))

    let (error, _) = await timedError { () async throws(PostgresError) in
      _ = try await PostgresClient().queryNumber(
        dsn: dsn, query: "WITH d AS (DELETE FROM \(table) RETURNING 1) SELECT count(*) FROM d",
        timeout: .seconds(5))
    }
    let pool = PostgresSessionPool()
    let (pooled, _) = await timedError { () async throws(PostgresError) in
      _ = try await pool.queryNumber(
        dsn: dsn, query: "WITH d AS (DELETE FROM \(table) RETURNING 1) SELECT count(*) FROM d",
        timeout: .seconds(5))
    }
    let left = try await PostgresClient().queryNumber(
      dsn: dsn, query: "SELECT count(*) FROM \(table)", timeout: .seconds(5))
    _ = try await PostgresClient().execute(dsn: dsn, query: "DROP TABLE \(table)", timeout: .seconds(5))

    for failure in [error, pooled] {
      guard case .queryFailed(let sqlstate, _) = try #require(failure) else {
        Issue.record("expected a read-only failure, got \(String(describing: failure))")
        continue
      }
      #expect(sqlstate == "25006")
    }
    #expect(left == 3)
  }

  @Test("a probe over millions of rows reads one: the first value, in bounded memory")
  func probeReadsOneRow() async throws {
    let dsn = try SystemTestHarness.databaseURL()
    let before = Self.peakResidentKilobytes()

    let value = try await PostgresClient().queryNumber(
      dsn: dsn, query: "SELECT g FROM generate_series(7, 4000006) g", timeout: .seconds(20))
    let pool = PostgresSessionPool()
    let pooled = try await pool.queryNumber(
      dsn: dsn, query: "SELECT g FROM generate_series(7, 4000006) g", timeout: .seconds(20))
    // The connection the probe stopped is clean for the next read.
    let next = try await pool.queryNumber(dsn: dsn, query: "SELECT 42", timeout: .seconds(5))

    let grown = Self.peakResidentKilobytes() - before
    #expect(value == 7)
    #expect(pooled == 7)
    #expect(next == 42)
    // Four million rows held by libpq take well over 100 MB; one row takes nothing.
    #expect(grown < 40_000, "peak RSS grew by \(grown) kB")
  }

  @Test("a DSN listing three silent hosts fails within the one timeout, not three")
  func multiHostTimeoutIsTotal() async throws {
    let servers = try (0..<3).map { _ in try HTTPLoopbackServer(reply: .hang) }
    defer { servers.forEach { $0.stop() } }
    let ports = servers.map { String($0.port) }.joined(separator: ",")

    let (error, elapsed) = await timedError { () async throws(PostgresError) in
      _ = try await PostgresClient().queryNumber(
        dsn: "host=127.0.0.1,127.0.0.1,127.0.0.1 port=\(ports) user=u password=p dbname=d sslmode=disable",
        query: "SELECT 1", timeout: .seconds(2))
    }

    guard case .connectionFailed(let message) = try #require(error) else {
      Issue.record("expected connectionFailed, got \(String(describing: error))")
      return
    }
    #expect(message.contains("timeout"))
    #expect(elapsed < .seconds(3), "took \(elapsed)")
  }

  @Test("a timed-out step's setsid grandchild is ended too")
  func setsidGrandchildEnded() async throws {
    let marker = "300.\(UInt32.random(in: 100_000...999_999))"
    let spec = ProcessSpec(
      program: .shell("setsid sleep \(marker) & sleep 30"), timeout: .seconds(1), grace: .milliseconds(500))

    let outcome = try await ProcessRunner().run(spec)

    #expect(outcome.timedOut)
    #expect(
      Self.processes(withArgument: marker).isEmpty, "left behind: \(Self.processes(withArgument: marker))")
    for pid in Self.processes(withArgument: marker) { kill(pid, SIGKILL) }
  }

  /// Live processes whose command line holds `argument`.
  static func processes(withArgument argument: String) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { name -> pid_t? in
      guard let pid = pid_t(name),
        let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline"),
        let stat = ProcessStat.read(pid: pid), stat.isAlive
      else { return nil }
      let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      return words.contains(argument) ? pid : nil
    }
  }

  /// `VmHWM` of this process, in kB.
  static func peakResidentKilobytes() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
  }
}
