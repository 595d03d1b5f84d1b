import Foundation
import Testing

/// Tests that drive the shared sample frontend: they run one at a time, never beside each other.
@Suite("on the shared harness frontend", .serialized)
enum SharedAppTests {}

/// The real services started by scripts/harness (see docs/CONTRACTS-dev.md).
struct Harness {
  let directory: String
  let appDirectory: String
  let appURL: String
  let promURL: String
  let supervisorConf: String
  let databaseURL: String

  /// The harness from the environment; a clear failure when the tests run without it.
  static func current() throws -> Harness {
    let env = ProcessInfo.processInfo.environment
    func need(_ name: String) throws -> String {
      guard let value = env[name], !value.isEmpty else {
        Issue.record(
          "\(name) is not set: run these tests with `make test` (scripts/harness/with-harness swift test)")
        throw HarnessMissing()
      }
      return value
    }
    return Harness(
      directory: try need("ROLLBACK_HARNESS_DIR"), appDirectory: try need("ROLLBACK_TEST_APP_DIR"),
      appURL: try need("ROLLBACK_TEST_APP_URL"), promURL: try need("ROLLBACK_TEST_PROM_URL"),
      supervisorConf: try need("ROLLBACK_TEST_SUPERVISOR_CONF"),
      databaseURL: try need("ROLLBACK_TEST_DATABASE_URL"))
  }

  struct HarnessMissing: Error {}

  /// The environment the Atom runbook's `local` environment reads.
  var runbookEnvironment: [String: String] {
    [
      "ROLLBACK_APP_DIR": appDirectory, "ROLLBACK_APP_URL": appURL, "ROLLBACK_PROM_URL": promURL,
      "ROLLBACK_SUPERVISOR_CONF": supervisorConf, "DATABASE_URL": databaseURL, "SLACK_WEBHOOK_URL": "",
    ]
  }

  static let flagFiles = [".env.local", ".env.production", ".env"]

  func file(_ name: String) -> String { (appDirectory as NSString).appendingPathComponent(name) }

  /// Sets the flag on at 100 % in every file (by plain text edits), restarts the app and waits for it.
  func resetApp() throws {
    for name in Self.flagFiles {
      let path = file(name)
      var text = try String(contentsOfFile: path, encoding: .utf8)
      text = text.replacingOccurrences(
        of: "NEXT_PUBLIC_USE_BACKEND_API=false", with: "NEXT_PUBLIC_USE_BACKEND_API=true")
      for percent in ["0", "10", "50"] {
        text = text.replacingOccurrences(
          of: "BACKEND_API_ROLLOUT_PERCENT=\(percent)\n", with: "BACKEND_API_ROLLOUT_PERCENT=100\n")
      }
      try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
    try? FileManager.default.removeItem(atPath: file(".unhealthy"))
    _ = try Shell.run(["supervisorctl", "-c", supervisorConf, "restart", "frontend"])
    let deadline = Date().addingTimeInterval(15)
    while Date() < deadline {
      if let health = try? health(), health["backend_api"] as? String == "true" { return }
      Thread.sleep(forTimeInterval: 0.2)
    }
    Issue.record("the sample app did not come back with the flag on")
  }

  /// The value of a PromQL expression now, or nil.
  func query(_ expression: String) -> Double? {
    guard
      let answer = try? Shell.run([
        "curl", "-s", "--max-time", "2", "--data-urlencode", "query=\(expression)", promURL + "/api/v1/query",
      ]),
      let json = try? JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) as? [String: Any],
      let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
      let value = result.first?["value"] as? [Any], let text = value.last as? String
    else { return nil }
    return Double(text)
  }

  /// Waits until the frontend's errors show in Prometheus, as during an incident: the Atom
  /// runbook's `error_rate` (errors / requests over its local 10 s window) finite and over the
  /// seed's critical 5 %, and its `p95_latency` finite. Right after the app restarts, the rate
  /// windows have no fresh samples and read `NaN` or `+Inf` (unknown, which `assess` does not act
  /// on as critical), so neither counts.
  func waitForIncident() {
    let deadline = Date().addingTimeInterval(30)
    let ratio = "sum(rate(api_errors_total[10s])) / sum(rate(api_requests_total[10s]))"
    let latency = "histogram_quantile(0.95, sum(rate(api_request_latency_seconds_bucket[10s])) by (le))"
    var last = "no answer"
    while Date() < deadline {
      let rate = query(ratio)
      let p95 = query(latency)
      if let rate, rate.isFinite, rate > 0.05, let p95, p95.isFinite { return }
      last = "error_rate \(rate.map { "\($0)" } ?? "none"), p95_latency \(p95.map { "\($0)" } ?? "none")"
      Thread.sleep(forTimeInterval: 0.5)
    }
    Issue.record("the sample app's errors never showed in Prometheus as finite values (last: \(last))")
  }

  /// The sample app's /api/health answer.
  func health() throws -> [String: Any] {
    let answer = try Shell.run(["curl", "-s", "--max-time", "2", appURL + "/api/health"])
    return (try JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) as? [String: Any]) ?? [:]
  }

  /// How many times supervisord has started the frontend.
  func frontendStarts() throws -> Int {
    let log = ((directory as NSString).appendingPathComponent("logs") as NSString).appendingPathComponent(
      "supervisord.log")
    let text = try String(contentsOfFile: log, encoding: .utf8)
    return text.components(separatedBy: "spawned: 'frontend'").count - 1
  }
}

/// Runs a helper command and returns its output.
enum Shell {
  @discardableResult
  static func run(_ argv: [String], environment: [String: String] = [:]) throws -> CLIResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = argv
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    return try CLI.capture(process)
  }
}

/// The events of a journal file.
func journalEvents(_ path: String) throws -> [[String: Any]] {
  let text = try String(contentsOfFile: path, encoding: .utf8)
  return text.split(separator: "\n").compactMap {
    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
  }
}

/// Every journal in a state directory.
func journals(in state: URL) -> [String] {
  let runs = state.appendingPathComponent("runs")
  return ((try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []).sorted().map {
    runs.appendingPathComponent($0).path
  }
}
