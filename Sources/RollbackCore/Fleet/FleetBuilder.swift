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
        let hostWhat = "host '\(name)' of \(what)"
        if !Self.isHostName(name) {
          reader.bag.error(
            reader.location(keyNode), "host name '\(name)' may use only letters, digits, '-', '_' and '.'")
        }
        guard
          let h = reader.fields(value, hostWhat, allowed: ["ssh", "address", "vars"], required: ["ssh"]),
          let ssh = h["ssh"].flatMap({ reader.string($0, "ssh of \(hostWhat)") })
        else { continue }
        if ssh.isEmpty || ssh.hasPrefix("-") || ssh.contains(where: { $0.isWhitespace }) {
          reader.bag.error(
            reader.location(h["ssh"] ?? value).advanced(by: reader.contentOffset(h["ssh"] ?? value)),
            "ssh of \(hostWhat) must be an ssh destination (alias, host or user@host), found '\(ssh)'")
        }
        var vars: [(name: String, value: Template)] = []
        if let varsNode = h["vars"], let varPairs = reader.pairs(varsNode, "vars of \(hostWhat)") {
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
        }
        let address = h["address"].flatMap { reader.string($0, "address of \(hostWhat)") }
        if inventory.host(named: name) == nil {
          inventory.hosts.append(
            Host(
              name: name, ssh: ssh, address: address ?? Host.defaultAddress(ofDestination: ssh), vars: vars,
              location: reader.location(keyNode)))
        }
      }
    }
    if let groupsNode = f["groups"], let pairs = reader.pairs(groupsNode, "groups of \(what)") {
      for (name, keyNode, value) in pairs {
        if !Self.isHostName(name) {
          reader.bag.error(
            reader.location(keyNode), "group name '\(name)' may use only letters, digits, '-', '_' and '.'")
        }
        let members = hostNames(value, "group '\(name)' of \(what)")
        if value.sequence?.isEmpty == true {
          reader.bag.error(reader.location(value), "group '\(name)' of \(what) is empty; list its hosts")
        }
        inventory.groups.append(HostGroup(name: name, members: members, location: reader.location(keyNode)))
      }
    }
    if let sshNode = f["ssh"],
      let s = reader.fields(sshNode, "ssh of \(what)", allowed: ["config", "options", "forks", "lock_dir"])
    {
      if let lockDir = s["lock_dir"].flatMap({ reader.string($0, "lock_dir of ssh of \(what)") }) {
        if lockDir.hasPrefix("/") {
          inventory.ssh.lockDir = lockDir
        } else {
          reader.bag.error(
            reader.location(s["lock_dir"] ?? sshNode).advanced(
              by: reader.contentOffset(s["lock_dir"] ?? sshNode)),
            "lock_dir of ssh of \(what) must be an absolute path on the hosts, found '\(lockDir)'")
        }
      }
      if let config = s["config"].flatMap({ reader.string($0, "config of ssh of \(what)") }) {
        inventory.ssh.config = config
      }
      if let optionsNode = s["options"],
        let options = reader.stringList(optionsNode, "options of ssh of \(what)")
      {
        inventory.ssh.options = options
      }
      if let forksNode = s["forks"], let forks = reader.int(forksNode, "forks of ssh of \(what)") {
        if (1...1000).contains(forks) {
          inventory.ssh.forks = forks
        } else {
          reader.bag.error(reader.location(forksNode), "forks of ssh of \(what) must be between 1 and 1000")
        }
      }
    }
    if inventory.hosts.isEmpty, f.has("groups") || f.has("ssh"), !f.has("hosts") {
      let key = f.has("groups") ? "groups" : "ssh"
      reader.bag.error(
        reader.location(f.keyNode(key) ?? f.node), "\(what) has \(key) but no hosts; declare its hosts")
    }
    return inventory
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
    var batches: [Located<BatchSize>] = []
    if let batchesNode = g["batches"] {
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
    } else {
      batches = [Located(.percent(100), at: reader.location(node))]
    }
    var maxFail = Located(FailureAllowance.count(0), at: reader.location(node))
    if let failNode = g["max_fail"], let size = percentOrCount(failNode, "max_fail of \(rollingWhat)") {
      switch size.value {
      case .count(let value):
        if value < 0 {
          reader.bag.error(size.location, "max_fail of \(rollingWhat) must not be negative")
        } else {
          maxFail = Located(.count(value), at: size.location)
        }
      case .percent(let value):
        if value < 0 || value >= 100 {
          reader.bag.error(
            size.location,
            "max_fail \(value)% of \(rollingWhat) must be from 0% to 99%; failures must exceed it to stop a batch"
          )
        } else {
          maxFail = Located(.percent(value), at: size.location)
        }
      }
    }
    var order = HostOrder.listed
    if let orderNode = g["order"], let text = reader.string(orderNode, "order of \(rollingWhat)") {
      if let parsed = HostOrder(rawValue: text) {
        order = parsed
      } else {
        let choices = HostOrder.allCases.map(\.rawValue)
        reader.bag.error(
          reader.location(orderNode).advanced(by: reader.contentOffset(orderNode)),
          "order of \(rollingWhat) must be listed or shuffle, found '\(text)'\(Suggest.hint(for: text, in: choices))"
        )
      }
    }
    let steps = g["steps"].map { readSteps($0, "rolling step of \(what)") } ?? []
    return RollingSpec(
      on: on, batches: batches, maxFail: maxFail,
      pause: g["pause"].flatMap { reader.duration($0, "pause of \(rollingWhat)") } ?? 0,
      gate: g["gate"].flatMap { reader.condition($0, "gate of \(rollingWhat)") }, order: order, steps: steps,
      location: reader.location(node))
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
