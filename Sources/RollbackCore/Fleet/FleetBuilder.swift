import Foundation
import Yams

/// Reads the fleet keys: an environment's hosts, groups and ssh settings, `hosts:`/`on:`
/// placements and the `rolling` step.
extension RunbookBuilder {
  /// Whether a host or group name can be written in `--hosts` patterns and lists.
  static func isHostName(_ text: String) -> Bool {
    !text.isEmpty
      && text.unicodeScalars.allSatisfy {
        $0.isASCII
          && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0))
      }
  }

  mutating func readInventory(_ f: YAMLReader.Fields, _ what: String) -> Inventory {
    var inventory = Inventory()
    if let hostsNode = f["hosts"], let pairs = reader.pairs(hostsNode, "hosts of \(what)") {
      if pairs.isEmpty {
        reader.bag.error(
          reader.location(hostsNode), "hosts of \(what) is empty; declare a host or remove the key")
      }
      for (name, keyNode, value) in pairs {
        readHost(name, keyNode, value, what, into: &inventory)
      }
    }
    if let groupsNode = f["groups"], let pairs = reader.pairs(groupsNode, "groups of \(what)") {
      for (name, keyNode, value) in pairs {
        inventory.groups.append(readGroup(name, keyNode, value, what))
      }
    }
    if let sshNode = f["ssh"],
      let s = reader.fields(sshNode, "ssh of \(what)", allowed: ["config", "options", "forks", "lock_dir"])
    {
      readSSH(s, sshNode, what, into: &inventory.ssh)
    }
    if inventory.hosts.isEmpty, f.has("groups") || f.has("ssh"), !f.has("hosts") {
      let key = f.has("groups") ? "groups" : "ssh"
      reader.bag.error(
        reader.location(f.keyNode(key) ?? f.node), "\(what) has \(key) but no hosts; declare its hosts")
    }
    return inventory
  }

  /// One host of an inventory's `hosts:`, added to `inventory` unless a host of that name is there.
  private mutating func readHost(
    _ name: String, _ keyNode: Node, _ value: Node, _ what: String, into inventory: inout Inventory
  ) {
    let hostWhat = "host '\(name)' of \(what)"
    if !Self.isHostName(name) {
      reader.bag.error(
        reader.location(keyNode), "host name '\(name)' may use only letters, digits, '-', '_' and '.'")
    }
    guard
      let h = reader.fields(value, hostWhat, allowed: ["ssh", "address", "vars"], required: ["ssh"]),
      let ssh = h["ssh"].flatMap({ reader.string($0, "ssh of \(hostWhat)") })
    else { return }
    if ssh.isEmpty || ssh.hasPrefix("-") || ssh.contains(where: { $0.isWhitespace }) {
      reader.bag.error(
        reader.location(h["ssh"] ?? value).advanced(by: reader.contentOffset(h["ssh"] ?? value)),
        "ssh of \(hostWhat) must be an ssh destination (alias, host or user@host), found '\(ssh)'")
    }
    let vars = readHostVars(h["vars"], hostWhat)
    let address = h["address"].flatMap { reader.string($0, "address of \(hostWhat)") }
    if inventory.host(named: name) == nil {
      inventory.hosts.append(
        Host(
          name: name, ssh: ssh, address: address ?? Host.defaultAddress(ofDestination: ssh), vars: vars,
          location: reader.location(keyNode)))
    }
  }

  /// A host's `vars:`, which may use only `${env.NAME}` and `${secret.NAME}`.
  private mutating func readHostVars(_ node: Node?, _ hostWhat: String) -> [(name: String, value: Template)] {
    var vars: [(name: String, value: Template)] = []
    guard let node, let varPairs = reader.pairs(node, "vars of \(hostWhat)") else { return vars }
    for (varName, _, varValue) in varPairs {
      guard let template = reader.template(varValue, "variable '\(varName)' of \(hostWhat)") else {
        continue
      }
      if !template.variables.isEmpty || !template.hostFieldsUsed.isEmpty {
        reader.bag.error(
          template.location,
          "variable '\(varName)' of \(hostWhat) refers to another variable; variables may use only ${env.NAME} and ${secret.NAME}"
        )
      }
      vars.append((varName, template))
    }
    return vars
  }

  /// One group of an inventory's `groups:`.
  private mutating func readGroup(_ name: String, _ keyNode: Node, _ value: Node, _ what: String) -> HostGroup
  {
    if !Self.isHostName(name) {
      reader.bag.error(
        reader.location(keyNode), "group name '\(name)' may use only letters, digits, '-', '_' and '.'")
    }
    let members = hostNames(value, "group '\(name)' of \(what)")
    if value.sequence?.isEmpty == true {
      reader.bag.error(reader.location(value), "group '\(name)' of \(what) is empty; list its hosts")
    }
    return HostGroup(name: name, members: members, location: reader.location(keyNode))
  }

  /// An inventory's `ssh:` settings (`lock_dir`, `config`, `options`, `forks`), set on `settings`.
  private mutating func readSSH(
    _ s: YAMLReader.Fields, _ sshNode: Node, _ what: String, into settings: inout SSHSettings
  ) {
    if let lockDir = s["lock_dir"].flatMap({ reader.string($0, "lock_dir of ssh of \(what)") }) {
      if lockDir.hasPrefix("/") {
        settings.lockDir = lockDir
      } else {
        reader.bag.error(
          reader.location(s["lock_dir"] ?? sshNode).advanced(
            by: reader.contentOffset(s["lock_dir"] ?? sshNode)),
          "lock_dir of ssh of \(what) must be an absolute path on the hosts, found '\(lockDir)'")
      }
    }
    if let config = s["config"].flatMap({ reader.string($0, "config of ssh of \(what)") }) {
      settings.config = config
    }
    if let optionsNode = s["options"],
      let options = reader.stringList(optionsNode, "options of ssh of \(what)")
    {
      settings.options = options
    }
    if let forksNode = s["forks"], let forks = reader.int(forksNode, "forks of ssh of \(what)") {
      if (1...1000).contains(forks) {
        settings.forks = forks
      } else {
        reader.bag.error(reader.location(forksNode), "forks of ssh of \(what) must be between 1 and 1000")
      }
    }
  }

  /// `via: host` or `via: control` (the default) of a health check.
  mutating func readVia(_ node: Node?, _ what: String) -> Bool {
    guard let node, let text = reader.string(node, "via of \(what)") else { return false }
    switch text {
    case "host": return true
    case "control": return false
    default:
      reader.bag.error(
        reader.location(node).advanced(by: reader.contentOffset(node)),
        "via of \(what) must be control or host, found '\(text)'\(Suggest.hint(for: text, in: ["control", "host"]))"
      )
      return false
    }
  }

  /// A host or group name, or a list of them, each located where its text starts.
  mutating func hostNames(_ node: Node, _ what: String) -> [Located<String>] {
    let items: [Node]
    if let sequence = node.sequence {
      items = Array(sequence)
      if items.isEmpty { reader.bag.error(reader.location(node), "\(what) is empty; name a host or group") }
    } else {
      items = [node]
    }
    return items.compactMap { item in
      reader.string(item, "a host or group of \(what)").map {
        Located($0, at: reader.location(item).advanced(by: reader.contentOffset(item)))
      }
    }
  }

  /// `3` or `"50%"`; nil (and an error) otherwise.
  mutating func percentOrCount(_ node: Node, _ what: String) -> Located<BatchSize>? {
    let at = reader.location(node).advanced(by: reader.contentOffset(node))
    guard let text = node.scalar?.string, !YAMLReader.isNull(node) else {
      reader.bag.error(reader.location(node), "expected a number or a percentage like \"50%\" for \(what)")
      return nil
    }
    if text.hasSuffix("%"), let value = Int(text.dropLast().trimmingCharacters(in: .whitespaces)) {
      return Located(.percent(value), at: at)
    }
    if let value = Int(text) { return Located(.count(value), at: at) }
    reader.bag.error(at, "expected a number or a percentage like \"50%\" for \(what), found '\(text)'")
    return nil
  }

  mutating func readRolling(_ node: Node, what: String) -> RollingSpec? {
    let rollingWhat = "rolling of \(what)"
    guard
      let g = reader.fields(
        node, rollingWhat, allowed: ["on", "batches", "max_fail", "pause", "gate", "order", "steps"],
        required: ["on", "steps"])
    else { return nil }
    let on = g["on"].map { hostNames($0, "on of \(rollingWhat)") } ?? []
    let batches =
      g["batches"].map { readBatches($0, rollingWhat) } ?? [Located(.percent(100), at: reader.location(node))]
    var maxFail = Located(FailureAllowance.count(0), at: reader.location(node))
    if let failNode = g["max_fail"], let allowance = readMaxFail(failNode, rollingWhat) {
      maxFail = allowance
    }
    let order = g["order"].flatMap { readOrder($0, rollingWhat) } ?? .listed
    let steps = g["steps"].map { readSteps($0, "rolling step of \(what)") } ?? []
    return RollingSpec(
      on: on, batches: batches, maxFail: maxFail,
      pause: g["pause"].flatMap { reader.duration($0, "pause of \(rollingWhat)") } ?? 0,
      gate: g["gate"].flatMap { reader.condition($0, "gate of \(rollingWhat)") }, order: order, steps: steps,
      location: reader.location(node))
  }

  /// The `batches:` of a rolling step: sizes of at least one host that grow batch by batch.
  private mutating func readBatches(_ batchesNode: Node, _ rollingWhat: String) -> [Located<BatchSize>] {
    var batches: [Located<BatchSize>] = []
    let items = batchesNode.sequence.map(Array.init) ?? [batchesNode]
    if items.isEmpty {
      reader.bag.error(
        reader.location(batchesNode), "batches of \(rollingWhat) is empty; e.g. [1, \"50%\", \"100%\"]")
    }
    for item in items {
      guard let size = percentOrCount(item, "a batch of \(rollingWhat)") else { continue }
      switch size.value {
      case .count(let value) where value < 1:
        reader.bag.error(size.location, "batch size \(value) takes no host; a batch is at least 1 host")
        continue
      case .percent(let value) where value < 1 || value > 100:
        reader.bag.error(size.location, "batch size \(value)% must be from 1% to 100%")
        continue
      default: break
      }
      if let previous = batches.last(where: { Self.sameKind($0.value, size.value) }),
        Self.magnitude(previous.value) >= Self.magnitude(size.value)
      {
        reader.bag.error(
          size.location,
          "batch size \(size.value) does not grow past \(previous.value); batches are cumulative targets and must increase"
        )
        continue
      }
      batches.append(size)
    }
    return batches
  }

  /// The `max_fail:` of a rolling step; nil (after an error, if any) when it is not a valid allowance.
  private mutating func readMaxFail(_ failNode: Node, _ rollingWhat: String) -> Located<FailureAllowance>? {
    guard let size = percentOrCount(failNode, "max_fail of \(rollingWhat)") else { return nil }
    switch size.value {
    case .count(let value):
      if value < 0 {
        reader.bag.error(size.location, "max_fail of \(rollingWhat) must not be negative")
        return nil
      }
      return Located(.count(value), at: size.location)
    case .percent(let value):
      if value < 0 || value >= 100 {
        reader.bag.error(
          size.location,
          "max_fail \(value)% of \(rollingWhat) must be from 0% to 99%; failures must exceed it to stop a batch"
        )
        return nil
      }
      return Located(.percent(value), at: size.location)
    }
  }

  /// The `order:` of a rolling step; nil (after an error, if any) when it is not `listed` or `shuffle`.
  private mutating func readOrder(_ orderNode: Node, _ rollingWhat: String) -> HostOrder? {
    guard let text = reader.string(orderNode, "order of \(rollingWhat)") else { return nil }
    if let parsed = HostOrder(rawValue: text) { return parsed }
    let choices = HostOrder.allCases.map(\.rawValue)
    reader.bag.error(
      reader.location(orderNode).advanced(by: reader.contentOffset(orderNode)),
      "order of \(rollingWhat) must be listed or shuffle, found '\(text)'\(Suggest.hint(for: text, in: choices))"
    )
    return nil
  }

  static func sameKind(_ a: BatchSize, _ b: BatchSize) -> Bool {
    switch (a, b) {
    case (.count, .count), (.percent, .percent): return true
    default: return false
    }
  }

  static func magnitude(_ size: BatchSize) -> Int {
    switch size {
    case .count(let value), .percent(let value): return value
    }
  }
}
