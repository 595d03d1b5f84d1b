import Foundation

/// The decision signals of a run over its incident window, as a self-contained SVG: one small
/// panel per signal, stacked, with the rule thresholds as dashed lines, the run's steps as
/// vertical markers, the target deadline and the finish.
public struct SignalChart: Sendable {
  /// A value of a signal at a time.
  public struct Point: Sendable, Equatable {
    /// When.
    public var time: Date
    /// The value, in the signal's own unit (a percent-unit signal's 85 is 85 %).
    public var value: Double

    /// Creates a point.
    public init(time: Date, value: Double) {
      self.time = time
      self.value = value
    }
  }

  /// A dashed horizontal line: one comparison of a decision rule.
  public struct Threshold: Sendable, Equatable {
    /// The value, in the signal's own unit.
    public var value: Double
    /// The rule's severity.
    public var severity: Severity
    /// The label shown, e.g. `critical: error_rate > 5%`.
    public var label: String

    /// Creates a threshold.
    public init(value: Double, severity: Severity, label: String) {
      self.value = value
      self.severity = severity
      self.label = label
    }
  }

  /// One panel: a signal's values, or why there are none.
  public struct Panel: Sendable {
    /// The signal's name.
    public var signal: String
    /// Its unit.
    public var unit: SignalUnit
    /// Its values, oldest first (empty when it could not be read).
    public var points: [Point]
    /// The thresholds of the decision rules on it.
    public var thresholds: [Threshold]
    /// Why there are no values, shown as `no data: REASON`; nil when there are.
    public var noData: String?

    /// Creates a panel.
    public init(
      signal: String, unit: SignalUnit, points: [Point], thresholds: [Threshold], noData: String? = nil
    ) {
      self.signal = signal
      self.unit = unit
      self.points = points
      self.thresholds = thresholds
      self.noData = noData
    }
  }

  /// A labelled vertical marker.
  public struct Marker: Sendable, Equatable {
    /// When.
    public var time: Date
    /// The label (a step id).
    public var label: String

    /// Creates a marker.
    public init(time: Date, label: String) {
      self.time = time
      self.label = label
    }
  }

  /// The heading, e.g. the run id and what it ran.
  public var title: String
  /// The window's start.
  public var start: Date
  /// The window's end.
  public var end: Date
  /// The panels, top to bottom.
  public var panels: [Panel]
  /// The run's steps, at their start.
  public var steps: [Marker]
  /// The target deadline (start + target), if the run had a target.
  public var deadline: Date?
  /// When the run finished, if it did.
  public var finish: Date?

  /// Creates a chart.
  public init(
    title: String, start: Date, end: Date, panels: [Panel], steps: [Marker], deadline: Date?, finish: Date?
  ) {
    self.title = title
    self.start = start
    self.end = end
    self.panels = panels
    self.steps = steps
    self.deadline = deadline
    self.finish = finish
  }

  // MARK: - The window

  /// The incident window of a run and the query step: from the assessment before the run (or
  /// `lead` seconds before its start) to the later of its last wait step's end and its finish,
  /// plus a margin of 5 % (at least 10 s) on each side; the step is about 1/200 of it, at least 1 s.
  ///
  /// - Parameters:
  ///   - runStart: when the run started.
  ///   - runEnd: the later of the last wait step's end and the finish (the last step's end when
  ///     the run never finished).
  ///   - assessedAt: when the assessment before the run was made, if there is one.
  ///   - lead: how long before the start the window opens without an assessment.
  public static func window(runStart: Date, runEnd: Date, assessedAt: Date?, lead: Double = 300) -> (
    start: Date, end: Date, step: Double
  ) {
    var from = runStart.addingTimeInterval(-lead)
    if let assessedAt, assessedAt <= runStart { from = assessedAt }
    let to = max(runEnd, runStart)
    let margin = max(10, to.timeIntervalSince(from) * 0.05)
    let start = from.addingTimeInterval(-margin)
    let end = to.addingTimeInterval(margin)
    let step = max(1, (end.timeIntervalSince(start) / 200).rounded())
    return (start, end, step)
  }

