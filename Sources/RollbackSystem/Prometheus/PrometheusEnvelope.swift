import Foundation

/// The JSON envelope of the Prometheus HTTP API (`/api/v1/query`).
struct PrometheusEnvelope: Decodable {
  let status: String
  let data: PrometheusEnvelopeData?
  let errorType: String?
  let error: String?
  let warnings: [String]?
}

/// The `data` member of a successful query: the result type and the result itself.
struct PrometheusEnvelopeData: Decodable {
  let resultType: String
  let vector: [PrometheusVectorItem]?
  let scalar: PrometheusSamplePair?
  let matrix: [PrometheusMatrixItem]?

  private enum CodingKeys: String, CodingKey {
    case resultType
    case result
  }

  init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    resultType = try container.decode(String.self, forKey: .resultType)
    switch resultType {
    case "vector":
      vector = try container.decode([PrometheusVectorItem].self, forKey: .result)
      scalar = nil
      matrix = nil
    case "scalar":
      vector = nil
      scalar = try container.decode(PrometheusSamplePair.self, forKey: .result)
      matrix = nil
    case "matrix":
      vector = nil
      scalar = nil
      matrix = try container.decode([PrometheusMatrixItem].self, forKey: .result)
    default:
      vector = nil
      scalar = nil
      matrix = nil
    }
  }
}

/// One series of an instant vector. Native histogram samples carry `histogram`
/// instead of `value`, so `value` is optional.
struct PrometheusVectorItem: Decodable {
  let metric: [String: String]
  let value: PrometheusSamplePair?
}

/// One series of a range vector (`matrix`). Native histogram series carry `histograms`
/// instead of `values`, so `values` is optional.
struct PrometheusMatrixItem: Decodable {
  let metric: [String: String]
  let values: [PrometheusSamplePair]?
}

/// A `[timestamp, "value"]` pair.
struct PrometheusSamplePair: Decodable {
  let timestamp: Double
  let value: String

  init(from decoder: any Decoder) throws {
    var container = try decoder.unkeyedContainer()
    timestamp = try container.decode(Double.self)
    value = try container.decode(String.self)
  }

  /// The value as a number: `NaN`, `+Inf` and `-Inf` included; nil when unparseable.
  var number: Double? {
    switch value {
    case "NaN": return .nan
    case "+Inf", "Inf": return .infinity
    case "-Inf": return -.infinity
    default: return Double(value)
    }
  }
}
