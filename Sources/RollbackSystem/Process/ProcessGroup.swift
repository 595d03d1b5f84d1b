import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The child's process group: signalling it and asking whether anyone in it still runs.
///
/// The group id is the child's pid. The child is only reaped after the teardown, so while
/// it is signalled its zombie keeps the id reserved and `killpg` cannot reach a stranger.
struct ProcessGroup {
  /// The group id (the child's pid).
  let id: pid_t

  /// Sends `signal` to every member of the group.
  func send(_ signal: Int32) {
    _ = killpg(id, signal)
  }

  /// Whether a member other than `leader` is still alive (zombies do not count), or nil
  /// when this cannot be known (no `/proc`).
  func hasLiveMembers(besides leader: pid_t) -> Bool? {
    guard let directory = opendir("/proc") else { return nil }
    defer { closedir(directory) }
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      guard let pid = pid_t(name), pid != leader,
        let stat = ProcessStat.read(pid: pid)
      else { continue }
      if stat.processGroup == id && stat.isAlive { return true }
    }
    return false
  }
}

/// The fields of `/proc/PID/stat` the teardown needs.
struct ProcessStat: Equatable {
  /// The one-letter state: R, S, D, Z, X, T, …
  let state: Character
  /// The parent's pid.
  let parent: pid_t
  /// The process group id.
  let processGroup: pid_t
  /// When the process started, in clock ticks after boot (tells a reused pid apart).
  var startTime: UInt64 = 0

  /// Whether the process still runs (it is neither a zombie nor dead).
  var isAlive: Bool { state != "Z" && state != "X" && state != "x" }

  /// Reads `/proc/PID/stat`; nil when the process does not exist (or there is no `/proc`).
  static func read(pid: pid_t) -> ProcessStat? {
    let descriptor = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var buffer = [UInt8](repeating: 0, count: 1024)
    let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
    guard count > 0 else { return nil }
    return parse(String(decoding: buffer[..<count], as: UTF8.self))
  }

  /// Parses `PID (COMM) STATE PPID PGRP …`; the command may itself contain spaces and `)`.
  static func parse(_ text: String) -> ProcessStat? {
    guard let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count >= 3, let state = fields[0].first,
      let parent = pid_t(fields[1]), let group = pid_t(fields[2])
    else { return nil }
    var stat = ProcessStat(state: state, parent: parent, processGroup: group)
    if fields.count > 19, let started = UInt64(fields[19]) { stat.startTime = started }
    return stat
  }
}

/// Processes a timed-out or cancelled step started outside its process group (`setsid`,
/// double forks): found through `/proc` and ended too.
///
/// rollback makes itself a child subreaper (`PR_SET_CHILD_SUBREAPER`), so what such a
/// step leaves behind is reparented to rollback rather than to init: it stays findable
/// and, once killed, is reaped here rather than left a zombie.
enum ProcessStrays {
  /// A process and its start time.
  struct Member: Hashable {
    let pid: pid_t
    let startTime: UInt64
  }

  /// Whether rollback is a child subreaper (see ``ProcessRunner/adoptOrphans()``).
  static var isSubreaper: Bool {
    lock.lock()
    defer { lock.unlock() }
    return subreaper
  }

