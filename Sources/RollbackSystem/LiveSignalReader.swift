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
    await withTaskGroup(of: (Int, SignalReading).self) { group in
      var next = 0
      func start() {
        guard next < signals.count else { return }
        let index = next
        let signal = signals[index]
        next += 1
        group.addTask { (index, await readOne(signal)) }
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

  func readOne(_ signal: Signal) async -> SignalReading {
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
      guard let settings = resolver.environment.prometheus else {
        return unknown("environment '\(resolver.environment.name)' has no prometheus settings")
      }
      let query = resolver.resolve(template, into: &bag).value
      let url = resolver.resolve(settings.url, into: &bag).value
      if let problem = bag.errors.first { return unknown(problem.message) }
      var token: String?
      if let tokenEnv = settings.tokenEnv {
        guard let value = environment[tokenEnv], !value.isEmpty else {
          return unknown("token variable \(tokenEnv) is not set")
        }
        token = value
      }
      let client = PrometheusClient(baseURL: url, bearerToken: token, timeout: .milliseconds(Int(settings.timeout * 1000)))
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
      let query = resolver.resolve(template, into: &bag).value
      if let problem = bag.errors.first { return unknown(problem.message) }
      guard let dsn = environment[settings.dsnEnv], !dsn.isEmpty else {
        return unknown("\(settings.dsnEnv) is not set")
      }
      do {
        let value = try await PostgresClient().queryNumber(
          dsn: dsn, query: query, timeout: .milliseconds(Int(settings.timeout * 1000)))
        return SignalReading(
          name: signal.name, source: "postgres", unit: signal.unit, value: value, error: nil, duration: seconds())
      } catch {
        return unknown(error.description)
      }
    }
  }
}
