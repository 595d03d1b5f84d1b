import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Why a process's start time could not be read.
public struct ProcessStartTimeError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The process id asked about.
  public var pid: Int32
  /// What went wrong.
  public var reason: String

  /// `cannot read the start time of process PID: REASON`.
  public var description: String { "cannot read the start time of process \(pid): \(reason)" }
}

/// When a process started, from Linux's `/proc`: field 22 of `/proc/PID/stat` (clock ticks
/// after boot) plus `btime` of `/proc/stat` (boot, seconds since the epoch), with
/// `sysconf(_SC_CLK_TCK)` ticks per second. Precise to a tick after boot; the boot time is
/// whole seconds, so wall times may be up to one second early.
public enum ProcessStartTime {
  /// The wall-clock time process `pid` started, read on this host.
  public static func read(pid: Int32, procRoot: String = "/proc") throws(ProcessStartTimeError) -> Date {
    guard pid > 0 else { throw ProcessStartTimeError(pid: pid, reason: "not a process id") }
    guard let stat = try? String(contentsOfFile: "\(procRoot)/\(pid)/stat", encoding: .utf8) else {
      throw ProcessStartTimeError(
        pid: pid, reason: "no such process (\(procRoot)/\(pid)/stat is not readable)")
    }
    guard let ticks = startTicks(stat: stat) else {
      throw ProcessStartTimeError(pid: pid, reason: "\(procRoot)/\(pid)/stat has no start time field")
    }
    guard let system = try? String(contentsOfFile: "\(procRoot)/stat", encoding: .utf8),
      let boot = bootTime(procStat: system)
    else {
      throw ProcessStartTimeError(pid: pid, reason: "\(procRoot)/stat has no btime line")
    }
    let perSecond = sysconf(Int32(_SC_CLK_TCK))
    guard perSecond > 0 else { throw ProcessStartTimeError(pid: pid, reason: "sysconf(_SC_CLK_TCK) failed") }
    return Date(timeIntervalSince1970: Double(boot) + Double(ticks) / Double(perSecond))
  }

  /// Field 22 (`starttime`, clock ticks after boot) of a `/proc/PID/stat` line. The command
  /// name (field 2) is in parentheses and may hold spaces and parentheses: fields are counted
  /// from the last `)`.
  public static func startTicks(stat: String) -> UInt64? {
    guard let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
    // fields[0] is field 3 (state): field 22 is fields[19].
    guard fields.count > 19 else { return nil }
    return UInt64(fields[19].trimmingCharacters(in: .whitespacesAndNewlines))
  }

  /// The `btime` (boot time, seconds since the epoch) of `/proc/stat`.
  public static func bootTime(procStat: String) -> Int64? {
    for line in procStat.split(separator: "\n") where line.hasPrefix("btime ") {
      return Int64(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
    }
    return nil
  }
}
