import Foundation

/// The hosts running a host-scoped step now, with the step each is on and since when: on a
/// terminal, one live line per running host (``OutputKind/tick`` lines, never shown on a pipe).
final class LiveHostBoard: @unchecked Sendable {
  private let lock = NSLock()
  private var order: [String] = []
  private var running: [String: (step: String, since: Date)] = [:]

  /// `host` is now on `step`.
  func step(_ host: String, _ step: String, now: Date = Date()) {
    lock.lock()
    defer { lock.unlock() }
    if running[host] == nil { order.append(host) }
    running[host] = (step, now)
  }

  /// `host` finished (or failed) its pipeline.
  func finish(_ host: String) {
    lock.lock()
    defer { lock.unlock() }
    running[host] = nil
    order.removeAll { $0 == host }
  }

  /// One line per running host, in the order they started (`host-2  roll.restart-2  3s`);
  /// nil when no host is running.
  func render(now: Date = Date()) -> String? {
    lock.lock()
    defer { lock.unlock() }
    guard !order.isEmpty else { return nil }
    let width = order.map(\.count).max() ?? 0
    return order.compactMap { host -> String? in
      guard let entry = running[host] else { return nil }
      let seconds = max(0, Int(now.timeIntervalSince(entry.since)))
      return "▸ \(host.padding(toLength: width, withPad: " ", startingAt: 0))  \(entry.step)  \(seconds)s"
    }.joined(separator: "\n")
  }

  /// Emits the board through `tick` every `period` until cancelled.
  func ticker(period: Duration = .milliseconds(500), _ tick: @escaping @Sendable (String) -> Void) -> Task<
    Void, Never
  > {
    Task.detached { [self] in
      while !Task.isCancelled {
        try? await Task.sleep(for: period)
        if Task.isCancelled { break }
        if let text = render() { tick(text) }
      }
    }
  }
}
