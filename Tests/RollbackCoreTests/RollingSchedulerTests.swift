import RollbackCore
import Testing

/// Drives a scheduler the way an executor would, with scripted host results and gates.
private struct Drive {
  var scheduler: RollingScheduler
  /// Every start, in order, with its batch.
  var started: [(host: String, batch: Int)] = []
  /// The batches whose gate was asked for.
  var gates: [Int] = []
  /// The most pipelines running at once.
  var peakRunning = 0
  var outcome: RollingOutcome?

  init(_ scheduler: RollingScheduler) { self.scheduler = scheduler }

  /// Runs to the end: hosts finish in start order with `result(host)`, gates answer `gate(batch)`.
  mutating func run(
    result: (String) -> RollingHostResult = { _ in .succeeded },
    gate: (Int) -> Bool? = { _ in true }
  ) -> RollingOutcome? {
    var queue: [String] = []
    var pendingGate: Int?
    var actions = scheduler.begin()
    var guardCount = 0
    while outcome == nil, guardCount < 1000 {
      guardCount += 1
      for action in actions {
        switch action {
        case .start(let host, let batch):
          started.append((host, batch))
          queue.append(host)
        case .checkGate(let batch):
          gates.append(batch)
          pendingGate = batch
        case .finish(let end):
          outcome = end
        }
      }
      peakRunning = max(peakRunning, scheduler.runningHosts.count)
      if outcome != nil { break }
      if let host = queue.first {
        queue.removeFirst()
        actions = scheduler.hostFinished(host, result(host))
      } else if let batch = pendingGate {
        pendingGate = nil
        actions = scheduler.gateChecked(holds: gate(batch))
      } else {
        return nil
      }
    }
    return outcome
  }

  /// The hosts started in each batch.
  var batchesStarted: [[String]] {
    var result: [[String]] = []
    for (host, batch) in started {
      while result.count < batch { result.append([]) }
      result[batch - 1].append(host)
    }
    return result
  }
}

private let ten = (1...10).map { "web-\($0)" }

@Suite("RollingScheduler: fleet.md's rolling semantics")
struct RollingSchedulerTests {
  @Test("10 hosts with batches [1, \"50%\", \"100%\"] run 1, then 4, then 5 hosts, in listed order")
  func cumulativeBatches() throws {
    var drive = Drive(
      RollingScheduler(
        hosts: ten, batches: [.count(1), .percent(50), .percent(100)], maxFail: .count(0), forks: 20,
        checksAfterBatch: false))
    let ran1 = drive.run()

    let outcome = try #require(ran1)
    #expect(drive.batchesStarted.map(\.count) == [1, 4, 5])
    #expect(drive.batchesStarted.flatMap { $0 } == ten)
    #expect(outcome.reason == .completed)
    #expect(outcome.succeededHosts == ten)
  }

  @Test("a percentage rounds up and is never less than one host")
  func percentageRoundsUp() throws {
    var drive = Drive(
      RollingScheduler(
        hosts: Array(ten.prefix(3)), batches: [.percent(10), .percent(50), .percent(100)],
        maxFail: .count(0), forks: 5, checksAfterBatch: false))
    let ran2 = drive.run()

    _ = try #require(ran2)
    // 10% of 3 is 0.3 -> 1 host; 50% of 3 is 1.5 -> 2 hosts in total.
    #expect(drive.batchesStarted.map(\.count) == [1, 1, 1])
    var five = Drive(
      RollingScheduler(
        hosts: Array(ten.prefix(5)), batches: [.percent(30), .percent(100)], maxFail: .count(0),
        forks: 5, checksAfterBatch: false))
    let ran3 = five.run()

    _ = try #require(ran3)
    #expect(five.batchesStarted.map(\.count) == [2, 3])
  }

  @Test("max_fail 0: one failure stops the step; later batches stay untouched")
  func maxFailZero() throws {
    var drive = Drive(
      RollingScheduler(
        hosts: ten, batches: [.count(1), .percent(50), .percent(100)], maxFail: .count(0), forks: 20,
        checksAfterBatch: false))
    let ran4 = drive.run(result: { $0 == "web-1" ? .failed : .succeeded })

    let outcome = try #require(ran4)
    #expect(drive.started.map(\.host) == ["web-1"])
    #expect(outcome.reason == .failureThresholdExceeded(batch: 1, failed: 1, allowed: 0))
    #expect(outcome.failedHosts == ["web-1"])
    #expect(outcome.untouchedHosts == Array(ten.dropFirst()))
    #expect(!outcome.succeeded)
  }