  /// The thresholds the decision rules set on `signal`, in its unit, labelled with their severity.
  public static func thresholds(for signal: String, unit: SignalUnit, rules: [Rule]) -> [Threshold] {
    var result: [Threshold] = []
    for rule in rules {
      for comparison in rule.any + rule.all where comparison.signal == signal {
        let value = unit == .percent ? comparison.threshold * 100 : comparison.threshold
        guard value.isFinite else { continue }
        let label = "\(rule.severity.rawValue): \(comparison.text)"
        if result.contains(where: { $0.value == value && $0.label == label }) { continue }
        result.append(Threshold(value: value, severity: rule.severity, label: label))
      }
    }
    return result
  }

  /// The signals the decision rules name, in order of first mention.
  public static func decisionSignals(_ rules: [Rule]) -> [String] {
    var seen: [String] = []
    for rule in rules {
      for comparison in rule.any + rule.all where !seen.contains(comparison.signal) {
        seen.append(comparison.signal)
      }
    }
    return seen
  }

  // MARK: - SVG

  static let width = 960.0
  static let left = 90.0
  static let right = 40.0
  static let headerHeight = 56.0
  static let bandHeight = 120.0
  static let panelHeight = 170.0
  static let panelGap = 64.0

  /// The chart as an SVG document (UTF-8 text, no external references).
  public func svg() -> String {
    let frame = Frame(chart: self)
    var out = header(frame)
    out += stepBand(frame)
    for (index, panel) in panels.enumerated() {
      let top = frame.firstPanelTop + Double(index) * (Self.panelHeight + Self.panelGap)
      out += panelSVG(panel, top: top, frame: frame)
    }
    out += "</svg>\n"
    return out
  }

  /// The plot's horizontal geometry and the document's height.
  struct Frame {
    let plotLeft = SignalChart.left
    let plotRight = SignalChart.width - SignalChart.right
    var plotWidth: Double { plotRight - plotLeft }
    let firstPanelTop = SignalChart.headerHeight + SignalChart.bandHeight
    let height: Double
    let start: Date
    let span: Double

    init(chart: SignalChart) {
      height =
        firstPanelTop + Double(max(chart.panels.count, 1)) * (SignalChart.panelHeight + SignalChart.panelGap)
        + 10
      start = chart.start
      span = max(chart.end.timeIntervalSince(chart.start), 1)
    }

    /// The x of a time, clamped to the plot.
    func x(_ time: Date) -> Double {
      plotLeft + min(max(time.timeIntervalSince(start) / span, 0), 1) * plotWidth
    }
  }

  /// The XML prolog, the background, the title and the time window.
  func header(_ frame: Frame) -> String {
    let plotLeft = frame.plotLeft
    let height = frame.height
    var out = """
      <?xml version="1.0" encoding="UTF-8"?>
      <svg xmlns="http://www.w3.org/2000/svg" width="\(n(Self.width))" height="\(n(height))" \
      viewBox="0 0 \(n(Self.width)) \(n(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">

      """
    out += "<rect x=\"0\" y=\"0\" width=\"\(n(Self.width))\" height=\"\(n(height))\" fill=\"#ffffff\"/>\n"
    out +=
      "<text class=\"title\" x=\"\(n(plotLeft))\" y=\"22\" font-size=\"15\" font-weight=\"bold\">\(Self.escape(title))</text>\n"
    out +=
      "<text class=\"subtitle\" x=\"\(n(plotLeft))\" y=\"40\" fill=\"#555555\">\(Self.escape("\(Self.clock(start)) – \(Self.clock(end)) UTC"))</text>\n"

    return out
  }

  /// The step band: labels rotated, spread out when steps are close together.
  func stepBand(_ frame: Frame) -> String {
    let firstPanelTop = frame.firstPanelTop
    func x(_ time: Date) -> Double { frame.x(time) }
    var out = ""
    let bandBottom = firstPanelTop - 8
    var lastLabelX = -Double.infinity
    out += "<g class=\"steps\">\n"
    for marker in steps {
      let at = x(marker.time)
      let labelX = max(at, lastLabelX + 13)
      lastLabelX = labelX
      out +=
        "<line class=\"step-leader\" x1=\"\(n(at))\" y1=\"\(n(bandBottom))\" x2=\"\(n(labelX))\" y2=\"\(n(bandBottom - 10))\" stroke=\"#888888\" stroke-width=\"0.8\"/>\n"
      out +=
        "<text class=\"step-label\" x=\"\(n(labelX + 4))\" y=\"\(n(bandBottom - 12))\" transform=\"rotate(-60 \(n(labelX + 4)) \(n(bandBottom - 12)))\" fill=\"#333333\">\(Self.escape(marker.label))</text>\n"
    }
    out += "</g>\n"

    return out
  }

