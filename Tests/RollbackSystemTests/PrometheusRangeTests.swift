import Foundation
import Testing

@testable import RollbackSystem

@Suite("PrometheusClient range queries (query_range, matrix)")
struct PrometheusRangeTests {
  @Test("the range is form-encoded in a POST to query_range; a matrix comes back as series of points")
  func requestAndMatrix() async throws {
    let reply = """
      {"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"endpoint":"a"},"values":[[1700000000,"0.5"],[1700000010,"NaN"],[1700000020,"0.25"]]},
        {"metric":{"endpoint":"b"},"values":[[1700000000,"1.5"],[1700000010,"2"],[1700000020,"+Inf"]]}
      ]}}
      """
    let server = try HTTPLoopbackServer(reply: .respond(status: 200, body: Data(reply.utf8)))
    defer { server.stop() }
    let client = PrometheusClient(baseURL: server.baseURL + "/", bearerToken: "s3cr3t", timeout: .seconds(3))

    let series = try await client.queryRange(
      "up", start: Date(timeIntervalSince1970: 1_700_000_000),
      end: Date(timeIntervalSince1970: 1_700_000_020),
      step: 10)

    let received = try #require(server.requests.first)
    #expect(received.method == "POST")
    #expect(received.path == "/api/v1/query_range")
    #expect(received.header("Authorization") == "Bearer s3cr3t")
    #expect(
      String(decoding: received.body, as: UTF8.self)
        == "query=up&start=1700000000.000&end=1700000020.000&step=10.000&timeout=3000ms")
    #expect(series.count == 2)
    #expect(series[0].labels == ["endpoint": "a"])
    #expect(series[0].points.map(\.timestamp) == [1_700_000_000, 1_700_000_010, 1_700_000_020])
    #expect(series[0].points[0].value == 0.5)
    #expect(series[0].points[1].value.isNaN)
    #expect(series[1].points[2].value == .infinity)

    // Combined point by point; a time where any series is not finite is left out (unknown).
    let combined = PrometheusRangeSeries.combined(series, by: .max)
    #expect(combined == [PrometheusRangeSeries.Point(timestamp: 1_700_000_000, value: 1.5)])
    #expect(PrometheusRangeSeries.combined(series, by: .sum).map(\.value) == [2])
  }

  @Test("an instant vector where a matrix is expected, and an error envelope, are errors without the token")
  func wrongResults() async throws {
    let vector = #"{"status":"success","data":{"resultType":"vector","result":[]}}"#
    let server = try HTTPLoopbackServer(reply: .respond(status: 200, body: Data(vector.utf8)))
    defer { server.stop() }
    let failing = try HTTPLoopbackServer(
      reply: .respond(
        status: 400,
        body: Data(
          #"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution s3cr3t"}"#.utf8)))
    defer { failing.stop() }
    let now = Date()
    do {
      _ = try await PrometheusClient(baseURL: server.baseURL).queryRange(
        "up", start: now.addingTimeInterval(-60), end: now, step: 1)
      Issue.record("a vector was taken for a matrix")
    } catch {
      #expect(error == .unsupportedResultType("vector"))
    }
    do {
      _ = try await PrometheusClient(baseURL: failing.baseURL, bearerToken: "s3cr3t").queryRange(
        "up", start: now.addingTimeInterval(-60), end: now, step: 1)
      Issue.record("an error envelope was taken for data")
    } catch {
      #expect(error.description == "HTTP 400 bad_data: exceeded maximum resolution ****")
    }
  }

  @Test("the harness Prometheus answers a range query with one point per step")
  func realPrometheus() async throws {
    let client = PrometheusClient(baseURL: try SystemTestHarness.prometheusURL())
    let end = Date()
    let series = try await client.queryRange(
      "vector(2)", start: end.addingTimeInterval(-30), end: end, step: 5)
    #expect(series.count == 1)
    #expect(series.first?.points.count == 7)
    #expect(series.first?.points.allSatisfy { $0.value == 2 } == true)
    let times = series.first?.points.map(\.timestamp) ?? []
    #expect(zip(times, times.dropFirst()).allSatisfy { abs($1 - $0 - 5) < 0.001 })
  }
}
