import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// JUnit XML that CI systems read: one test case per step, plus the time target.
enum JUnitReport {
  /// Text made safe for the XML document (control characters become U+FFFD).
  static func escape(_ text: String) -> String { XMLText.escaped(text) }

  static func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

  static func xml(_ result: RunResult) -> String {
    let what: String
    switch result.target {
    case .level(let number): what = "level\(number)"
    case .scenario(let name): what = "scenario-\(name)"
    case nil: what = "scenario-"
    }
    let suite = "rollback.drill.\(result.runbook).\(what)"
    var cases: [String] = []
    var failures = 0
    var skipped = 0
    for step in result.steps {
      var body = ""
      switch step.status {
      case .succeeded:
        break
      case .skipped:
        skipped += 1
        body = "<skipped message=\"\(escape(step.detail))\"/>"
      case .pending:
        failures += 1
        body = "<failure message=\"not reached: the drill stopped before this step\" type=\"pending\"/>"
      case .failed, .wouldRun, .sampled:
        failures += 1
        let tail = step.output.map { String($0.suffix(4000)) } ?? ""
        body =
          "<failure message=\"\(escape(step.error ?? "failed"))\" type=\"\(step.kind)\">\(escape(tail))</failure>"
      }
      cases.append(
        "    <testcase classname=\"\(escape(suite))\" name=\"\(escape(step.id))\" time=\"\(seconds(step.duration))\">"
          + body + "</testcase>")
    }
    if let target = result.targetSeconds {
      let time = result.rollbackDuration ?? result.duration
      var body = ""
      if result.withinTarget != true {
        failures += 1
        body =
          "<failure message=\"rollback took \(seconds(time)) s, target \(seconds(target)) s\" type=\"target\"/>"
      }
      cases.append(
        "    <testcase classname=\"\(escape(suite))\" name=\"within-target\" time=\"\(seconds(time))\">\(body)</testcase>"
      )
    }
    let timestamp = Timestamp.iso(result.startedAt)
    return """
      <?xml version="1.0" encoding="UTF-8"?>
      <testsuites name="rollback drill" tests="\(cases.count)" failures="\(failures)" time="\(seconds(result.duration))">
        <testsuite name="\(escape(suite))" tests="\(cases.count)" failures="\(failures)" errors="0" skipped="\(skipped)" time="\(seconds(result.duration))" timestamp="\(timestamp)">
      \(cases.joined(separator: "\n"))
        </testsuite>
      </testsuites>

      """
  }
}