  /// Makes rollback a child subreaper, once.
  static func becomeSubreaper() {
    lock.lock()
    defer { lock.unlock() }
    guard !subreaper else { return }
    // prctl is variadic in C, which Swift does not import; every argument is an integer,
    // so a call through a fixed-arity pointer is the same call.
    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "prctl") else { return }
    let prctl = unsafeBitCast(symbol, to: Prctl.self)
    subreaper = prctl(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0) == 0
  }

  private static let lock = NSLock()
  nonisolated(unsafe) private static var supervised = Set<pid_t>()
  nonisolated(unsafe) private static var subreaper = false

  /// Starts a child with `launch` and notes it as driven before any sweep can see it: the
  /// sweeps (``members(below:)``, ``reapAdoptedZombies()``) hold the same lock, so a child
  /// that exits at once is never reaped or ended by another thread's sweep.
  static func launchDriven(
    _ launch: () throws(ProcessError) -> SpawnedProcess
  ) throws(ProcessError) -> SpawnedProcess {
    sweepLock.lock()
    defer { sweepLock.unlock() }
    let child = try launch()
    register(child.pid)
    return child
  }

  /// Held while a child is started and registered, and for each sweep of `/proc`.
  private static let sweepLock = NSLock()

  /// Notes a child that a supervisor drives (so it is never taken for a stray).
  static func register(_ pid: pid_t) {
    lock.lock()
    supervised.insert(pid)
    lock.unlock()
  }

  /// Forgets a child once it is reaped.
  static func unregister(_ pid: pid_t) {
    lock.lock()
    supervised.remove(pid)
    lock.unlock()
  }

  /// Every live process below `root` outside its process group (the group id is `root`),
  /// and every process reparented to rollback that started after `root` (with what
  /// descends from it), but no child a supervisor drives.
  static func members(below root: pid_t) -> Set<Member> {
    sweepLock.lock()
    defer { sweepLock.unlock() }
    guard let directory = opendir("/proc") else { return [] }
    var stats: [pid_t: ProcessStat] = [:]
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      guard let pid = pid_t(name), let stat = ProcessStat.read(pid: pid) else { continue }
      stats[pid] = stat
    }
    closedir(directory)
    var children: [pid_t: [pid_t]] = [:]
    for (pid, stat) in stats { children[stat.parent, default: []].append(pid) }
    lock.lock()
    let driven = supervised
    lock.unlock()
    let rootStart = stats[root]?.startTime ?? 0
    var queue = children[root] ?? []
    if isSubreaper, rootStart > 0 {
      queue += (children[getpid()] ?? []).filter { pid in
        !driven.contains(pid) && (stats[pid]?.startTime ?? 0) >= rootStart
      }
    }
    var found = Set<Member>()
    var seen = Set<pid_t>()
    while let pid = queue.popLast() {
      guard let stat = stats[pid], stat.isAlive, pid != root, !seen.contains(pid) else { continue }
      seen.insert(pid)
      queue += children[pid] ?? []
      // The group itself is signalled as a group; only what left it is a stray.
      if stat.processGroup != root { found.insert(Member(pid: pid, startTime: stat.startTime)) }
    }
    return found
  }

  /// Reaps exited processes that were reparented to rollback (never a supervised child),
  /// so they do not linger as zombies. Only when rollback is a subreaper.
  ///
  /// Runs after every child a supervisor drives, so it must be cheap: it asks the kernel
  /// which child is waitable (`waitid` with `WNOWAIT`, which reaps nothing) and reaps it if
  /// it is an adopted one. Only when that child is a supervised one (about to be reaped by
  /// its supervisor, and hiding any other zombie behind it) does it fall back to a sweep of
  /// `/proc`, at most once per ``sweepInterval``; the next call catches what that leaves.
  static func reapAdoptedZombies() {
    sweepLock.lock()
    defer { sweepLock.unlock() }
    guard isSubreaper else { return }
    lock.lock()
    let driven = supervised
    lock.unlock()
    // Bounded: a pid that cannot be reaped (it never happens) must not spin this loop.
    for _ in 0..<64 {
      var info = siginfo_t()
      if waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 {
        if errno == EINTR { continue }
        return  // ECHILD: no child at all
      }
      let pid = info._sifields._sigchld.si_pid
      if pid == 0 { return }  // no child has exited
      if driven.contains(pid) {
        sweepForZombies(driven: driven)
        return
      }
      var status: Int32 = 0
      if waitpid(pid, &status, WNOHANG) != pid { return }
    }
  }

  /// The least time between two `/proc` sweeps of ``reapAdoptedZombies()``.
  static let sweepInterval: Duration = .milliseconds(500)
  nonisolated(unsafe) private static var lastSweep: ContinuousClock.Instant?

  /// Reaps every adopted zombie found in `/proc` (the caller holds `sweepLock`).
  private static func sweepForZombies(driven: Set<pid_t>) {
    let now = ContinuousClock.now
    if let lastSweep, now - lastSweep < sweepInterval { return }
    lastSweep = now
    guard let directory = opendir("/proc") else { return }
    defer { closedir(directory) }
    let me = getpid()
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      guard let pid = pid_t(name), !driven.contains(pid), let stat = ProcessStat.read(pid: pid),
        stat.parent == me, !stat.isAlive
      else { continue }
      var status: Int32 = 0
      _ = waitpid(pid, &status, WNOHANG)
    }
  }

  /// Sends `signal` to each member that is still the same process.
  static func send(_ signal: Int32, to members: Set<Member>) {
    for member in members where ProcessStat.read(pid: member.pid)?.startTime == member.startTime {
      _ = kill(member.pid, signal)
    }
  }

  /// The process `pid` as a member (with its start time); nil when it is gone.
  static func member(_ pid: pid_t) -> Member? {
    ProcessStat.read(pid: pid).map { Member(pid: pid, startTime: $0.startTime) }
  }

  /// Sends `signal` (SIGKILL unless told) to the members still alive and reaps those
  /// reparented to rollback, waiting at most `patience` for them to go.
  static func end(_ members: Set<Member>, signal: Int32 = SIGKILL, patience: Duration = .seconds(2)) {
    guard !members.isEmpty else { return }
    send(signal, to: members)
    let giveUp = ContinuousClock.now.advanced(by: patience)
    var left = members
    while !left.isEmpty, ContinuousClock.now < giveUp {
      for member in left {
        var status: Int32 = 0
        let reaped = waitpid(member.pid, &status, WNOHANG)
        let stat = ProcessStat.read(pid: member.pid)
        if reaped == member.pid || stat == nil || stat?.startTime != member.startTime
          || (reaped == -1 && stat?.isAlive == false)
        {
          left.remove(member)
        }
      }
      if !left.isEmpty { usleep(5_000) }
    }
  }
}
