import Foundation
import RollbackCore

/// Reads signals from the environment's Prometheus and Postgres, concurrently.
public struct LiveSignalReader: SignalReader {
  /// The resolver for the selected environment (query placeholders, settings).
  public let resolver: Resolver
  /// The process environment (tokens and connection strings are read from it).
  public let processEnvironment: [String: String]
  /// At most this many reads at once.
  public let concurrency: Int

  /// Creates a reader.
  public init(resolver: Resolver, processEnvironment: [String: String], concurrency: Int = 16) {
    self.resolver = resolver
    self.processEnvironment = processEnvironment
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
    let started = ContinuousClock.now
    switch signal.source {
    case .manual:
      return Self.unknown(signal, "not set; pass --signal \(signal.name)=VALUE", since: started)
    case .prometheus(let template):
      return await readPrometheus(signal, template, since: started)
    case .postgres(let template):
      return await readPostgres(signal, template, sessions: sessions, since: started)
    }
  }

  /// Seconds since `started`.
  static func seconds(since started: ContinuousClock.Instant) -> Double {
    (ContinuousClock.now - started).doubleSeconds
  }

  /// A reading that has no value, with why.
  static func unknown(_ signal: Signal, _ reason: String, since started: ContinuousClock.Instant)
    -> SignalReading
  {
    SignalReading(
      name: signal.name, source: signal.sourceName, unit: signal.unit, value: nil, error: reason,
      duration: seconds(since: started))
  }

  /// An instant query, its series reduced to one value as the signal says.
  func readPrometheus(_ signal: Signal, _ template: Template, since started: ContinuousClock.Instant) async
    -> SignalReading
  {
    let (client, query): (PrometheusClient, String)
    switch PrometheusSignalQuery.make(template, resolver: resolver, processEnvironment: processEnvironment) {
    case .success(let made): (client, query) = (made.client, made.query)
    case .failure(let reason): return Self.unknown(signal, reason.description, since: started)
    }
    do {
      let result = try await client.query(query)
      let reduction = PrometheusReduction(rawValue: signal.reduce.rawValue) ?? .max
      let value = try result.value(reducedBy: reduction)
      return SignalReading(
        name: signal.name, source: "prometheus", unit: signal.unit, value: value, error: nil,
        seriesCount: result.seriesCount, warnings: result.warnings, duration: Self.seconds(since: started))
    } catch {
      return Self.unknown(signal, error.description, since: started)
    }
  }

  /// A read-only query on the environment's database, through the read's shared sessions.
  func readPostgres(
    _ signal: Signal, _ template: Template, sessions: PostgresSessionPool,
    since started: ContinuousClock.Instant
  ) async -> SignalReading {
    guard let settings = resolver.environment.postgres else {
      return Self.unknown(
        signal, "environment '\(resolver.environment.name)' has no postgres settings", since: started)
    }
    // Placeholders are bound parameters. A query that is one runbook variable and
    // nothing else is the variable's text (a lone parameter is no statement); like every
    // probe it runs read-only.
    var bag = DiagnosticBag()
    let query: String
    var parameters: [String] = []
    if template.parts.count == 1, case .variable = template.parts[0] {
      query = resolver.resolve(template, into: &bag).value
    } else {
      let parameterized = resolver.context.resolveSQL(template, into: &bag)
      query = parameterized.query
      parameters = parameterized.parameters
    }
    if let problem = bag.errors.first { return Self.unknown(signal, problem.message, since: started) }
    guard let dsn = processEnvironment[settings.dsnEnv], !dsn.isEmpty else {
      return Self.unknown(signal, "\(settings.dsnEnv) is not set", since: started)
    }
    do {
      let value = try await sessions.queryNumber(
        dsn: dsn, query: query, parameters: parameters, timeout: .milliseconds(Int(settings.timeout * 1000)))
      return SignalReading(
        name: signal.name, source: "postgres", unit: signal.unit, value: value, error: nil,
        duration: Self.seconds(since: started))
    } catch {
      return Self.unknown(signal, error.description, since: started)
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
    _ template: Template, resolver: Resolver, processEnvironment: [String: String]
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
      guard let value = processEnvironment[tokenEnv], !value.isEmpty else {
        return .failure(Problem(description: "token variable \(tokenEnv) is not set"))
      }
      token = value
    }
    let client = PrometheusClient(
      baseURL: url, bearerToken: token, timeout: .milliseconds(Int(settings.timeout * 1000)))
    return .success(PrometheusSignalQuery(client: client, query: query))
  }
}