  /// One signal's panel: axes, markers, thresholds and values.
  func panelSVG(_ panel: Panel, top: Double, frame: Frame) -> String {
    let bottom = top + Self.panelHeight
    var out = "<g class=\"panel\" data-signal=\"\(Self.escape(panel.signal))\">\n"
    out +=
      "<text class=\"panel-title\" x=\"\(n(frame.plotLeft))\" y=\"\(n(top - 8))\" font-size=\"12\" font-weight=\"bold\">\(Self.escape("\(panel.signal) (\(Self.unitName(panel.unit)))"))</text>\n"
    out +=
      "<rect class=\"plot\" x=\"\(n(frame.plotLeft))\" y=\"\(n(top))\" width=\"\(n(frame.plotWidth))\" height=\"\(n(Self.panelHeight))\" fill=\"#fafafa\" stroke=\"#999999\" stroke-width=\"1\"/>\n"
    let (low, high) = Self.range(panel)
    func y(_ value: Double) -> Double {
      bottom - (min(max(value, low), high) - low) / (high - low) * Self.panelHeight
    }
    out += axes(panel, low: low, high: high, bottom: bottom, frame: frame, y: y)
    out += markers(top: top, bottom: bottom, frame: frame)
    out += thresholdLines(panel, frame: frame, y: y)
    out += values(panel, top: top, frame: frame, y: y)
    out += "</g>\n"
    return out
  }

  /// The value axis (a tick at every round step) and the time axis (six ticks).
  func axes(
    _ panel: Panel, low: Double, high: Double, bottom: Double, frame: Frame, y: (Double) -> Double
  ) -> String {
    let plotLeft = frame.plotLeft
    let plotRight = frame.plotRight
    let start = frame.start
    let span = frame.span
    func x(_ time: Date) -> Double { frame.x(time) }
    var out = ""
    let tickStep = Self.tickStep((high - low) / 4)
    let tickCount = max(1, min(12, Int(((high - low) / tickStep).rounded())))
    for tick in 0...tickCount {
      let value = low + tickStep * Double(tick)
      let at = y(value)
      out +=
        "<line class=\"grid\" x1=\"\(n(plotLeft))\" y1=\"\(n(at))\" x2=\"\(n(plotRight))\" y2=\"\(n(at))\" stroke=\"#e4e4e4\" stroke-width=\"0.8\"/>\n"
      out +=
        "<text class=\"value-label\" x=\"\(n(plotLeft - 6))\" y=\"\(n(at + 4))\" text-anchor=\"end\" fill=\"#333333\">\(Self.escape(Self.axisValue(value, unit: panel.unit)))</text>\n"
    }
    // Time axis: six ticks.
    for tick in 0...5 {
      let time = start.addingTimeInterval(span * Double(tick) / 5)
      let at = x(time)
      let anchor = tick == 0 ? "start" : (tick == 5 ? "end" : "middle")
      out +=
        "<line class=\"tick\" x1=\"\(n(at))\" y1=\"\(n(bottom))\" x2=\"\(n(at))\" y2=\"\(n(bottom + 4))\" stroke=\"#999999\" stroke-width=\"1\"/>\n"
      out +=
        "<text class=\"time-label\" x=\"\(n(at))\" y=\"\(n(bottom + 16))\" text-anchor=\"\(anchor)\" fill=\"#333333\">\(Self.clock(time))</text>\n"
    }
    out +=
      "<text class=\"axis-label\" x=\"\(n(plotRight))\" y=\"\(n(bottom + 30))\" text-anchor=\"end\" fill=\"#777777\">time (UTC)</text>\n"

    return out
  }

