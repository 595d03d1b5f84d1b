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
    return ProcessStat(state: state, parent: parent, processGroup: group)
  }
}
