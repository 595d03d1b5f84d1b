import Foundation

/// Reads numbers from Prometheus with instant queries (`POST /api/v1/query`).
///
/// Every query has a timeout, sent to the server too so it stops evaluating. The bearer
/// token is a value the caller read from the environment variable the runbook names; it
/// goes only into the `Authorization` header and is masked in every error text.
public struct PrometheusClient: Sendable {
  /// The Prometheus base URL, for example `http://127.0.0.1:9090` (a path prefix is kept).
  public var baseURL: String
  /// The bearer token, if the server needs one.
  public var bearerToken: String?
  /// The limit for one query, connect included.
  public var timeout: Duration
  /// The limit for establishing the connection.
  public var connectTimeout: Duration
  /// The largest response body accepted.
  public var maxBodyBytes: Int
  private let http: HTTPClient

  /// Creates a client for the Prometheus server at `baseURL`.
  ///
  /// - Parameters:
  ///   - baseURL: the server URL, with or without a trailing slash.
  ///   - bearerToken: a token for `Authorization: Bearer`, or nil.
  ///   - timeout: the per-query limit (default 5 s).
  ///   - connectTimeout: the connect limit (default: the smaller of `timeout` and 2 s).
  ///   - maxBodyBytes: the response cap (default 8 MiB).
  ///   - http: the transport.
  public init(
    baseURL: String,
    bearerToken: String? = nil,
    timeout: Duration = .seconds(5),
    connectTimeout: Duration? = nil,
    maxBodyBytes: Int = HTTPRequest.defaultMaxBodyBytes,
    http: HTTPClient = HTTPClient()
  ) {
    self.baseURL = baseURL
    self.bearerToken = bearerToken
    self.timeout = timeout
    self.connectTimeout = connectTimeout ?? min(timeout, .seconds(2))
    self.maxBodyBytes = maxBodyBytes
    self.http = http
  }

  /// Runs an instant query and returns every sample and warning.
  ///
  /// An empty vector is returned as a result with no samples;
  /// ``PrometheusQueryResult/value(reducedBy:)`` turns it into
  /// ``PrometheusError/noData``.
  ///
  /// - Parameters:
  ///   - expression: the PromQL expression.
  ///   - time: the evaluation time, or nil for the server's now.
  /// - Throws: ``PrometheusError``.
  public func query(_ expression: String, at time: Date? = nil) async throws(PrometheusError)
    -> PrometheusQueryResult
  {
    var fields: [(name: String, value: String)] = [
      ("query", expression),
      ("timeout", "\(max(1, timeout.millisecondsRoundedUp))ms"),
    ]
    if let time {
      fields.append(("time", String(format: "%.3f", time.timeIntervalSince1970)))
    }
    return try interpret(try await post(url: queryURL, fields: fields))
  }

  /// Runs a range query (`POST /api/v1/query_range`) and returns every series with its points.
  ///
  /// A series' points keep Prometheus' order (oldest first); a value Prometheus wrote as `NaN`
  /// or an infinity is kept as such (check `isFinite`). No series at all is an empty array.
  ///
  /// - Parameters:
  ///   - expression: the PromQL expression.
  ///   - start: the first evaluation time.
  ///   - end: the last evaluation time.
  ///   - step: seconds between evaluations (at least 1 ms).
  /// - Throws: ``PrometheusError``.
  public func queryRange(_ expression: String, start: Date, end: Date, step: Double)
    async throws(PrometheusError)
    -> [PrometheusRangeSeries]
  {
    let fields: [(name: String, value: String)] = [
      ("query", expression),
      ("start", String(format: "%.3f", start.timeIntervalSince1970)),
      ("end", String(format: "%.3f", max(start, end).timeIntervalSince1970)),
      ("step", String(format: "%.3f", max(0.001, step.isFinite ? step : 1))),
      ("timeout", "\(max(1, timeout.millisecondsRoundedUp))ms"),
    ]
    return try interpretRange(try await post(url: rangeURL, fields: fields))
  }

  /// Sends a form-encoded POST with the client's headers, limits and error mapping.
  private func post(url: String, fields: [(name: String, value: String)]) async throws(PrometheusError)
    -> HTTPResponse
  {
    var headers = [
      HTTPHeader(name: "Content-Type", value: HTTPFormEncoding.contentType),
      HTTPHeader(name: "Accept", value: "application/json"),
    ]
    if let bearerToken, !bearerToken.isEmpty {
      headers.append(HTTPHeader(name: "Authorization", value: "Bearer \(bearerToken)"))
    }
    let request = HTTPRequest(
      method: "POST",
      url: url,
      headers: headers,
      body: Data(HTTPFormEncoding.encode(fields).utf8),
      timeout: timeout,
      connectTimeout: connectTimeout,
      maxBodyBytes: maxBodyBytes
    )
    do {
      return try await http.send(request)
    } catch {
      switch error {
      case .connectionRefused(let url): throw .connectionRefused(endpoint: Redaction.endpoint(of: url))
      case .timeout(let after): throw .timeout(after: after)
      default: throw .transport(error)
      }
    }
  }

