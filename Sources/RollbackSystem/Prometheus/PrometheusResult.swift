import Foundation

/// The kind of result an instant query returned.
public enum PrometheusResultType: String, Sendable, Equatable {
  /// An instant vector: zero or more labelled series.
  case vector
  /// A single number without labels.
  case scalar
}

/// One sample of an instant query: a series' labels and its value at the query time.
public struct PrometheusSample: Sendable, Equatable {
  /// The series labels (`__name__` included when Prometheus returns it); empty for a scalar.
  public var labels: [String: String]
  /// The evaluation timestamp, in seconds since 1970.
  public var timestamp: Double
  /// The value exactly as Prometheus wrote it, for example `"0.25"`, `"NaN"`, `"+Inf"`.
  public var rawValue: String
  /// The value as a number (`NaN` and infinities included; check `isFinite`).
  public var value: Double

  /// Creates a sample.
  public init(labels: [String: String], timestamp: Double, rawValue: String, value: Double) {
    self.labels = labels
    self.timestamp = timestamp
    self.rawValue = rawValue
    self.value = value
  }
}

/// How several series collapse into one number.
public enum PrometheusReduction: String, Sendable, Equatable, CaseIterable {
  /// The largest value.
  case max
  /// The smallest value.
  case min
  /// The sum of the values.
  case sum
  /// The arithmetic mean of the values.
  case avg
}

/// The result of an instant query: every sample and the warnings Prometheus sent.
public struct PrometheusQueryResult: Sendable, Equatable {
  /// Whether the query returned a vector or a scalar.
  public var resultType: PrometheusResultType
  /// The samples: one per series for a vector, exactly one for a scalar.
  public var samples: [PrometheusSample]
  /// Warnings from the envelope (for example about partial data), in order.
  public var warnings: [String]

  /// Creates a result.
  public init(resultType: PrometheusResultType, samples: [PrometheusSample], warnings: [String]) {
    self.resultType = resultType
    self.samples = samples
    self.warnings = warnings
  }

  /// How many series (or scalars) came back.
  public var seriesCount: Int { samples.count }

  /// The single number this result stands for.
  ///
  /// With one sample that sample's value; with several, `reduction` combines them, and
  /// without one it is an error. Any non-finite sample makes the result unusable.
  ///
  /// - Throws: ``PrometheusError/noData``, ``PrometheusError/nonFinite(value:)``,
  ///   ``PrometheusError/multipleSeries(count:)``.
  public func value(reducedBy reduction: PrometheusReduction? = nil) throws(PrometheusError) -> Double {
    guard let first = samples.first else { throw .noData }
    if let bad = samples.first(where: { !$0.value.isFinite }) {
      throw .nonFinite(value: bad.rawValue)
    }
    if samples.count == 1 { return first.value }
    guard let reduction else { throw .multipleSeries(count: samples.count) }
    let values = samples.map(\.value)
    let combined: Double
    switch reduction {
    case .max: combined = values.reduce(-Double.infinity) { Swift.max($0, $1) }
    case .min: combined = values.reduce(Double.infinity) { Swift.min($0, $1) }
    case .sum: combined = values.reduce(0, +)
    case .avg: combined = values.reduce(0, +) / Double(values.count)
    }
    guard combined.isFinite else { throw .nonFinite(value: combined > 0 ? "+Inf" : "-Inf") }
    return combined
  }
}

/// One series of a range query: its labels and its points, oldest first.
public struct PrometheusRangeSeries: Sendable, Equatable {
  /// One evaluation of the series.
  public struct Point: Sendable, Equatable {
    /// Seconds since 1970.
    public var timestamp: Double
    /// The value (`NaN` and infinities included; check `isFinite`).
    public var value: Double

    /// Creates a point.
    public init(timestamp: Double, value: Double) {
      self.timestamp = timestamp
      self.value = value
    }
  }

  /// The series labels.
  public var labels: [String: String]
  /// The points, oldest first.
  public var points: [Point]

  /// Creates a series.
  public init(labels: [String: String], points: [Point]) {
    self.labels = labels
    self.points = points
  }

  /// The series combined point by point: at each timestamp any series has, `reduction` of the
  /// finite values there (a timestamp where a series is not finite is left out, as unknown).
  public static func combined(_ series: [PrometheusRangeSeries], by reduction: PrometheusReduction)
    -> [Point]
  {
    var byTime: [Double: [Double]] = [:]
    var poisoned: Set<Double> = []
    for one in series {
      for point in one.points {
        if point.value.isFinite {
          byTime[point.timestamp, default: []].append(point.value)
        } else {
          poisoned.insert(point.timestamp)
        }
      }
    }
    return byTime.keys.sorted().compactMap { time -> Point? in
      guard !poisoned.contains(time), let values = byTime[time], !values.isEmpty else { return nil }
      let value: Double
      switch reduction {
      case .max: value = values.reduce(-Double.infinity) { Swift.max($0, $1) }
      case .min: value = values.reduce(Double.infinity) { Swift.min($0, $1) }
      case .sum: value = values.reduce(0, +)
      case .avg: value = values.reduce(0, +) / Double(values.count)
      }
      return value.isFinite ? Point(timestamp: time, value: value) : nil
    }
  }
}
