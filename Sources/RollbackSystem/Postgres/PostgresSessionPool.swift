import Foundation
import RollbackCore

/// The PostgreSQL connections of one ``LiveSignalReader/read(_:)``, shared by its signals.
///
/// Every libpq connection costs a SCRAM handshake (about 15 ms of CPU on each side) and a
/// server process, which matters most when the incident is an exhausted connection pool.
/// A read takes an idle connection to its DSN. The first read of a DSN opens one and the
/// others wait for it; once it is open, a read waits at most ``patience`` for a busy
/// connection to come free before opening its own. Quick probes so run one after another
/// on one connection, and a slow query holds the others back by ``patience`` at most.
/// When the first connection fails, the reads waiting for it get the same error rather
/// than trying again one by one.
final class PostgresSessionPool: @unchecked Sendable {
  /// A session handed between threads; only the read that took it uses it.
  private final class Lease: @unchecked Sendable {
    let session: PostgresSession
    init(_ session: PostgresSession) { self.session = session }
  }

  private enum Turn {
    case session(Lease)
    case failed(PostgresError)
    case wait
    case open
  }

  /// How long a read waits for a busy connection before opening its own.
  let patience: Duration
  /// The `application_name` the server sees.
  let applicationName: String
  private let lock = NSLock()
  private var idle: [String: [Lease]] = [:]
  /// Per DSN: absent before the first read, false while its first connection is being opened.
  private var firstReady: [String: Bool] = [:]
  private var failures: [String: PostgresError] = [:]

  init(patience: Duration = .milliseconds(40), applicationName: String = "rollback") {
    self.patience = patience
    self.applicationName = applicationName
  }

  /// Runs `query` on a shared read-only connection and reads the first column of the
  /// first row as a number (the statement is stopped once that row arrives), like ``PostgresClient/queryNumber(dsn:query:parameters:timeout:)``.
  func queryNumber(dsn: String, query: String, parameters values: [String] = [], timeout: Duration)
    async throws(PostgresError) -> Double
  {
    let parameters = try PostgresConnectionParameters(
      dsn: dsn, connectTimeout: timeout, statementTimeout: timeout, applicationName: applicationName,
      readOnly: true)
    var lease: Lease?
    var giveUp: ContinuousClock.Instant?
    waiting: while true {
      switch turn(dsn, giveUp: &giveUp) {
      case .session(let taken):
        lease = taken
        break waiting
      case .failed(let error):
        throw error
      case .open:
        break waiting
      case .wait:
        do {
          try await Task.sleep(for: .milliseconds(1))
        } catch {
          throw .cancelled
        }
      }
    }
    let opened = lease == nil
    let held = lease
    let (kept, outcome) = await BlockingExecutor.run(name: "rollback.libpq") {
      (cancellation) -> (Lease?, Result<Double, PostgresError>) in
      let current: Lease
      if let held {
        current = held
      } else {
        do throws(PostgresError) {
          current = Lease(try PostgresSession.connect(parameters, connectTimeout: timeout))
          self.connected(dsn)
        } catch {
          return (nil, .failure(error))
        }
      }
      do throws(PostgresError) {
        let result = try current.session.execute(
          query, parameters: values, statementTimeout: timeout, maxRows: 1, firstRowOnly: true,
          cancellation: cancellation)
        guard let row = result.rows.first, let first = row.first else { return (current, .failure(.noRows)) }
        guard let text = first else { return (current, .failure(.nullValue)) }
        return (current, Result { () throws(PostgresError) in try PostgresClient.number(from: text) })
      } catch {
        return (Self.connectionSurvives(error) ? current : nil, .failure(error))
      }
    }
    finish(dsn, opened: opened, kept: kept, outcome: outcome)
    return try outcome.get()
  }

  /// Decides what a waiting read does now.
  private func turn(_ dsn: String, giveUp: inout ContinuousClock.Instant?) -> Turn {
    lock.lock()
    defer { lock.unlock() }
    if let lease = idle[dsn]?.popLast() { return .session(lease) }
    if let failure = failures[dsn] { return .failed(failure) }
    // The first read of a DSN opens at once; the others wait for that first connection.
    guard let ready = firstReady[dsn] else {
      firstReady[dsn] = false
      return .open
    }
    guard ready else { return .wait }
    // Every connection is busy: wait a little for one, then open another.
    let now = ContinuousClock.now
    guard let deadline = giveUp else {
      giveUp = now + patience
      return .wait
    }
    return now >= deadline ? .open : .wait
  }

  /// The first connection to `dsn` is open: waiting reads may now open their own.
  private func connected(_ dsn: String) {
    lock.lock()
    firstReady[dsn] = true
    lock.unlock()
  }

  private func finish(_ dsn: String, opened: Bool, kept: Lease?, outcome: Result<Double, PostgresError>) {
    lock.lock()
    defer { lock.unlock() }
    if opened {
      firstReady[dsn] = true
      if kept == nil, case .failure(let error) = outcome, !Self.connectionSurvives(error) {
        failures[dsn] = error
      }
    }
    if let kept { idle[dsn, default: []].append(kept) }
  }

  /// Whether the connection is still usable after this error (the statement ended).
  private static func connectionSurvives(_ error: PostgresError) -> Bool {
    switch error {
    case .queryFailed, .statementTimeout, .noRows, .nullValue, .notNumeric, .nonFinite: return true
    default: return false
    }
  }
}
