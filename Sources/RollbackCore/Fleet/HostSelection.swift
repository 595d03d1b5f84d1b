import Foundation

/// Why a host pattern list selects nothing usable.
public struct HostSelectionError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The message shown to the user.
  public var description: String
}

extension Inventory {
  /// The hosts named by host and group names, recursively, in the order written, each once.
  /// Unknown names and group cycles are skipped (the validator reports them).
  public func hosts(expanding names: [String]) -> [Host] {
    var result: [Host] = []
    var seen = Set<String>()
    func visit(_ name: String, path: Set<String>) {
      if let host = host(named: name) {
        if seen.insert(host.name).inserted { result.append(host) }
      } else if let group = group(named: name), !path.contains(name) {
        for member in group.members { visit(member.value, path: path.union([name])) }
      }
    }
    for name in names { visit(name, path: []) }
    return result
  }

  /// The hosts `--hosts PATTERN[,PATTERN]` selects from `candidates` (all hosts when nil), in
  /// `candidates` order. A pattern is a glob (`*`, `?`, `[…]`) on host names and group names
  /// (a matching group brings its hosts); `!PATTERN` removes what it matches. A pattern that
  /// matches no host or group is an error, with a did-you-mean hint.
  public func select(_ patternList: String, from candidates: [Host]? = nil) -> Result<
    [Host], HostSelectionError
  > {
    let patterns = patternList.split(separator: ",", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    guard !patterns.isEmpty, !patterns.contains(where: \.isEmpty) else {
      return .failure(
        HostSelectionError(description: "--hosts needs host or group patterns, e.g. web-1,frontend"))
    }
    var included = Set<String>()
    var excluded = Set<String>()
    var anyInclusion = false
    for raw in patterns {
      let negated = raw.hasPrefix("!")
      let pattern = negated ? String(raw.dropFirst()) : raw
      guard !pattern.isEmpty else {
        return .failure(HostSelectionError(description: "--hosts pattern '!' names nothing"))
      }
      let matchedNames = names.filter { Self.glob(pattern, matches: $0) }
      guard !matchedNames.isEmpty else {
        let known = names.isEmpty ? " (this environment declares no hosts)" : ""
        return .failure(
          HostSelectionError(
            description:
              "--hosts pattern '\(pattern)' matches no host or group\(Suggest.hint(for: pattern, in: names))\(known)"
          ))
      }
      let matched = hosts(expanding: matchedNames).map(\.name)
      if negated {
        excluded.formUnion(matched)
      } else {
        anyInclusion = true
        included.formUnion(matched)
      }
    }
    if !anyInclusion { included = Set(hosts.map(\.name)) }
    let chosen = included.subtracting(excluded)
    let result = (candidates ?? hosts).filter { chosen.contains($0.name) }
    return .success(result)
  }

  /// Whether a shell-style glob matches the whole of `name`.
  public static func glob(_ pattern: String, matches name: String) -> Bool {
    fnmatch(pattern, name, 0) == 0
  }
}

extension RollingSpec {
  /// The batches of `hosts` under cumulative `sizes`: each target is a total of hosts done
  /// (a percentage rounds up and is at least 1); a target that adds no host makes no batch,
  /// and hosts left after the last target form a final batch, so every host is taken.
  public static func batches<Item>(of hosts: [Item], sizes: [BatchSize]) -> [[Item]] {
    var result: [[Item]] = []
    var done = 0
    for size in sizes {
      let target = min(hosts.count, cumulativeTarget(size, of: hosts.count))
      if target > done {
        result.append(Array(hosts[done..<target]))
        done = target
      }
    }
    if done < hosts.count { result.append(Array(hosts[done...])) }
    return result
  }

  /// The total hosts done after a batch of this size, out of `total`.
  public static func cumulativeTarget(_ size: BatchSize, of total: Int) -> Int {
    switch size {
    case .count(let value): return max(0, value)
    case .percent(let value):
      guard total > 0, value > 0 else { return 0 }
      let clamped = min(value, 100)
      return max(1, (total * clamped + 99) / 100)
    }
  }

  /// This step's batches of `hosts`.
  public func batches<Item>(of hosts: [Item]) -> [[Item]] {
    Self.batches(of: hosts, sizes: batches.map(\.value))
  }
}
