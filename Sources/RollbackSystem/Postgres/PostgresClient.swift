import Foundation

/// Probes and queries PostgreSQL over libpq, one short connection per call, each on its
/// own thread (see ``BlockingExecutor``).
///
/// The DSN is a `postgresql://` URL or a `key=value` conninfo string, read by the caller
/// from the environment variable the runbook names. One `timeout` bounds both the
/// connection (in total, over every host the DSN lists; pings still use libpq's
/// `connect_timeout`, per host) and the statement (`statement_timeout`, milliseconds). The client itself gives up 2 s after
/// the statement timeout if the server goes silent. Errors never contain the password
/// or the DSN.
public struct PostgresClient: Sendable {
  /// The `application_name` the server sees (in `pg_stat_activity`).
  public var applicationName: String

  /// Creates a client that identifies itself as `applicationName`.
  public init(applicationName: String = "rollback") {
    self.applicationName = applicationName
  }

  /// Asks whether the server accepts connections, without logging in (`PQpingParams`).
  ///
  /// An invalid DSN gives ``PostgresPingResult/noAttempt``.
  public func ping(dsn: String, timeout: Duration) async -> PostgresPingResult {
    let applicationName = applicationName
    return await BlockingExecutor.run(name: "rollback.libpq") { _ in
      guard
        let parameters = try? PostgresConnectionParameters(
          dsn: dsn, connectTimeout: timeout, statementTimeout: nil, applicationName: applicationName)
      else { return PostgresPingResult.noAttempt }
      return PostgresSession.ping(parameters)
    }
  }

  /// Runs a query in a read-only transaction and reads the first column of the first
  /// row as a number; the statement is stopped once that row has arrived.
  ///
  /// Booleans count as numbers (`t` is 1, `f` is 0).
  ///
  /// - Parameters:
  ///   - dsn: the connection string.
  ///   - query: one SQL statement; `$1`, `$2`… refer to `parameters`.
  ///   - parameters: text values for the placeholders; nil is NULL.
  ///   - timeout: the connect and statement timeout.
  /// - Throws: ``PostgresError``: connection, timeout, query, ``PostgresError/noRows``,
  ///   ``PostgresError/nullValue``, ``PostgresError/notNumeric(value:)``,
  ///   ``PostgresError/nonFinite(value:)``.
  public func queryNumber(
    dsn: String,
    query: String,
    parameters: [String?] = [],
    timeout: Duration
  ) async throws(PostgresError) -> Double {
    let result = try await execute(
      dsn: dsn, query: query, parameters: parameters, readOnly: true, firstRowOnly: true, timeout: timeout,
      maxRows: 1)
    guard let row = result.rows.first, let first = row.first else { throw .noRows }
    guard let text = first else { throw .nullValue }
    return try Self.number(from: text)
  }

  /// Runs one statement and returns its columns, rows (as text) and command tag.
  ///
  /// - Parameters:
  ///   - dsn: the connection string.
  ///   - query: one SQL statement; `$1`, `$2`… refer to `parameters`.
  ///   - parameters: text values for the placeholders; nil is NULL.
  ///   - readOnly: run it in a read-only transaction, so a statement that writes fails
  ///     (SQLSTATE 25006) instead of writing.
  ///   - firstRowOnly: stop the statement once its first row arrives (the total then
  ///     counts the rows read so far).
  ///   - timeout: the connect and statement timeout; the connection, over every host the
  ///     DSN lists, takes at most this long in total.
  ///   - maxRows: the most rows kept in the result (the total is still reported).
  /// - Throws: ``PostgresError``.
  public func execute(
    dsn: String,
    query: String,
    parameters: [String?] = [],
    readOnly: Bool = false,
    firstRowOnly: Bool = false,
    timeout: Duration,
    maxRows: Int = 1000
  ) async throws(PostgresError) -> PostgresQueryResult {
    let applicationName = applicationName
    return try await BlockingExecutor.run(name: "rollback.libpq") {
      (cancellation) throws(PostgresError) -> PostgresQueryResult in
      let parameterSet = try PostgresConnectionParameters(
        dsn: dsn, connectTimeout: timeout, statementTimeout: timeout, applicationName: applicationName,
        readOnly: readOnly)
      let session = try PostgresSession.connect(parameterSet, connectTimeout: timeout)
      return try session.execute(
        query, parameters: parameters, statementTimeout: timeout, maxRows: maxRows,
        firstRowOnly: firstRowOnly,
        cancellation: cancellation)
    }
  }

  /// Reads PostgreSQL's text form of a number or boolean.
  static func number(from text: String) throws(PostgresError) -> Double {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    switch trimmed {
    case "t", "true": return 1
    case "f", "false": return 0
    case "NaN", "Infinity", "-Infinity": throw .nonFinite(value: trimmed)
    default: break
    }
    let decimal = trimmed.allSatisfy { $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }
    guard decimal, let value = Double(trimmed), value.isFinite else {
      throw .notNumeric(value: trimmed.count > 40 ? String(trimmed.prefix(40)) + "…" : trimmed)
    }
    return value
  }
}
