#if canImport(Glibc)
  import Glibc
#endif

/// Drives one started child to its end on the calling thread, which must be a dedicated
/// thread (it blocks in `poll` and `waitpid`).
///
/// It reads both pipes as output arrives, watches the deadline and the cancellation flag,
/// tears the process group down when either fires (SIGTERM, then SIGKILL after the grace),
/// and reaps the child last, so its zombie keeps the group id reserved while the group is
/// signalled.
final class ProcessSupervisor {
  /// How long to keep reading after the child exited while something it started still
  /// holds the pipes open (a background grandchild); then rollback stops listening.
  static let drainAfterExit: Duration = .milliseconds(500)
  /// How long to wait for the group to disappear after SIGKILL before reaping regardless.
  static let afterKill: Duration = .seconds(2)

  private enum Phase {
    case running
    case draining(until: ContinuousClock.Instant)
    case terminating(killAt: ContinuousClock.Instant)
    case killing(giveUpAt: ContinuousClock.Instant)
    case finished
  }

  private let child: SpawnedProcess
  private let group: ProcessGroup
  private let grace: Duration
  private let deadline: ContinuousClock.Instant?
  private let cancellation: CancellationFlag
  private let started: ContinuousClock.Instant
  private var collector: ProcessOutputCollector
  private var streams: [(stream: ProcessStream, descriptor: Int32)]
  private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
  private var exited = false
  private var timedOut = false
  private var cancelled = false
  private var lastGroupCheck: ContinuousClock.Instant?
  private var groupGone = false
  /// When both pipes were found closed while the child still ran.
  private var pipesClosedAt: ContinuousClock.Instant?
  /// Processes outside the group found at teardown, ended after the child is reaped.
  private var strays = Set<ProcessStrays.Member>()

  init(
    child: SpawnedProcess,
    spec: ProcessSpec,
    started: ContinuousClock.Instant,
    cancellation: CancellationFlag,
    onOutput: @escaping @Sendable (ProcessStream, String) -> Void
  ) {
    self.child = child
    self.group = ProcessGroup(id: child.pid)
    self.grace = spec.grace
    self.deadline = spec.timeout.map { started.advanced(by: $0) }
    self.cancellation = cancellation
    self.started = started
    self.collector = ProcessOutputCollector(cap: spec.outputCap, onOutput: onOutput)
    self.streams = [(.stdout, child.stdout), (.stderr, child.stderr)]
  }

  /// Runs until the child is reaped and returns how it ended.
  func supervise() -> ProcessOutcome {
    var phase = Phase.running
    while true {
      phase = advance(phase, now: .now)
      if case .finished = phase { break }
      pump(waitingAtMost: wait(in: phase, now: .now))
    }
    drainAndClose()
    let (exitCode, signal) = reap()
    ProcessStrays.unregister(child.pid)
    ProcessStrays.end(strays)
    ProcessStrays.reapAdoptedZombies()
    let duration = ContinuousClock.now - started
    let (output, truncated) = collector.captured()
    return ProcessOutcome(
      exitCode: exitCode, signal: signal, timedOut: timedOut, cancelled: cancelled,
      duration: duration, output: output, truncated: truncated)
  }

  // MARK: - Decisions

  private func advance(_ phase: Phase, now: ContinuousClock.Instant) -> Phase {
    if !exited { exited = Self.hasExited(child.pid) }
    switch phase {
    case .running:
      if exited {
        return streams.isEmpty ? .finished : .draining(until: now.advanced(by: Self.drainAfterExit))
      }
      if cancellation.isCancelled {
        cancelled = true
        return terminate(now: now)
      }
      if let deadline, now >= deadline {
        timedOut = true
        return terminate(now: now)
      }
      return .running
    case .draining(let until):
      return streams.isEmpty || now >= until || cancellation.isCancelled ? .finished : phase
    case .terminating(let killAt):
      if exited && isGroupGone(now: now) { return .finished }
      guard now >= killAt else { return phase }
      group.send(SIGKILL)
      return .killing(giveUpAt: now.advanced(by: Self.afterKill))
    case .killing(let giveUpAt):
      if exited && (isGroupGone(now: now) || streams.isEmpty) { return .finished }
      return now >= giveUpAt ? .finished : phase
    case .finished:
      return .finished
    }
  }

