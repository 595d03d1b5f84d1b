import Yams

extension RunbookBuilder {
  /// `pickup: {pid: {command|pidfile|systemd}, http: {url, json_path}}` of a service.
  mutating func readPickup(_ node: Node, _ what: String) -> PickupSpec? {
    guard let f = reader.fields(node, what, allowed: ["pid", "http"], required: ["pid"]),
      let pidNode = f["pid"],
      let p = reader.fields(pidNode, "pid of \(what)", allowed: ["command", "pidfile", "systemd"])
    else { return nil }
    let given = ["command", "pidfile", "systemd"].filter { p.has($0) }
    guard given.count == 1, let kind = given.first, let valueNode = p[kind] else {
      reader.bag.error(
        reader.location(pidNode),
        "pid of \(what) needs exactly one of command, pidfile or systemd"
          + (given.isEmpty ? "" : "; found \(given.joined(separator: " and "))"))
      return nil
    }
    let source: PickupSpec.PIDSource?
    switch kind {
    case "command": source = reader.command(valueNode, "command of pid of \(what)").map { .command($0) }
    case "pidfile": source = reader.template(valueNode, "pidfile of pid of \(what)").map { .pidfile($0) }
    default: source = reader.template(valueNode, "systemd of pid of \(what)").map { .systemd($0) }
    }
    var http: PickupSpec.HTTPValue?
    if let httpNode = f["http"] {
      guard
        let h = reader.fields(
          httpNode, "http of \(what)", allowed: ["url", "json_path"], required: ["url", "json_path"]),
        let url = h["url"].flatMap({ reader.template($0, "url of http of \(what)") }),
        let pathNode = h["json_path"], let path = reader.string(pathNode, "json_path of http of \(what)")
      else { return nil }
      let keys = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
      guard !path.isEmpty, !keys.contains(where: \.isEmpty) else {
        reader.bag.error(
          reader.location(pathNode),
          "json_path of http of \(what) must be dot-separated keys, none empty (e.g. flags.USE_API), found '\(path)'"
        )
        return nil
      }
      http = PickupSpec.HTTPValue(url: url, jsonPath: keys)
    }
    return source.map { PickupSpec(pid: $0, http: http, location: reader.location(node)) }
  }
}

extension PickupSpec {
  /// Every template it holds (the pid command's, the pidfile or unit, the URL), for the
  /// validator's variable checks.
  public var templates: [Template] {
    var list: [Template]
    switch pid {
    case .command(let command): list = RunbookValidator.templatesOfCommand(command)
    case .pidfile(let path): list = [path]
    case .systemd(let unit): list = [unit]
    }
    if let http { list.append(http.url) }
    return list
  }
}