  @Test("max_fail 1 must be exceeded: one failure continues, two stop")
  func maxFailOneNeedsTwo() throws {
    let hosts = Array(ten.prefix(6))
    var one = Drive(
      RollingScheduler(
        hosts: hosts, batches: [.count(3), .percent(100)], maxFail: .count(1), forks: 20,
        checksAfterBatch: false))
    let ran5 = one.run(result: { $0 == "web-2" ? .failed : .succeeded })

    let passed = try #require(ran5)
    #expect(passed.reason == .completed)
    #expect(passed.failedHosts == ["web-2"])
    #expect(passed.untouchedHosts.isEmpty)

    var two = Drive(
      RollingScheduler(
        hosts: hosts, batches: [.count(3), .percent(100)], maxFail: .count(1), forks: 20,
        checksAfterBatch: false))
    let ran6 = two.run(result: { ["web-1", "web-3"].contains($0) ? .failed : .succeeded })

    let stopped = try #require(ran6)
    #expect(stopped.reason == .failureThresholdExceeded(batch: 1, failed: 2, allowed: 1))
    #expect(stopped.untouchedHosts == ["web-4", "web-5", "web-6"])
  }

  @Test("max_fail as a percentage of the batch must be exceeded too")
  func maxFailPercent() throws {
    // A batch of 4 with 50% tolerates 2 failures; the third stops the step.
    let scheduler = RollingScheduler(
      hosts: Array(ten.prefix(8)), batches: [.count(4), .percent(100)], maxFail: .percent(50), forks: 20,
      checksAfterBatch: false)
    #expect(scheduler.allowedFailures(inBatch: 1) == 2)
    var two = Drive(scheduler)
    let tolerated = two.run(result: { ["web-1", "web-2"].contains($0) ? .failed : .succeeded })
    #expect(tolerated?.succeeded == true)
    var three = Drive(scheduler)
    let ran = three.run(result: { ["web-1", "web-2", "web-3"].contains($0) ? .failed : .succeeded })
    let outcome = try #require(ran)
    #expect(outcome.reason == .failureThresholdExceeded(batch: 1, failed: 3, allowed: 2))
  }

  @Test("an unreachable host counts as a failed host")
  func unreachableIsFailed() throws {
    var drive = Drive(
      RollingScheduler(
        hosts: Array(ten.prefix(3)), batches: [.count(1), .percent(100)], maxFail: .count(0), forks: 20,
        checksAfterBatch: false))
    let ran7 = drive.run(result: { $0 == "web-1" ? .unreachable : .succeeded })

    let outcome = try #require(ran7)
    #expect(outcome.reason == .failureThresholdExceeded(batch: 1, failed: 1, allowed: 0))
    #expect(outcome.failedHosts == ["web-1"])
    #expect(outcome.statuses.first?.status == .unreachable)
    #expect(outcome.untouchedHosts == ["web-2", "web-3"])
  }