  /// Runs an instant query and returns its single number.
  ///
  /// - Parameters:
  ///   - expression: the PromQL expression.
  ///   - reduction: how to combine several series; nil requires exactly one.
  ///   - time: the evaluation time, or nil for the server's now.
  /// - Throws: ``PrometheusError``, including ``PrometheusError/noData`` for an empty
  ///   vector and ``PrometheusError/nonFinite(value:)`` for `NaN` or an infinity.
  public func queryValue(
    _ expression: String,
    reducedBy reduction: PrometheusReduction? = nil,
    at time: Date? = nil
  ) async throws(PrometheusError) -> Double {
    try await query(expression, at: time).value(reducedBy: reduction)
  }

  /// `BASE/api/v1/query`, with any trailing slashes of the base removed.
  var queryURL: String {
    var base = Substring(baseURL)
    while base.hasSuffix("/") { base = base.dropLast() }
    return base + "/api/v1/query"
  }

  /// `BASE/api/v1/query_range`.
  var rangeURL: String { queryURL + "_range" }

  /// The envelope's data of a successful answer, or the matching error.
  private func successfulData(_ response: HTTPResponse) throws(PrometheusError) -> (
    PrometheusEnvelopeData, [String]
  ) {
    guard let envelope = try? JSONDecoder().decode(PrometheusEnvelope.self, from: response.body) else {
      throw .notAPIResponse(status: response.status, excerpt: excerpt(of: response.body))
    }
    if envelope.status == "error" {
      throw .httpStatus(
        code: response.status,
        errorType: redact(envelope.errorType ?? "unknown"),
        error: redact(envelope.error ?? "no error message"))
    }
    guard envelope.status == "success", response.isSuccess, let data = envelope.data else {
      throw .notAPIResponse(status: response.status, excerpt: excerpt(of: response.body))
    }
    return (data, (envelope.warnings ?? []).map(redact))
  }

  /// Turns the HTTP response of a range query into its series or the matching error.
  func interpretRange(_ response: HTTPResponse) throws(PrometheusError) -> [PrometheusRangeSeries] {
    let (data, _) = try successfulData(response)
    guard data.resultType == "matrix" else { throw .unsupportedResultType(redact(data.resultType)) }
    var series: [PrometheusRangeSeries] = []
    for item in data.matrix ?? [] {
      var points: [PrometheusRangeSeries.Point] = []
      for pair in item.values ?? [] {
        let sample = try sample(from: pair, labels: [:], response: response)
        points.append(PrometheusRangeSeries.Point(timestamp: sample.timestamp, value: sample.value))
      }
      series.append(PrometheusRangeSeries(labels: item.metric, points: points))
    }
    return series
  }

  /// Turns an HTTP response into a result or the matching error.
  func interpret(_ response: HTTPResponse) throws(PrometheusError) -> PrometheusQueryResult {
    let (data, warnings) = try successfulData(response)
    switch data.resultType {
    case "vector":
      var samples: [PrometheusSample] = []
      for item in data.vector ?? [] {
        guard let pair = item.value else { throw .unsupportedResultType("histogram") }
        samples.append(try sample(from: pair, labels: item.metric, response: response))
      }
      return PrometheusQueryResult(resultType: .vector, samples: samples, warnings: warnings)
    case "scalar":
      guard let pair = data.scalar else {
        throw .notAPIResponse(status: response.status, excerpt: excerpt(of: response.body))
      }
      let only = try sample(from: pair, labels: [:], response: response)
      return PrometheusQueryResult(resultType: .scalar, samples: [only], warnings: warnings)
    default:
      throw .unsupportedResultType(redact(data.resultType))
    }
  }

  private func sample(
    from pair: PrometheusSamplePair,
    labels: [String: String],
    response: HTTPResponse
  ) throws(PrometheusError) -> PrometheusSample {
    guard let number = pair.number else {
      throw .notAPIResponse(
        status: response.status, excerpt: excerpt(of: Data("sample value \(pair.value)".utf8)))
    }
    return PrometheusSample(labels: labels, timestamp: pair.timestamp, rawValue: pair.value, value: number)
  }

  private func redact(_ text: String) -> String {
    Redaction.text(text, secrets: [bearerToken ?? ""] + Redaction.secretsInURL(baseURL))
  }

  /// The first characters of a body on one line, redacted, for error messages.
  private func excerpt(of body: Data) -> String {
    let limit = 120
    let text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
    // Whitespace and control characters become single spaces.
    let collapsed = text.split { $0.isWhitespace || ($0.asciiValue ?? 0x20) < 0x20 }.joined(separator: " ")
    let redacted = redact(collapsed)
    return redacted.count > limit ? String(redacted.prefix(limit)) + "…" : redacted
  }
}