  /// Steps, the deadline and the finish as vertical lines.
  func markers(top: Double, bottom: Double, frame: Frame) -> String {
    let plotLeft = frame.plotLeft
    let plotRight = frame.plotRight
    func x(_ time: Date) -> Double { frame.x(time) }
    var out = ""
    for marker in steps {
      let at = x(marker.time)
      out +=
        "<line class=\"step-marker\" data-step=\"\(Self.escape(marker.label))\" x1=\"\(n(at))\" y1=\"\(n(top))\" x2=\"\(n(at))\" y2=\"\(n(bottom))\" stroke=\"#9aa5b1\" stroke-width=\"0.8\"/>\n"
    }
    if let deadline {
      if deadline >= start, deadline <= end {
        let at = x(deadline)
        out +=
          "<line class=\"deadline\" x1=\"\(n(at))\" y1=\"\(n(top))\" x2=\"\(n(at))\" y2=\"\(n(bottom))\" stroke=\"#d9480f\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>\n"
        out +=
          "<text class=\"deadline-label\" x=\"\(n(at - 3))\" y=\"\(n(top - 4))\" font-size=\"10\" text-anchor=\"end\" fill=\"#d9480f\">target</text>\n"
      } else {
        // Outside the window: said in words at the edge it lies beyond, not drawn at a wrong place.
        let after = deadline > end
        out +=
          "<text class=\"deadline-label\" x=\"\(n(after ? plotRight - 3 : plotLeft + 3))\" y=\"\(n(top - 4))\" font-size=\"10\" text-anchor=\"\(after ? "end" : "start")\" fill=\"#d9480f\">\(after ? "target \(Self.clock(deadline)) →" : "← target \(Self.clock(deadline))")</text>\n"
      }
    }
    if let finish {
      let at = x(finish)
      out +=
        "<line class=\"finish\" x1=\"\(n(at))\" y1=\"\(n(top))\" x2=\"\(n(at))\" y2=\"\(n(bottom))\" stroke=\"#2b8a3e\" stroke-width=\"1.5\"/>\n"
      out +=
        "<text class=\"finish-label\" x=\"\(n(at + 3))\" y=\"\(n(top - 4))\" font-size=\"10\" fill=\"#2b8a3e\">finished</text>\n"
    }

    return out
  }

  /// Thresholds; labels of close lines are moved apart so that they stay readable.
  func thresholdLines(_ panel: Panel, frame: Frame, y: (Double) -> Double) -> String {
    let plotLeft = frame.plotLeft
    let plotRight = frame.plotRight
    var out = ""
    var labelY = Double.infinity
    for threshold in panel.thresholds.sorted(by: { $0.value < $1.value }) {
      let at = y(threshold.value)
      let colour = Self.colour(threshold.severity)
      labelY = min(at - 3, labelY - 12)
      out +=
        "<line class=\"threshold\" data-severity=\"\(threshold.severity.rawValue)\" x1=\"\(n(plotLeft))\" y1=\"\(n(at))\" x2=\"\(n(plotRight))\" y2=\"\(n(at))\" stroke=\"\(colour)\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>\n"
      out +=
        "<text class=\"threshold-label\" x=\"\(n(plotRight - 4))\" y=\"\(n(labelY))\" text-anchor=\"end\" fill=\"\(colour)\">\(Self.escape(threshold.label))</text>\n"
    }

    return out
  }

  /// The values, or why there are none.
  func values(_ panel: Panel, top: Double, frame: Frame, y: (Double) -> Double) -> String {
    let plotLeft = frame.plotLeft
    let plotWidth = frame.plotWidth
    func x(_ time: Date) -> Double { frame.x(time) }
    var out = ""
    if let reason = panel.noData {
      // A white box behind the reason, so that the markers do not cross it (about 7.5 px a character).
      let boxWidth = min(plotWidth - 8, Double(("no data: " + reason).count) * 7.5 + 16)
      out +=
        "<rect class=\"no-data-box\" x=\"\(n(plotLeft + (plotWidth - boxWidth) / 2))\" y=\"\(n(top + Self.panelHeight / 2 - 16))\" width=\"\(n(boxWidth))\" height=\"24\" fill=\"#ffffff\" stroke=\"#f1b0b0\" stroke-width=\"1\"/>\n"
      out +=
        "<text class=\"no-data\" x=\"\(n(plotLeft + plotWidth / 2))\" y=\"\(n(top + Self.panelHeight / 2))\" text-anchor=\"middle\" font-size=\"13\" fill=\"#c92a2a\">\(Self.escape("no data: \(reason)"))</text>\n"
    } else {
      for segment in Self.segments(panel.points) {
        let coordinates = segment.map { "\(n(x($0.time))),\(n(y($0.value)))" }.joined(separator: " ")
        if segment.count == 1 {
          out +=
            "<circle class=\"point\" data-signal=\"\(Self.escape(panel.signal))\" cx=\"\(n(x(segment[0].time)))\" cy=\"\(n(y(segment[0].value)))\" r=\"2\" fill=\"#1c7ed6\"/>\n"
        } else {
          out +=
            "<polyline class=\"series\" data-signal=\"\(Self.escape(panel.signal))\" points=\"\(coordinates)\" fill=\"none\" stroke=\"#1c7ed6\" stroke-width=\"1.6\"/>\n"
        }
      }
    }
    return out
  }

