import Foundation
import RollbackCore
import Testing

@Suite("the value an application reports about a flag (pickup.http)")
struct PickupValueTests {
  func text(_ json: String, _ path: String) -> Result<String, PickupValueError> {
    PickupValue.text(at: path.split(separator: ".").map(String.init), in: Data(json.utf8))
  }

  @Test("a dotted path reaches strings, booleans, numbers and null")
  func readsScalars() {
    let body = #"{"flags": {"USE_API": false, "NAME": "on", "PERCENT": 10, "RATIO": 0.5, "NONE": null}}"#
    #expect(text(body, "flags.USE_API") == .success("false"))
    #expect(text(body, "flags.NAME") == .success("on"))
    #expect(text(body, "flags.PERCENT") == .success("10"))
    #expect(text(body, "flags.RATIO") == .success("0.5"))
    #expect(text(body, "flags.NONE") == .success("null"))
  }

  @Test("a missing key, a non-scalar and a body that is not JSON are reasons, not values")
  func reasons() {
    #expect(
      text(#"{"flags": {}}"#, "flags.USE_API")
        == .failure(PickupValueError(text: "the answer has no flags.USE_API")))
    #expect(
      text(#"{"flags": {"A": 1}}"#, "flags")
        == .failure(PickupValueError(text: "flags in the answer is not a single value")))
    #expect(text("<html>", "flags.A") == .failure(PickupValueError(text: "the answer is not JSON")))
  }

  @Test("\"false\" is false, numbers compare as text, other values differ")
  func matching() {
    #expect(PickupValue.matches(reported: "false", written: "false"))
    #expect(PickupValue.matches(reported: "False", written: "false"))
    #expect(PickupValue.matches(reported: "10", written: "10"))
    #expect(PickupValue.matches(reported: "10", written: "\"10\""))
    #expect(!PickupValue.matches(reported: "true", written: "false"))
    #expect(!PickupValue.matches(reported: "50", written: "10"))
    #expect(!PickupValue.matches(reported: "null", written: "false"))
  }

  @Test("an environment's service override may give its own pickup")
  func environmentOverride() throws {
    let source = replacing(
      line: 6,
      with: """
            prometheus: {url: "http://127.0.0.1:9090"}
            services:
              web:
                pickup: {pid: {pidfile: /run/web.pid}}
        """)
    let result = RunbookLoader.load(source: source, file: "demo.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
    let runbook = try #require(result.runbook)
    guard case .pidfile = runbook.environments.first?.serviceOverrides["web"]?.pickup?.pid else {
      Issue.record("expected the override's pidfile")
      return
    }
    let wrong = RunbookLoader.load(
      source: replacing(
        line: 6,
        with: """
              prometheus: {url: "http://127.0.0.1:9090"}
              services:
                web:
                  pickup: {pid: {pidfile: /run/web.pid, systemd: web}}
          """), file: "demo.yaml")
    #expect(wrong.errors.contains { $0.message.contains("needs exactly one of command, pidfile or systemd") })
  }
}
