/// The files of one flag on one host, as a preflight or `flag status` reads them.
public struct FlagFilesOnHost: Sendable, Equatable {
  /// The flag's name.
  public var flag: String
  /// The dotenv key.
  public var key: String
  /// The rollout percentage's key, if the flag has one.
  public var percentKey: String?
  /// The files, resolved with the host's `vars`.
  public var files: [String]
  /// Whether a missing file may be created (then its directory must be writable).
  public var create: Bool
  /// Whether the run changes these files (then they must be writable).
  public var changes: Bool

  /// Creates the description of a flag's files on a host.
  public init(
    flag: String, key: String, percentKey: String? = nil, files: [String], create: Bool = false,
    changes: Bool = true
  ) {
    self.flag = flag
    self.key = key
    self.percentKey = percentKey
    self.files = files
    self.create = create
    self.changes = changes
  }
}

/// What a plan needs on one host before it changes anything: the flag files it touches and
/// the programs its commands start there.
public struct HostNeeds: Sendable {
  /// The inventory host these needs are checked on.
  public var host: Host
  /// The flags whose files are read or changed on it, in plan order, each once.
  public var flags: [FlagFilesOnHost]
  /// The programs started on it (the first word of each host-scoped `run` and of each restart
  /// and rebuild command; `sh` for a shell line; `curl` for a health check made from the host),
  /// in plan order, each once.
  public var executables: [String]

  /// Creates the needs of a host.
  public init(host: Host, flags: [FlagFilesOnHost] = [], executables: [String] = []) {
    self.host = host
    self.flags = flags
    self.executables = executables
  }
}

extension Resolver {
  /// The host and group names flag `name` lives on in this environment; empty when it lives on
  /// the control machine (no placement, or an environment that declares no hosts).
  public func placement(ofFlag name: String) -> [Located<String>] {
    environment.inventory.isEmpty ? [] : runbook.placement(ofFlag: name)
  }

  /// What `plan` needs on each of its hosts (those `--hosts` selected), in the order the hosts
  /// first appear in the plan. Steps on the control machine need nothing here.
  public func hostNeeds(of plan: Plan) -> [HostNeeds] {
    var needs: [HostNeeds] = []
    func add(_ step: Step, on hostNames: [String]) {
      for name in hostNames {
        guard let host = environment.inventory.host(named: name) else { continue }
        let index: Int
        if let existing = needs.firstIndex(where: { $0.host.name == name }) {
          index = existing
        } else {
          needs.append(HostNeeds(host: host))
          index = needs.count - 1
        }
        merge(step, on: host, into: &needs[index])
      }
    }
    for planned in plan.steps where planned.hostScoped {
      if planned.pipeline.isEmpty {
        add(planned.step, on: planned.hosts)
      } else {
        for inner in planned.pipeline { add(inner.step, on: inner.hosts) }
      }
    }
    return needs
  }

  /// The files of `flags` on each host they live on (limited by `--hosts`), for reading only:
  /// in inventory order, each host once.
  public func hostNeeds(readingFlags flags: [String]) -> [HostNeeds] {
    var needs: [HostNeeds] = []
    for name in flags {
      let placement = placement(ofFlag: name).map(\.value)
      var hosts = environment.inventory.hosts(expanding: placement)
      if let selectedHosts { hosts = hosts.filter { selectedHosts.contains($0.name) } }
      for host in hosts {
        guard let files = flagFiles(name, on: host, changes: false) else { continue }
        if let index = needs.firstIndex(where: { $0.host.name == host.name }) {
          needs[index].flags.append(files)
        } else {
          needs.append(HostNeeds(host: host, flags: [files]))
        }
      }
    }
    let order = environment.inventory.hosts.map(\.name)
    return needs.sorted {
      (order.firstIndex(of: $0.host.name) ?? .max) < (order.firstIndex(of: $1.host.name) ?? .max)
    }
  }

  /// A flag's files resolved on `host`.
  public func flagFiles(_ name: String, on host: Host, changes: Bool) -> FlagFilesOnHost? {
    guard let flag = runbook.flags[name] else { return nil }
    let resolver = on(host)
    var bag = DiagnosticBag()
    return FlagFilesOnHost(
      flag: flag.name, key: flag.key, percentKey: flag.percentKey,
      files: flag.files.map { resolver.resolve($0, into: &bag).value }, create: flag.create,
      changes: changes)
  }

  private func merge(_ step: Step, on host: Host, into needs: inout HostNeeds) {
    let resolver = on(host)
    var bag = DiagnosticBag()
    func program(_ command: CommandSpec?) {
      guard let command else { return }
      let first: String?
      switch command.program {
      case .argv(let argv): first = argv.first.map { resolver.resolve($0, into: &bag).value }
      case .shell: first = "sh"
      }
      if let first, !first.isEmpty, !needs.executables.contains(first) { needs.executables.append(first) }
    }
    switch step.kind {
    case .flag(let name, _):
      guard let files = flagFiles(name.value, on: host, changes: true) else { return }
      if let index = needs.flags.firstIndex(where: { $0.flag == files.flag }) {
        needs.flags[index].changes = true
      } else {
        needs.flags.append(files)
      }
    case .restart(let name, let rebuild):
      guard let service = service(named: name.value) else { return }
      if rebuild { program(service.rebuild) }
      program(service.restart)
      if service.health?.viaHost == true, !needs.executables.contains("curl") {
        needs.executables.append("curl")
      }
    case .run(let command):
      program(command)
    case .check, .assert, .wait, .http, .sql, .notify, .confirm, .include, .rolling, .silence:
      return
    }
  }
}