  /// The points split where the gap between two is much longer than the usual one (no data there).
  static func segments(_ points: [Point]) -> [[Point]] {
    let finite = points.filter { $0.value.isFinite }.sorted { $0.time < $1.time }
    guard finite.count > 1 else { return finite.isEmpty ? [] : [finite] }
    var gaps = zip(finite.dropFirst(), finite).map { $0.time.timeIntervalSince($1.time) }
    gaps.sort()
    let usual = gaps[gaps.count / 2]
    var result: [[Point]] = [[finite[0]]]
    for (previous, point) in zip(finite, finite.dropFirst()) {
      if point.time.timeIntervalSince(previous.time) > max(usual * 3, 1) {
        result.append([point])
      } else {
        result[result.count - 1].append(point)
      }
    }
    return result
  }

  /// The value range of a panel: its values and thresholds, from 0 when none is negative, with
  /// headroom, rounded out to a whole number of ``tickStep(_:)``s (four ticks or so).
  static func range(_ panel: Panel) -> (Double, Double) {
    let values = (panel.points.map(\.value) + panel.thresholds.map(\.value)).filter(\.isFinite)
    var low = min(values.min() ?? 0, 0)
    var high = values.max() ?? 1
    if high <= low {
      high = low + (panel.unit == .ratio ? 0.01 : 1)
    }
    let pad = (high - low) * 0.05
    high += pad
    if low < 0 { low -= pad }
    let step = tickStep((high - low) / 4)
    low = (low / step).rounded(.down) * step
    high = (high / step).rounded(.up) * step
    return (low, high)
  }

  /// A round step near `rough`: 1, 2, 2.5 or 5 times a power of ten.
  static func tickStep(_ rough: Double) -> Double {
    guard rough.isFinite, rough > 0 else { return 1 }
    let magnitude = pow(10, (log10(rough)).rounded(.down))
    for factor in [1, 2, 2.5, 5] where factor * magnitude >= rough { return factor * magnitude }
    return 10 * magnitude
  }

  /// A value for the axis: ratios and percents as %, seconds as s or ms, others as numbers.
  static func axisValue(_ value: Double, unit: SignalUnit) -> String {
    SignalReading.format(abs(value) < 1e-12 ? 0 : value, unit: unit)
  }

  static func unitName(_ unit: SignalUnit) -> String {
    switch unit {
    case .ratio, .percent: return "%"
    case .seconds: return "s"
    case .bytes: return "bytes"
    case .count: return "count"
    }
  }

  static func colour(_ severity: Severity) -> String {
    switch severity {
    case .critical: return "#c92a2a"
    case .high: return "#e8590c"
    case .medium: return "#d9a400"
    case .low: return "#5c940d"
    }
  }

  /// `HH:MM:SS` in UTC.
  static func clock(_ date: Date) -> String {
    let seconds = Int(date.timeIntervalSince1970.rounded(.down))
    let day = ((seconds % 86_400) + 86_400) % 86_400
    return String(format: "%02d:%02d:%02d", day / 3600, (day % 3600) / 60, day % 60)
  }

  /// A coordinate with at most two decimals.
  private func n(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    if rounded == rounded.rounded() { return String(Int(rounded)) }
    return String(format: "%.2f", rounded)
  }

  /// Text made safe for XML content and attribute values (``XMLText/escaped(_:)``).
  public static func escape(_ text: String) -> String { XMLText.escaped(text) }
}
