/// A machine a runbook acts on over ssh (`environments.<env>.hosts`).
public struct Host: Sendable {
  /// The host's name in the runbook.
  public var name: String
  /// The ssh destination: an alias, a host or `user@host`.
  public var ssh: String
  /// What HTTP checks use; by default the host part of `ssh`.
  public var address: String
  /// Variables that override the environment's for steps running on this host.
  public var vars: [(name: String, value: Template)]
  /// Where the host is declared.
  public var location: SourceLocation

  /// The host part of an ssh destination (`deploy@web-2.internal` gives `web-2.internal`).
  public static func defaultAddress(ofDestination destination: String) -> String {
    if let at = destination.lastIndex(of: "@") { return String(destination[destination.index(after: at)...]) }
    return destination
  }
}

/// A named list of hosts and groups (`environments.<env>.groups`).
public struct HostGroup: Sendable {
  /// The group's name.
  public var name: String
  /// Host and group names, as written.
  public var members: [Located<String>]
  /// Where the group is declared.
  public var location: SourceLocation
}

/// How ssh is called for an environment (`environments.<env>.ssh`).
public struct SSHSettings: Sendable {
  /// The file passed as `ssh -F`, if any.
  public var config: String?
  /// Arguments appended to every ssh command.
  public var options: [String]
  /// The most hosts worked on at once.
  public var forks: Int
  /// Where host locks are created (default `/tmp`).
  public var lockDir: String? = nil

  /// Creates settings; the defaults are ssh's own and 20 forks.
  public init(config: String? = nil, options: [String] = [], forks: Int = 20) {
    self.config = config
    self.options = options
    self.forks = forks
  }
}

/// An environment's hosts, groups and ssh settings.
public struct Inventory: Sendable {
  /// Hosts in file order.
  public var hosts: [Host]
  /// Groups in file order.
  public var groups: [HostGroup]
  /// The ssh settings.
  public var ssh: SSHSettings

  /// Creates an inventory.
  public init(hosts: [Host] = [], groups: [HostGroup] = [], ssh: SSHSettings = SSHSettings()) {
    self.hosts = hosts
    self.groups = groups
    self.ssh = ssh
  }

  /// Whether the environment declares no hosts (everything runs locally).
  public var isEmpty: Bool { hosts.isEmpty }
  /// The host with this name.
  public func host(named name: String) -> Host? { hosts.first { $0.name == name } }
  /// The group with this name.
  public func group(named name: String) -> HostGroup? { groups.first { $0.name == name } }
  /// Every host and group name, for did-you-mean hints.
  public var names: [String] { hosts.map(\.name) + groups.map(\.name) }
}

/// One entry of a rolling step's `batches`: a cumulative target.
public enum BatchSize: Sendable, Equatable, CustomStringConvertible {
  /// This many hosts done in total.
  case count(Int)
  /// This share of the hosts done in total, rounded up, at least one host.
  case percent(Int)

  /// `3` or `"50%"`.
  public var description: String {
    switch self {
    case .count(let value): return String(value)
    case .percent(let value): return "\(value)%"
    }
  }
}

/// A rolling step's `max_fail`: failures allowed per batch; more stop the step.
public enum FailureAllowance: Sendable, Equatable, CustomStringConvertible {
  /// This many failed hosts.
  case count(Int)
  /// This share of the batch's hosts.
  case percent(Int)

  /// The most failed hosts a batch of `size` hosts tolerates.
  public func allowed(inBatchOf size: Int) -> Int {
    switch self {
    case .count(let value): return value
    case .percent(let value): return size * value / 100
    }
  }

  /// `0` or `"10%"`.
  public var description: String {
    switch self {
    case .count(let value): return String(value)
    case .percent(let value): return "\(value)%"
    }
  }
}

/// The order a rolling step takes its hosts in.
public enum HostOrder: String, Sendable, CaseIterable {
  /// As the group lists them.
  case listed
  /// In a random order.
  case shuffle
}

/// A `rolling` step: host-scoped steps run as one pipeline per host, batch by batch.
public struct RollingSpec: Sendable {
  /// The hosts and groups it runs on.
  public var on: [Located<String>]
  /// Cumulative batch targets.
  public var batches: [Located<BatchSize>]
  /// Failures allowed per batch.
  public var maxFail: Located<FailureAllowance>
  /// Seconds to wait after each batch, before its gate.
  public var pause: Double
  /// Checked after each batch; unknown fails it.
  public var gate: Condition?
  /// The order hosts are taken in.
  public var order: HostOrder
  /// The steps of each host's pipeline.
  public var steps: [Step]
  /// Where the step's body is written.
  public var location: SourceLocation
}
