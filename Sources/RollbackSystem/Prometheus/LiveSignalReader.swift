import Foundation
import RollbackCore

/// Reads signals from the environment's Prometheus and Postgres, concurrently.
public struct LiveSignalReader: SignalReader {
  /// The resolver for the selected environment (query placeholders, settings).
  public let resolver: Resolver
  /// The process environment (tokens and connection strings are read from it).
  public let environment: [String: String]
  /// At most this many reads at once.
  public let concurrency: Int

  /// Creates a reader.
  public init(resolver: Resolver, environment: [String: String], concurrency: Int = 16) {
    self.resolver = resolver
    self.environment = environment
    self.concurrency = max(1, concurrency)
  }

  /// Reads every signal; the results keep the input order.
  public func read(_ signals: [Signal]) async -> [SignalReading] {
    var results = [SignalReading?](repeating: nil, count: signals.count)
    let sessions = PostgresSessionPool()
    await withTaskGroup(of: (Int, SignalReading).self) { group in
      var next = 0
      func start() {
        guard next < signals.count else { return }
        let index = next
        let signal = signals[index]
        next += 1
        group.addTask { (index, await readOne(signal, sessions: sessions)) }
      }
      for _ in 0..<min(concurrency, signals.count) { start() }
      for await (index, reading) in group {
        results[index] = reading
        start()
      }
    }
    return results.enumerated().map { index, reading in
      reading
        ?? SignalReading(
          name: signals[index].name, source: signals[index].sourceName, unit: signals[index].unit, value: nil,
          error: "not read")
    }
  }

  func readOne(_ signal: Signal, sessions: PostgresSessionPool = PostgresSessionPool()) async -> SignalReading
  {
    let clock = ContinuousClock()
    let started = clock.now
    func seconds() -> Double {
      let elapsed = clock.now - started
      return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
    func unknown(_ reason: String) -> SignalReading {
      SignalReading(
        name: signal.name, source: signal.sourceName, unit: signal.unit, value: nil, error: reason,
        duration: seconds())
    }
    var bag = DiagnosticBag()
    switch signal.source {
    case .manual:
      return unknown("not set; pass --signal \(signal.name)=VALUE")
    case .prometheus(let template):
      let (client, query): (PrometheusClient, String)
      switch PrometheusSignalQuery.make(template, resolver: resolver, environment: environment) {
      case .success(let made): (client, query) = (made.client, made.query)
      case .failure(let reason): return unknown(reason.description)
      }
      do {
        let result = try await client.query(query)
        let reduction = PrometheusReduction(rawValue: signal.reduce.rawValue) ?? .max
        let value = try result.value(reducedBy: reduction)
        return SignalReading(
          name: signal.name, source: "prometheus", unit: signal.unit, value: value, error: nil,
          seriesCount: result.seriesCount, warnings: result.warnings, duration: seconds())
      } catch {
        return unknown(error.description)
      }
    case .postgres(let template):
      guard let settings = resolver.environment.postgres else {
        return unknown("environment '\(resolver.environment.name)' has no postgres settings")
      }
      // Placeholders are bound parameters. A query that is one runbook variable and
      // nothing else is the variable's text (a lone parameter is no statement); like every
      // probe it runs read-only.
      let query: String
      var parameters: [String] = []
      if template.parts.count == 1, case .variable = template.parts[0] {
        query = resolver.resolve(template, into: &bag).value
      } else {
        let parameterized = resolver.context.resolveSQL(template, into: &bag)
        query = parameterized.query
        parameters = parameterized.parameters
      }
      if let problem = bag.errors.first { return unknown(problem.message) }
      guard let dsn = environment[settings.dsnEnv], !dsn.isEmpty else {
        return unknown("\(settings.dsnEnv) is not set")
      }
      do {
        let value = try await sessions.queryNumber(
          dsn: dsn, query: query, parameters: parameters, timeout: .milliseconds(Int(settings.timeout * 1000))
        )
        return SignalReading(
          name: signal.name, source: "postgres", unit: signal.unit, value: value, error: nil,
          duration: seconds())
      } catch {
        return unknown(error.description)
      }
    }
  }
}

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

/// A Prometheus signal's resolved query and the client for its environment's server.
public struct PrometheusSignalQuery: Sendable {
  /// Why a signal's query cannot be sent.
  public struct Problem: Error, CustomStringConvertible {
    /// What is missing, as shown beside the signal.
    public let description: String
  }

  /// The client, with the environment's URL, token and timeout.
  public let client: PrometheusClient
  /// The query with its placeholders resolved.
  public let query: String

  /// Resolves `template` and the environment's Prometheus settings; the token variable
  /// must be set when the settings name one.
  public static func make(
    _ template: Template, resolver: Resolver, environment: [String: String]
  ) -> Result<PrometheusSignalQuery, Problem> {
    guard let settings = resolver.environment.prometheus else {
      return .failure(
        Problem(description: "environment '\(resolver.environment.name)' has no prometheus settings"))
    }
    var bag = DiagnosticBag()
    let query = resolver.resolve(template, into: &bag).value
    let url = resolver.resolve(settings.url, into: &bag).value
    if let problem = bag.errors.first { return .failure(Problem(description: problem.message)) }
    var token: String?
    if let tokenEnv = settings.tokenEnv {
      guard let value = environment[tokenEnv], !value.isEmpty else {
        return .failure(Problem(description: "token variable \(tokenEnv) is not set"))
      }
      token = value
    }
    let client = PrometheusClient(
      baseURL: url, bearerToken: token, timeout: .milliseconds(Int(settings.timeout * 1000)))
    return .success(PrometheusSignalQuery(client: client, query: query))
  }
}
