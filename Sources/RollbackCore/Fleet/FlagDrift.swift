/// Which hosts hold a different value of a flag than the others, file by file.
///
/// Built from what each host's files say (`[host: [file: value]]`, a `nil` value meaning the
/// key is unset in that file). A host that could not be read is left out of the input and so
/// never counts, for or against. For each file the **majority** value is the one more hosts
/// hold than any other value; the hosts holding another value drift. When no value leads (a
/// tie, e.g. one host `true` and one `false`), there is no majority to trust, and every host of
/// that file is reported as drifting.
public struct FlagDrift: Sendable, Equatable {
  /// One file's values across the hosts.
  public struct File: Sendable, Equatable {
    /// The file's path (the same path on every host, or as each host's `vars` resolve it).
    public var path: String
    /// Each host's value (`nil`: unset), in host order.
    public var values: [(host: String, value: String?)]
    /// Whether one value is held by more hosts than any other.
    public var hasMajority: Bool
    /// That value (`nil`: unset, or no majority).
    public var majority: String?
    /// The hosts whose value differs from the majority (all hosts when there is none), in host order.
    public var drifting: [String]

    /// Whether the hosts disagree on this file.
    public var hasDrift: Bool { !drifting.isEmpty }

    /// Same path, values, majority and drifting hosts.
    public static func == (lhs: File, rhs: File) -> Bool {
      lhs.path == rhs.path && lhs.hasMajority == rhs.hasMajority && lhs.majority == rhs.majority
        && lhs.drifting == rhs.drifting && lhs.values.map(\.host) == rhs.values.map(\.host)
        && lhs.values.map(\.value) == rhs.values.map(\.value)
    }
  }

  /// Every file some host reported, in the order the hosts list them.
  public var files: [File]
  /// The hosts compared, in host order.
  public var hosts: [String]

  /// Compares the hosts' values.
  ///
  /// - Parameters:
  ///   - values: per host, per file, the flag's value (`nil`: unset).
  ///   - hostOrder: the order hosts are listed in (hosts not in it follow, by name).
  public init(_ values: [String: [String: String?]], hostOrder: [String] = []) {
    let known = Set(values.keys)
    var order = hostOrder.filter { known.contains($0) }
    var seen = Set(order)
    for host in values.keys.sorted() where !seen.contains(host) {
      order.append(host)
      seen.insert(host)
    }
    var paths: [String] = []
    var seenPaths = Set<String>()
    for host in order {
      for path in (values[host] ?? [:]).keys.sorted() where seenPaths.insert(path).inserted {
        paths.append(path)
      }
    }
    hosts = order
    files = paths.map { path in
      var column: [(host: String, value: String?)] = []
      for host in order {
        if let fileValues = values[host], let value = fileValues[path] { column.append((host, value)) }
      }
      return Self.compare(path: path, column)
    }
  }

  /// The hosts that differ from the majority in at least one file, in host order.
  public var driftingHosts: [String] {
    let drifting = Set(files.flatMap(\.drifting))
    return hosts.filter { drifting.contains($0) }
  }

  /// Whether any file has hosts that disagree.
  public var hasDrift: Bool { files.contains(where: \.hasDrift) }

  /// Whether `host`'s value of `path` differs from the majority.
  public func isDrifting(host: String, file path: String) -> Bool {
    files.first { $0.path == path }?.drifting.contains(host) ?? false
  }

  /// The file `path`, if some host reported it.
  public func file(_ path: String) -> File? { files.first { $0.path == path } }

  private static func compare(path: String, _ column: [(host: String, value: String?)]) -> File {
    // Counts per value, `nil` (unset) being a value of its own.
    var counts: [(value: String?, count: Int)] = []
    for entry in column {
      if let index = counts.firstIndex(where: { $0.value == entry.value }) {
        counts[index].count += 1
      } else {
        counts.append((entry.value, 1))
      }
    }
    guard counts.count > 1 else {
      return File(
        path: path, values: column, hasMajority: !counts.isEmpty, majority: counts.first?.value ?? nil,
        drifting: [])
    }
    let top = counts.map(\.count).max() ?? 0
    let leaders = counts.filter { $0.count == top }
    guard leaders.count == 1, let leader = leaders.first else {
      return File(path: path, values: column, hasMajority: false, majority: nil, drifting: column.map(\.host))
    }
    return File(
      path: path, values: column, hasMajority: true, majority: leader.value,
      drifting: column.filter { $0.value != leader.value }.map(\.host))
  }
}
