import Foundation

/// Why a PostgreSQL probe or statement failed.
///
/// Descriptions are lowercase and never contain the password or the connection
/// string; libpq's own text (which may name the host and port) is kept, with anything
/// resembling the password masked.
public enum PostgresError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The connection string does not parse (the reason has quoted fragments removed).
  case invalidConnectionString(reason: String)
  /// The connection failed: refused, unreachable, authentication, unknown database….
  case connectionFailed(message: String)
  /// The server answered but is starting up, shutting down or in crash recovery.
  case serverStartingOrStopping
  /// The statement ran past the statement timeout (SQLSTATE 57014).
  case statementTimeout(after: Duration)
  /// The server stopped answering: nothing arrived within the timeout plus a grace period.
  case serverNotResponding(after: Duration)
  /// The server rejected the statement.
  case queryFailed(sqlstate: String, message: String)
  /// The statement returned no rows, so there is no number to read.
  case noRows
  /// The first column of the first row is NULL.
  case nullValue
  /// The first column of the first row is not a number (the value, shortened).
  case notNumeric(value: String)
  /// The first column of the first row is `NaN` or an infinity.
  case nonFinite(value: String)
  /// The awaiting task was cancelled.
  case cancelled

  /// A lowercase, actionable explanation without secrets.
  public var description: String {
    switch self {
    case .invalidConnectionString(let reason):
      return "invalid connection string: \(reason)"
    case .connectionFailed(let message):
      return "could not connect to postgres: \(message)"
    case .serverStartingOrStopping:
      return "postgres is starting up or shutting down: retry when it accepts connections"
    case .statementTimeout(let after):
      return "statement timeout after \(after.compactText) (SQLSTATE 57014): the query ran too long"
    case .serverNotResponding(let after):
      return "no answer from postgres within \(after.compactText): the server or the network may be stalled"
    case .queryFailed(let sqlstate, let message):
      return "query failed (SQLSTATE \(sqlstate)): \(message)"
    case .noRows:
      return "query returned no rows: a number needs one row"
    case .nullValue:
      return "query returned NULL, not a number"
    case .notNumeric(let value):
      return "query returned \"\(value)\", not a number"
    case .nonFinite(let value):
      return "value is \(value)"
    case .cancelled:
      return "query cancelled"
    }
  }
}

/// The outcome of `PQpingParams`: whether a server accepts connections, without logging in.
public enum PostgresPingResult: String, Sendable, Equatable, CustomStringConvertible {
  /// The server accepts connections (`PQPING_OK`).
  case ok
  /// The server answered but refuses connections: starting, stopping, recovering
  /// (`PQPING_REJECT`).
  case reject
  /// Nothing answered: down, wrong host or port, or a firewall (`PQPING_NO_RESPONSE`).
  case noResponse
  /// libpq did not try: the parameters are invalid (`PQPING_NO_ATTEMPT`).
  case noAttempt

  /// A lowercase explanation.
  public var description: String {
    switch self {
    case .ok: return "accepting connections"
    case .reject: return "rejecting connections (starting up or shutting down)"
    case .noResponse: return "no response"
    case .noAttempt: return "no attempt made: the connection parameters are invalid"
    }
  }
}

/// The rows a statement returned, as text, and its command tag.
public struct PostgresQueryResult: Sendable, Equatable {
  /// The column names, in order.
  public var columns: [String]
  /// The rows (at most the requested maximum); each value is the text form, nil for NULL.
  public var rows: [[String?]]
  /// How many rows the statement returned in all.
  public var totalRowCount: Int
  /// The command tag, for example `SELECT 3` or `UPDATE 1`.
  public var commandTag: String
  /// The rows affected by INSERT, UPDATE, DELETE, MERGE, MOVE, FETCH or COPY, if reported.
  public var affectedRows: Int?

  /// Creates a result.
  public init(
    columns: [String], rows: [[String?]], totalRowCount: Int, commandTag: String, affectedRows: Int?
  ) {
    self.columns = columns
    self.rows = rows
    self.totalRowCount = totalRowCount
    self.commandTag = commandTag
    self.affectedRows = affectedRows
  }

  /// Whether rows were left out because of the row limit.
  public var isTruncated: Bool { rows.count < totalRowCount }
}