  @Test("after a breach no new host starts, but the running ones finish and are recorded")
  func noNewHostAfterBreach() throws {
    var scheduler = RollingScheduler(
      hosts: ten, batches: [.count(1), .percent(100)], maxFail: .count(0), forks: 3,
      checksAfterBatch: false)
    var actions = scheduler.begin()
    #expect(actions == [.start(host: "web-1", batch: 1)])
    actions = scheduler.hostFinished("web-1", .succeeded)
    #expect(
      actions == [
        .start(host: "web-2", batch: 2), .start(host: "web-3", batch: 2), .start(host: "web-4", batch: 2),
      ])
    // web-3 fails while web-2 and web-4 still run: nothing new starts, nothing ends yet.
    let afterFailure = scheduler.hostFinished("web-3", .failed)
    #expect(afterFailure == [])
    #expect(scheduler.runningHosts == ["web-2", "web-4"])
    let afterSuccess = scheduler.hostFinished("web-2", .succeeded)
    #expect(afterSuccess == [])
    let last = scheduler.hostFinished("web-4", .failed)
    guard case .finish(let outcome)? = last.first, last.count == 1 else {
      Issue.record("expected the end, got \(last)")
      return
    }
    #expect(outcome.reason == .failureThresholdExceeded(batch: 2, failed: 2, allowed: 0))
    #expect(outcome.succeededHosts == ["web-1", "web-2"])
    #expect(outcome.failedHosts == ["web-3", "web-4"])
    #expect(outcome.untouchedHosts == ["web-5", "web-6", "web-7", "web-8", "web-9", "web-10"])
  }

  @Test("at most forks pipelines run at once within a batch")
  func forksBound() throws {
    var drive = Drive(
      RollingScheduler(
        hosts: ten, batches: [.percent(100)], maxFail: .count(0), forks: 3, checksAfterBatch: false))
    let ran9 = drive.run()
    #expect(ran9?.succeeded == true)
    #expect(drive.peakRunning == 3)
    #expect(drive.started.count == 10)
  }

  @Test("the gate is asked after every batch; false or unknown stops the step before the next batch")
  func gateStops() throws {
    var passing = Drive(
      RollingScheduler(
        hosts: ten, batches: [.count(1), .percent(50), .percent(100)], maxFail: .count(0), forks: 20,
        checksAfterBatch: true))
    let ran10 = passing.run()
    #expect(ran10?.succeeded == true)
    #expect(passing.gates == [1, 2, 3])

    for answer in [false, nil] as [Bool?] {
      var drive = Drive(
        RollingScheduler(
          hosts: ten, batches: [.count(1), .percent(50), .percent(100)], maxFail: .count(0), forks: 20,
          checksAfterBatch: true))
      let ran8 = drive.run(gate: { $0 == 2 ? answer : true })

      let outcome = try #require(ran8)
      #expect(outcome.reason == .gateFailed(batch: 2, unknown: answer == nil))
      #expect(drive.started.count == 5)
      #expect(outcome.succeededHosts == Array(ten.prefix(5)))
      #expect(outcome.untouchedHosts == Array(ten.suffix(5)))
    }
  }

  @Test("once: the first host that reaches the step runs it, no other host in any batch")
  func oncePerRun() throws {
    var scheduler = RollingScheduler(
      hosts: ten, batches: [.count(1), .percent(100)], maxFail: .count(0), forks: 20,
      checksAfterBatch: false)
    _ = scheduler.begin()
    var claims: [String: Bool] = [:]
    claims["web-1"] = scheduler.claimOnce("migrate", host: "web-1")
    let again = scheduler.claimOnce("migrate", host: "web-1")
    _ = scheduler.hostFinished("web-1", .succeeded)
    for host in ten.dropFirst() { claims[host] = scheduler.claimOnce("migrate", host: host) }
    #expect(again)
    #expect(claims.filter(\.value).map(\.key) == ["web-1"])
    #expect(claims.count == 10)
    // Another once step has its own first host.
    let notify = scheduler.claimOnce("notify", host: "web-2")
    #expect(notify)
    // A resumed run knows who ran it already.
    var resumed = RollingScheduler(
      hosts: ten, batches: [.percent(100)], maxFail: .count(0), forks: 20, checksAfterBatch: false,
      onceDone: ["migrate": "web-1"])
    let resumedClaim = resumed.claimOnce("migrate", host: "web-3")
    #expect(!resumedClaim)
  }

  @Test("an interrupt starts no new host; the step ends once the running ones finish")
  func interrupt() throws {
    var scheduler = RollingScheduler(
      hosts: Array(ten.prefix(4)), batches: [.count(2), .percent(100)], maxFail: .count(0), forks: 20,
      checksAfterBatch: false)
    let first = scheduler.begin()
    #expect(first.count == 2)
    let interrupted = scheduler.interrupt()
    #expect(interrupted == [])
    let actions = scheduler.hostFinished("web-1", .succeeded) + scheduler.hostFinished("web-2", .succeeded)
    guard case .finish(let outcome)? = actions.last else {
      Issue.record("expected the end, got \(actions)")
      return
    }
    #expect(outcome.reason == .interrupted)
    #expect(outcome.untouchedHosts == ["web-3", "web-4"])
  }

  @Test("no host: the step ends at once, completed")
  func noHost() {
    var scheduler = RollingScheduler(
      hosts: [], batches: [.count(1)], maxFail: .count(0), forks: 1, checksAfterBatch: true)
    let actions = scheduler.begin()
    #expect(actions == [.finish(RollingOutcome(reason: .completed, statuses: []))])
  }
}
