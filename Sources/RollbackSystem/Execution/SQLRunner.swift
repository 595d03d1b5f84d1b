import Foundation
import RollbackCore

/// Runs an `sql` step's statement: given the database effect, the connection string and where
/// its rows are said.
struct SQLRunner {
  /// Runs one statement.
  var postgres: @Sendable (PostgresStatement) async throws(PostgresError) -> PostgresQueryResult
  /// The connection string; nil or empty when its variable is not set.
  var dsn: String?
  /// The variable that should hold it, for the error.
  var dsnEnv: String?
  /// Says a line of the result.
  var say: (String) -> Void

  /// Runs the statement (read-only when asked); cancellation throws.
  func run(_ query: ParameterizedSQL, readOnly: Bool, timeout: Double) async throws -> AttemptResult {
    guard let dsn, !dsn.isEmpty else {
      return .fail(query.display, "no database: \(dsnEnv ?? "postgres settings") not set")
    }
    do {
      let result = try await postgres(
        PostgresStatement(
          dsn: dsn, query: query.query, parameters: query.parameters, readOnly: readOnly,
          timeout: .milliseconds(Int(timeout * 1000)), maxRows: 50))
      var lines = [result.columns.joined(separator: " | ")]
      for row in result.rows.prefix(20) { lines.append(row.map { $0 ?? "NULL" }.joined(separator: " | ")) }
      if result.rows.count > 20 || result.isTruncated { lines.append("… \(result.totalRowCount) rows") }
      for line in lines where !result.columns.isEmpty { say("    │ \(line)") }
      var outcome = AttemptResult.ok("\(query.display) → \(result.commandTag)")
      outcome.output = lines.joined(separator: "\n")
      return outcome
    } catch {
      if case .cancelled = error { throw CancellationError() }
      return .fail(query.display, error.description)
    }
  }
}
