import Foundation

/// A harness variable the test needs is not set.
struct MissingHarnessVariable: Error, CustomStringConvertible {
  let name: String

  var description: String {
    "\(name) is not set: run these tests under the harness "
      + "(make test, or scripts/harness/with-harness swift test --filter RollbackSystemTests)"
  }
}

/// Reads the environment exported by `scripts/harness/up` (see docs/CONTRACTS-dev.md).
/// A missing variable fails the test with a clear message; it never skips.
enum SystemTestHarness {
  static func value(_ name: String) throws -> String {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
      throw MissingHarnessVariable(name: name)
    }
    return value
  }

  /// `ROLLBACK_TEST_DATABASE_URL`: postgresql://USER:PASSWORD@127.0.0.1:PORT/DB.
  static func databaseURL() throws -> String { try value("ROLLBACK_TEST_DATABASE_URL") }

  /// `ROLLBACK_TEST_PROM_URL`: http://127.0.0.1:PORT.
  static func prometheusURL() throws -> String { try value("ROLLBACK_TEST_PROM_URL") }

  /// `ROLLBACK_TEST_METRICS_FILE`: the text-format file Prometheus scrapes every second.
  static func metricsFile() throws -> String { try value("ROLLBACK_TEST_METRICS_FILE") }

  /// The PostgreSQL connection pieces, for building key=value DSNs.
  struct Postgres {
    let host: String
    let port: String
    let user: String
    let password: String
    let database: String

    /// A libpq key=value DSN, optionally with another password.
    func conninfo(password override: String? = nil) -> String {
      let quoted = (override ?? password).replacingOccurrences(of: "\\", with: "\\\\")
        .replacingOccurrences(of: "'", with: "\\'")
      return "host=\(host) port=\(port) user=\(user) password='\(quoted)' dbname=\(database)"
    }
  }

  static func postgres() throws -> Postgres {
    Postgres(
      host: try value("ROLLBACK_TEST_PG_HOST"),
      port: try value("ROLLBACK_TEST_PG_PORT"),
      user: try value("ROLLBACK_TEST_PG_USER"),
      password: try value("ROLLBACK_TEST_PG_PASSWORD"),
      database: try value("ROLLBACK_TEST_PG_DB"))
  }
}

/// How long `body` took on the monotonic clock, with its result.
func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
  let start = ContinuousClock.now
  let value = try await body()
  return (value, ContinuousClock.now - start)
}

/// Runs `body` and returns the error it threw (typed), or nil, with the elapsed time.
func timedError<Failure: Error>(
  _ body: () async throws(Failure) -> Void
) async -> (Failure?, Duration) {
  let start = ContinuousClock.now
  do throws(Failure) {
    try await body()
    return (nil, ContinuousClock.now - start)
  } catch {
    return (error, ContinuousClock.now - start)
  }
}

/// Polls `body` until it returns a value satisfying `done`, for at most `limit`.
func repeatUntil<T>(
  for limit: Duration,
  every interval: Duration = .milliseconds(250),
  _ body: () async -> T,
  until done: (T) -> Bool
) async -> (T, Duration) {
  let start = ContinuousClock.now
  var last = await body()
  while !done(last), ContinuousClock.now - start < limit {
    try? await Task.sleep(for: interval)
    last = await body()
  }
  return (last, ContinuousClock.now - start)
}
