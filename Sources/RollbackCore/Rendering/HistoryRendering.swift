import Foundation

/// What `rollback history` prints for a list of runs: a table, or one JSON document.
public enum HistoryRendering {
  /// The table's column titles.
  public static let header = ["RUN", "WHAT", "ENV", "OUTCOME", "DURATION", "TARGET"]

  /// The `--json` entry of one run (with `hosts` when the run had host-scoped steps).
  public static func json(_ run: RunSummary) -> JSONValue {
    let entry = JSONValue.object([
      ("run_id", .string(run.runID)), ("command", .string(run.command)), ("runbook", .string(run.runbook)),
      ("environment", .string(run.environment)), ("level", .int(run.target?.level)),
      ("scenario", .string(run.target?.scenario)),
      ("dry_run", .bool(run.dryRun)), ("status", .string(run.status)), ("started_at", .string(run.startedAt)),
      ("duration_s", .number(run.duration)), ("target_s", .number(run.targetSeconds)),
      ("within_target", run.withinTarget.map { .bool($0) } ?? .null),
    ])
    guard !run.hosts.isEmpty, case .object(var members) = entry else { return entry }
    members.append(("hosts", .array(run.hosts.map(\.json))))
    return .object(members)
  }

  /// The HOSTS column's title, shown when some run listed had hosts.
  public static let hostsHeader = "HOSTS"

  /// The table cells of one run with its HOSTS cell (`—` for a run without hosts).
  public static func cellsWithHosts(_ run: RunSummary) -> [String] {
    cells(run) + [run.hosts.isEmpty ? "—" : RunHostOutcome.text(run.hosts)]
  }

  /// The `--json` document, byte for byte `JSONValue.array(runs.map(json)).pretty()`, made one run
  /// at a time: `write` gets consecutive pieces of its UTF-8 text, each about `chunk` bytes, so the
  /// whole document is never held at once.
  public static func json(_ runs: [RunSummary], chunk: Int = 65_536, write: ([UInt8]) -> Void) {
    guard !runs.isEmpty else {
      write(Array("[]".utf8))
      return
    }
    var buffer: [UInt8] = Array("[\n".utf8)
    buffer.reserveCapacity(chunk + 1024)
    for (index, run) in runs.enumerated() {
      // An element of the array is the run's own pretty text one level deeper: two more spaces
      // after each line break (strings never hold a raw one: they are escaped).
      buffer.append(contentsOf: "  ".utf8)
      for byte in json(run).pretty().utf8 {
        buffer.append(byte)
        if byte == 0x0A { buffer.append(contentsOf: "  ".utf8) }
      }
      buffer.append(contentsOf: (index < runs.count - 1 ? ",\n" : "\n").utf8)
      if buffer.count >= chunk {
        write(buffer)
        buffer.removeAll(keepingCapacity: true)
      }
    }
    buffer.append(contentsOf: "]".utf8)
    write(buffer)
  }

  /// The table cells of one run, in the order of ``header``.
  public static func cells(_ run: RunSummary) -> [String] {
    let target =
      run.targetSeconds.map {
        Quantity.format(seconds: $0)
          + (run.withinTarget == true ? " ✓" : (run.withinTarget == false ? " ✗" : ""))
      } ?? "—"
    let outcome = run.dryRun && run.status == "dry-run" ? "dry-run" : run.status
    return [run.runID, run.what, run.environment, outcome, ReportRendering.seconds(run.duration), target]
  }

  /// The table's lines, header first: each column as wide as its widest cell (in characters),
  /// columns two spaces apart, each line without leading or trailing whitespace.
  public static func table(_ rows: [[String]], header: [String] = header) -> [String] {
    var widths = header.map(\.count)
    for row in rows {
      for (index, cell) in row.enumerated() where index < widths.count {
        widths[index] = max(widths[index], cell.count)
      }
    }
    func line(_ cells: [String]) -> String {
      var text = ""
      for (index, cell) in cells.enumerated() {
        if index > 0 { text += "  " }
        text += cell
        let count = cell.count
        if index < widths.count, count < widths[index] {
          text += String(repeating: " ", count: widths[index] - count)
        }
      }
      return trimmed(text)
    }
    return [line(header)] + rows.map(line)
  }

  /// `text.trimmingCharacters(in: .whitespaces)`: the whitespace scalars (spaces, tabs) dropped
  /// from both ends. The set holds no scalar beyond U+FFFF, so scalars and UTF-16 units agree.
  static func trimmed(_ text: String) -> String {
    let scalars = text.unicodeScalars
    let whitespace = CharacterSet.whitespaces
    var start = scalars.startIndex
    var end = scalars.endIndex
    while start < end, whitespace.contains(scalars[start]) { start = scalars.index(after: start) }
    while end > start, whitespace.contains(scalars[scalars.index(before: end)]) {
      end = scalars.index(before: end)
    }
    return start == scalars.startIndex && end == scalars.endIndex ? text : String(scalars[start..<end])
  }
}
