import RollbackCore
import Testing

@Suite("durations for people and in seconds")
struct DurationTextTests {
  @Test("a Duration converts to seconds once, fractions kept")
  func doubleSeconds() {
    #expect(Duration.milliseconds(1500).doubleSeconds == 1.5)
    #expect(Duration.seconds(300).doubleSeconds == 300)
    #expect(Duration.milliseconds(-250).doubleSeconds == -0.25)
  }

  @Test("a measured time reads 0.4 s or 41.2 s below a minute, 2m3s above")
  func elapsed() {
    #expect(Quantity.formatElapsed(seconds: 0.004) == "0.0 s")
    #expect(Quantity.formatElapsed(seconds: 41.23) == "41.2 s")
    #expect(Quantity.formatElapsed(seconds: 123) == "2m3s")
    #expect(Quantity.formatElapsed(seconds: .nan) == "unknown")
    #expect(Quantity.formatElapsed(seconds: -1) == "unknown")
  }

  @Test("a configured limit reads in the runbook's notation")
  func limits() {
    #expect(Quantity.format(seconds: 0.25) == "250ms")
    #expect(Quantity.format(seconds: 1.5) == "1.5s")
    #expect(Quantity.format(seconds: 5) == "5s")
    #expect(Quantity.format(seconds: 90) == "1m30s")
  }
}