  private func terminate(now: ContinuousClock.Instant) -> Phase {
    // What left the group (setsid) is found while the tree is whole, and ended too.
    strays = ProcessStrays.members(below: child.pid)
    group.send(SIGTERM)
    ProcessStrays.send(SIGTERM, to: strays)
    // An interrupted run must end within 2 s of Ctrl-C: a child that ignores SIGTERM gets at
    // most ``interruptGrace`` before SIGKILL, whatever its own grace.
    let wait = cancelled ? min(grace, Self.interruptGrace) : grace
    return .terminating(killAt: now.advanced(by: wait))
  }

  /// The most a cancelled (interrupted) child gets between SIGTERM and SIGKILL.
  static let interruptGrace: Duration = .milliseconds(800)

  /// Whether no member of the group but the (exited) child is alive. Scans `/proc` at most
  /// every 10 ms; without `/proc` the group counts as alive until the grace ends.
  private func isGroupGone(now: ContinuousClock.Instant) -> Bool {
    if groupGone { return true }
    if let lastGroupCheck, now - lastGroupCheck < .milliseconds(10) { return false }
    lastGroupCheck = now
    groupGone = group.hasLiveMembers(besides: child.pid) == false
    return groupGone
  }

  /// How long the next `poll` may sleep: short steps, so the cancellation flag and the
  /// child's exit are noticed quickly, and never past the phase's next deadline.
  private func wait(in phase: Phase, now: ContinuousClock.Instant) -> Int32 {
    var step: Duration
    var until: ContinuousClock.Instant?
    switch phase {
    case .running:
      // With both pipes closed only the exit is awaited. A child usually exits right after
      // closing them: check every millisecond for the first 100 ms, then every 10 ms.
      if streams.isEmpty {
        let closedAt = pipesClosedAt ?? now
        pipesClosedAt = closedAt
        step = closedAt.duration(to: now) < .milliseconds(100) ? .milliseconds(1) : .milliseconds(10)
      } else {
        step = .milliseconds(50)
      }
      until = deadline
    case .draining(let end):
      step = .milliseconds(50)
      until = end
    case .terminating(let killAt):
      step = .milliseconds(10)
      until = killAt
    case .killing(let giveUpAt):
      step = .milliseconds(10)
      until = giveUpAt
    case .finished:
      return 0
    }
    if let until { step = Swift.min(step, Swift.max(.zero, now.duration(to: until))) }
    return Int32(clamping: step.millisecondsRoundedUp)
  }

  // MARK: - Output

  /// Waits for output for at most `milliseconds` and reads what is there.
  private func pump(waitingAtMost milliseconds: Int32) {
    var descriptors = streams.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
    let ready = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
    guard ready > 0 else { return }
    for polled in descriptors where polled.revents != 0 {
      readOnce(polled.fd)
    }
  }

  /// Reads once from `descriptor`; returns false when the stream has ended (and closes it).
  @discardableResult
  private func readOnce(_ descriptor: Int32) -> Bool {
    guard let index = streams.firstIndex(where: { $0.descriptor == descriptor }) else { return false }
    let stream = streams[index].stream
    let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
    if count > 0 {
      buffer.withUnsafeBytes { bytes in
        collector.receive(UnsafeRawBufferPointer(rebasing: bytes[..<count]), from: stream)
      }
      return true
    }
    if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return false }
    // End of file, or an error that will not go away.
    close(descriptor)
    streams.remove(at: index)
    collector.finish(stream)
    return false
  }

  /// Reads what is left without waiting (bounded, in case an escaped process keeps
  /// writing), then closes both pipes.
  private func drainAndClose() {
    for (_, descriptor) in streams {
      var reads = 0
      while reads < 64, readOnce(descriptor) { reads += 1 }
    }
    for (stream, descriptor) in streams {
      close(descriptor)
      collector.finish(stream)
    }
    streams.removeAll()
  }

  // MARK: - Exit status

  /// Whether the child has exited, without reaping it (`WNOWAIT`).
  private static func hasExited(_ pid: pid_t) -> Bool {
    var info = siginfo_t()
    while true {
      if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
        return info._sifields._sigchld.si_pid != 0
      }
      if errno == EINTR { continue }
      // ECHILD: someone else reaped it (SIGCHLD ignored); it is gone either way.
      return true
    }
  }

  /// Reaps the child and decodes its wait status.
  private func reap() -> (exitCode: Int32?, signal: Int32?) {
    var status: Int32 = 0
    while waitpid(child.pid, &status, 0) == -1 {
      if errno != EINTR { return (nil, nil) }
    }
    let low = status & 0x7f
    if low == 0 { return ((status >> 8) & 0xff, nil) }
    if low != 0x7f { return (nil, low) }
    return (nil, nil)
  }
}
