import Foundation
import Testing

@testable import RollbackSystem

@Suite("PostgresClient over libpq against the harness PostgreSQL")
struct PostgresClientTests {
  let client = PostgresClient()

  @Test("ping reaches the harness server")
  func pingOK() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    #expect(await client.ping(dsn: dsn, timeout: .seconds(3)) == .ok)
  }

  @Test("ping does not need the right password")
  func pingWithoutLogin() async throws {
    let dsn = try SystemTestHarness.postgres().conninfo(password: "not-the-password")

    #expect(await client.ping(dsn: dsn, timeout: .seconds(3)) == .ok)
  }

  @Test("ping to a closed port is no response, quickly")
  func pingClosedPort() async throws {
    let port = try closedLoopbackPort()

    let (result, elapsed) = await timed {
      await client.ping(dsn: "host=127.0.0.1 port=\(port) dbname=postgres", timeout: .seconds(3))
    }

    #expect(result == .noResponse)
    #expect(elapsed < .seconds(2))
  }

  @Test("ping with an unparseable DSN makes no attempt")
  func pingInvalidDSN() async {
    #expect(await client.ping(dsn: "host=127.0.0.1 port", timeout: .seconds(3)) == .noAttempt)
  }

  @Test("SELECT 1 through a URL and through a key=value DSN")
  func selectOne() async throws {
    let url = try SystemTestHarness.databaseURL()
    let conninfo = try SystemTestHarness.postgres().conninfo()

    #expect(try await client.queryNumber(dsn: url, query: "SELECT 1", timeout: .seconds(5)) == 1)
    #expect(try await client.queryNumber(dsn: conninfo, query: "SELECT 1", timeout: .seconds(5)) == 1)
  }

  @Test(
    "numbers and booleans read as numbers",
    arguments: [
      ("SELECT true", 1.0), ("SELECT false", 0.0), ("SELECT 2.5::numeric", 2.5), ("SELECT -7::bigint", -7.0),
      ("SELECT 0.125::float8", 0.125),
      ("SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid()", 1.0),
    ])
  func numericResults(query: String, expected: Double) async throws {
    let dsn = try SystemTestHarness.databaseURL()

    #expect(try await client.queryNumber(dsn: dsn, query: query, timeout: .seconds(5)) == expected)
  }

  @Test("placeholders take text parameters")
  func parameters() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    let value = try await client.queryNumber(
      dsn: dsn, query: "SELECT $1::int + $2::int", parameters: ["40", "2"], timeout: .seconds(5))

    #expect(value == 42)
  }

  @Test("a query slower than the timeout is a statement timeout, within about 2 s")
  func statementTimeout() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    let (error, elapsed) = await timedError { () async throws(PostgresError) in
      _ = try await client.queryNumber(dsn: dsn, query: "SELECT 1 FROM pg_sleep(3)", timeout: .seconds(1))
    }

    #expect(error == .statementTimeout(after: .seconds(1)))
    #expect(error?.description.hasPrefix("statement timeout after 1s (SQLSTATE 57014)") == true)
    #expect(elapsed >= .milliseconds(900))
    // Connect (SCRAM) plus the 1 s timeout; under a full parallel test run on two cores
    // the connect alone can take a few hundred milliseconds.
    #expect(elapsed < .milliseconds(2500))
  }

  @Test(
    "a wrong password fails without showing the password",
    arguments: [false, true])
  func wrongPassword(asURL: Bool) async throws {
    let harness = try SystemTestHarness.postgres()
    let wrong = "Wr0ng-Pa55word-xyzzy"
    let dsn =
      asURL
      ? "postgresql://\(harness.user):\(wrong)@\(harness.host):\(harness.port)/\(harness.database)"
      : harness.conninfo(password: wrong)

    let (error, _) = await timedError { () async throws(PostgresError) in
      _ = try await client.queryNumber(dsn: dsn, query: "SELECT 1", timeout: .seconds(5))
    }

    let failure = try #require(error)
    guard case .connectionFailed(let message) = failure else {
      Issue.record("expected connectionFailed, got \(failure)")
      return
    }
    #expect(message.contains("password authentication failed"))
    #expect(!failure.description.contains(wrong))
    #expect(!failure.description.contains(dsn))
    #expect(!String(describing: failure).contains(wrong))
  }

  @Test("a closed port is a connection failure naming the address")
  func connectClosedPort() async throws {
    let port = try closedLoopbackPort()

    let (error, elapsed) = await timedError { () async throws(PostgresError) in
      _ = try await client.queryNumber(
        dsn: "postgresql://u:hunter2@127.0.0.1:\(port)/db", query: "SELECT 1", timeout: .seconds(3))
    }

    let failure = try #require(error)
    guard case .connectionFailed(let message) = failure else {
      Issue.record("expected connectionFailed, got \(failure)")
      return
    }
    #expect(message.contains("127.0.0.1"))
    #expect(message.contains("\(port)"))
    #expect(message.contains("Connection refused"))
    #expect(!failure.description.contains("hunter2"))
    #expect(elapsed < .seconds(2))
  }

  @Test("a non-numeric value is named in the error")
  func notNumeric() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    let (error, _) = await timedError { () async throws(PostgresError) in
      _ = try await client.queryNumber(dsn: dsn, query: "SELECT 'degraded'", timeout: .seconds(5))
    }

    #expect(error == .notNumeric(value: "degraded"))
    #expect(error?.description == #"query returned "degraded", not a number"#)
  }

  @Test("zero rows is no rows")
  func zeroRows() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    let (error, _) = await timedError { () async throws(PostgresError) in
      _ = try await client.queryNumber(dsn: dsn, query: "SELECT 1 WHERE false", timeout: .seconds(5))
    }

    #expect(error == .noRows)
  }

  @Test("NULL and non-finite values are not numbers")
  func nullAndNonFinite() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    let (null, _) = await timedError { () async throws(PostgresError) in
      _ = try await client.queryNumber(dsn: dsn, query: "SELECT NULL::int", timeout: .seconds(5))
    }
    let (nan, _) = await timedError { () async throws(PostgresError) in
      _ = try await client.queryNumber(dsn: dsn, query: "SELECT 'NaN'::float8", timeout: .seconds(5))
    }
    let (infinity, _) = await timedError { () async throws(PostgresError) in
      _ = try await client.queryNumber(dsn: dsn, query: "SELECT '-Infinity'::float8", timeout: .seconds(5))
    }

    #expect(null == .nullValue)
    #expect(nan == .nonFinite(value: "NaN"))
    #expect(infinity == .nonFinite(value: "-Infinity"))
  }

  @Test("a server error keeps its SQLSTATE and message")
  func queryError() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    let (error, _) = await timedError { () async throws(PostgresError) in
      _ = try await client.queryNumber(
        dsn: dsn, query: "SELECT * FROM no_such_table_here", timeout: .seconds(5))
    }

    #expect(
      error == .queryFailed(sqlstate: "42P01", message: #"relation "no_such_table_here" does not exist"#))
    #expect(
      error?.description == #"query failed (SQLSTATE 42P01): relation "no_such_table_here" does not exist"#)
  }

  @Test("execute returns columns, rows, NULLs and the command tag")
  func executeRows() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    let result = try await client.execute(
      dsn: dsn,
      query:
        "SELECT n, CASE WHEN n = 2 THEN NULL ELSE 'row ' || n END AS label FROM generate_series(1, 3) AS n",
      timeout: .seconds(5))

    #expect(result.columns == ["n", "label"])
    #expect(result.rows == [["1", "row 1"], ["2", nil], ["3", "row 3"]])
    #expect(result.commandTag == "SELECT 3")
    #expect(result.totalRowCount == 3)
    #expect(!result.isTruncated)
  }

  @Test("execute keeps at most maxRows rows and reports the total")
  func executeTruncates() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    let result = try await client.execute(
      dsn: dsn, query: "SELECT generate_series(1, 50)", timeout: .seconds(5), maxRows: 10)

    #expect(result.rows.count == 10)
    #expect(result.totalRowCount == 50)
    #expect(result.isTruncated)
  }

  @Test("execute reports the command tag and affected rows of a data change")
  func executeMutation() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    // A temporary table: a real write that vanishes with the session.
    let created = try await client.execute(
      dsn: dsn, query: "CREATE TEMP TABLE rollback_probe AS SELECT generate_series(1, 3) AS n",
      timeout: .seconds(5))
    let block = try await client.execute(
      dsn: dsn, query: "DO $$ BEGIN PERFORM 1; END $$", timeout: .seconds(5))

    #expect(created.commandTag == "SELECT 3")
    #expect(created.affectedRows == 3)
    #expect(created.columns.isEmpty)
    #expect(block.commandTag == "DO")
    #expect(block.affectedRows == nil)
  }

  @Test("the session carries application_name and the statement timeout")
  func sessionSettings() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    let result = try await client.execute(
      dsn: dsn,
      query: "SELECT current_setting('application_name'), current_setting('statement_timeout')",
      timeout: .milliseconds(1500))

    #expect(result.rows == [["rollback", "1500ms"]])
  }

  @Test("options already in the DSN are kept beside the statement timeout")
  func dsnOptionsKept() async throws {
    let dsn = try SystemTestHarness.postgres().conninfo() + " options='-c work_mem=7MB'"

    let result = try await client.execute(
      dsn: dsn, query: "SELECT current_setting('work_mem'), current_setting('statement_timeout')",
      timeout: .seconds(2))

    #expect(result.rows == [["7MB", "2s"]])
  }

  @Test("an empty query is an error, not a hang")
  func emptyQuery() async throws {
    let dsn = try SystemTestHarness.databaseURL()

    let (error, _) = await timedError { () async throws(PostgresError) in
      _ = try await client.execute(dsn: dsn, query: "", timeout: .seconds(5))
    }

    #expect(error == .queryFailed(sqlstate: "42601", message: "the query is empty"))
  }

  @Test("an unparseable DSN is refused without quoting it")
  func invalidDSN() async throws {
    let (error, _) = await timedError { () async throws(PostgresError) in
      _ = try await client.queryNumber(
        dsn: "host=x password=abc def", query: "SELECT 1", timeout: .seconds(1))
    }

    let failure = try #require(error)
    guard case .invalidConnectionString = failure else {
      Issue.record("expected invalidConnectionString, got \(failure)")
      return
    }
    #expect(!failure.description.contains("abc"))
    #expect(!failure.description.contains("def"))
  }

  @Test("a server that accepts but never speaks fails within the timeout")
  func silentServer() async throws {
    let server = try HTTPLoopbackServer(reply: .hang)
    defer { server.stop() }

    let (error, elapsed) = await timedError { () async throws(PostgresError) in
      _ = try await client.queryNumber(
        dsn: "host=127.0.0.1 port=\(server.port) user=u password=p dbname=d sslmode=disable",
        query: "SELECT 1", timeout: .seconds(2))
    }

    guard case .connectionFailed(let message) = try #require(error) else {
      Issue.record("expected connectionFailed, got \(String(describing: error))")
      return
    }
    #expect(message.contains("timeout"))
    #expect(elapsed < .seconds(3))
  }

  @Test("cancelling the task stops a long query, on the server too")
  func cancellation() async throws {
    let dsn = try SystemTestHarness.databaseURL()
    let client = client
    let marker = "rollback_cancel_probe_\(UInt32.random(in: 0...UInt32.max))"
    let task = Task { () async throws(PostgresError) -> Double in
      try await client.queryNumber(
        dsn: dsn, query: "SELECT 1 FROM pg_sleep(10) /* \(marker) */", timeout: .seconds(20))
    }
    try await Task.sleep(for: .milliseconds(500))
    // Timed from the cancellation, not from the start: connecting is not what is measured (it
    // takes longer on a loaded machine), how soon a cancelled query gives up is.
    let cancelled = ContinuousClock.now
    task.cancel()
    let result = await task.result
    let cancelledAfter = ContinuousClock.now - cancelled
    let (running, _) = await repeatUntil(for: .seconds(3)) {
      try? await client.queryNumber(
        dsn: dsn,
        query: "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1",
        parameters: ["%/* \(marker) */%"], timeout: .seconds(5))
    } until: {
      $0 == 0
    }

    #expect(throws: PostgresError.cancelled) { try result.get() }
    #expect(cancelledAfter < .milliseconds(1500))
    #expect(running == 0, "the statement kept running on the server")
  }

  @Test("concurrent queries each get their own connection")
  func concurrentQueries() async throws {
    let dsn = try SystemTestHarness.databaseURL()
    let client = client

    let (values, elapsed) = try await timed {
      try await withThrowingTaskGroup(of: Double.self) { group in
        for index in 1...8 {
          group.addTask {
            try await client.queryNumber(
              dsn: dsn, query: "SELECT $1::int FROM pg_sleep(0.5)", parameters: ["\(index)"],
              timeout: .seconds(5))
          }
        }
        return try await group.reduce(into: [Double]()) { $0.append($1) }
      }
    }

    #expect(values.sorted() == (1...8).map(Double.init))
    #expect(elapsed < .seconds(3))
  }
}

@Suite("PostgresClient number parsing")
struct PostgresNumberTests {
  @Test(
    "PostgreSQL text forms",
    arguments: [("1", 1.0), ("t", 1.0), ("f", 0.0), ("-3.5", -3.5), ("1e3", 1000.0), ("0.000", 0.0)])
  func parses(text: String, expected: Double) throws {
    #expect(try PostgresClient.number(from: text) == expected)
  }

  @Test("other text is not a number", arguments: ["", "abc", "0x10", "1,5", "12 apples"])
  func rejects(text: String) {
    #expect(throws: PostgresError.self) { try PostgresClient.number(from: text) }
  }
}
