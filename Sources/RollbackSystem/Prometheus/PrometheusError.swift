import Foundation

/// Why a Prometheus query produced no usable number.
///
/// Each of these makes a signal **unknown**, never healthy. Descriptions are short and
/// lowercase (they appear in `assess` output next to the signal) and never contain the
/// bearer token or URL userinfo.
public enum PrometheusError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Nothing listens at the Prometheus address (`host:port`).
  case connectionRefused(endpoint: String)
  /// The query took longer than its timeout.
  case timeout(after: Duration)
  /// The API answered with an error envelope: HTTP status, `errorType`, `error`.
  case httpStatus(code: Int, errorType: String, error: String)
  /// The response is not a Prometheus API envelope (a proxy page, another server). The
  /// excerpt is short, single-line and redacted.
  case notAPIResponse(status: Int, excerpt: String)
  /// The query returned an empty vector: no such series, stale, or filtered out.
  case noData
  /// The value is `NaN`, `+Inf` or `-Inf`, as Prometheus wrote it.
  case nonFinite(value: String)
  /// The result is a matrix or a string; only instant vectors and scalars are numbers.
  case unsupportedResultType(String)
  /// Several series came back and no reduction was asked for.
  case multipleSeries(count: Int)
  /// Any other transport failure (DNS, TLS, response too large, cancelled).
  case transport(HTTPError)

  /// A lowercase, actionable explanation without secrets.
  public var description: String {
    switch self {
    case .connectionRefused(let endpoint):
      return "connection refused at \(endpoint)"
    case .timeout(let after):
      return "timeout after \(after.compactText)"
    case .httpStatus(let code, let errorType, let error):
      return "HTTP \(code) \(errorType): \(error)"
    case .notAPIResponse(let status, let excerpt):
      let shown = excerpt.isEmpty ? "empty body" : "\"\(excerpt)\""
      return
        "not a Prometheus API response (HTTP \(status)): \(shown): check that the url points at Prometheus"
    case .noData:
      return "no data (empty result)"
    case .nonFinite(let value):
      return "value is \(value)"
    case .unsupportedResultType(let type):
      return "result type \(type) is not a number: use an instant vector or scalar expression"
    case .multipleSeries(let count):
      return "query returned \(count) series: set reduce (max, min, sum, avg) or narrow the query"
    case .transport(let error):
      return error.description
    }
  }
}
