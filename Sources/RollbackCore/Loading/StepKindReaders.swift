import Foundation
import Yams

/// One reader per step kind: each turns the node under the kind's key into a ``StepKind``,
/// reporting its problems where they are written.
extension RunbookBuilder {
  /// Reads the kind `kind` of the step `what` from `node`; `f` holds the step's own fields
  /// (a `wait` and an `sql` step keep some of their settings beside the kind).
  mutating func readKind(_ kind: String, _ node: Node, fields f: YAMLReader.Fields, what: String) -> StepKind?
  {
    switch kind {
    case "check": return readCheckStep(node, what: what)
    case "assert": return reader.condition(node, "assert of \(what)").map { .assert($0) }
    case "wait": return readWaitStep(node, fields: f, what: what)
    case "flag": return readFlagStep(node, what: what)
    case "restart": return readRestartStep(node, what: what)
    case "run": return reader.command(node, "run of \(what)").map { .run($0) }
    case "http": return readHTTPStep(node, what: what)
    case "sql": return readSQLStep(node, fields: f, what: what)
    case "notify": return readNotifyStep(node, what: what)
    case "confirm": return reader.template(node, "confirm of \(what)").map { .confirm($0) }
    case "include": return readIncludeStep(node, what: what)
    case "rolling": return readRolling(node, what: what).map { .rolling($0) }
    case "silence": return readSilenceStep(node, what: what)
    default: return nil
    }
  }

  /// `check: NAME` or `check: [NAME, …]`.
  mutating func readCheckStep(_ node: Node, what: String) -> StepKind? {
    if let single = node.scalar?.string, !YAMLReader.isNull(node) {
      return .check([Located(single, at: reader.location(node).advanced(by: reader.contentOffset(node)))])
    }
    guard let sequence = node.sequence, !sequence.isEmpty else {
      reader.bag.error(reader.location(node), "check of \(what) needs a list of signal names")
      return nil
    }
    return .check(
      sequence.compactMap { item in
        reader.string(item, "a signal of \(what)").map {
          Located($0, at: reader.location(item).advanced(by: reader.contentOffset(item)))
        }
      })
  }

  /// `wait: CONDITION` with `within`, `interval` and `consecutive` beside it.
  mutating func readWaitStep(_ node: Node, fields f: YAMLReader.Fields, what: String) -> StepKind? {
    guard let condition = reader.condition(node, "wait of \(what)") else { return nil }
    let within = f["within"].flatMap { reader.duration($0, "within of \(what)") } ?? 300
    let interval = f["interval"].flatMap { reader.duration($0, "interval of \(what)") } ?? 5
    var consecutive = 1
    if let countNode = f["consecutive"], let count = reader.int(countNode, "consecutive of \(what)") {
      if count < 1 || count > 10_000 {
        reader.bag.error(reader.location(countNode), "consecutive of \(what) must be between 1 and 10000")
      } else {
        consecutive = count
      }
    }
    if interval <= 0 {
      reader.bag.error(reader.location(f["interval"] ?? node), "interval of \(what) must be positive")
    }
    return .wait(condition, within: within, interval: max(interval, 0.001), consecutive: consecutive)
  }

  /// `flag: {name, set | percent | step_down}`.
  mutating func readFlagStep(_ node: Node, what: String) -> StepKind? {
    guard
      let g = reader.fields(
        node, "flag of \(what)", allowed: ["name", "set", "percent", "step_down"], required: ["name"])
    else { return nil }
    guard let nameNode = g["name"], let name = reader.string(nameNode, "name of the flag in \(what)") else {
      return nil
    }
    let changes = ["set", "percent", "step_down"].filter { g.has($0) }
    guard changes.count == 1, let changeKey = changes.first, let changeNode = g[changeKey] else {
      reader.bag.error(
        reader.location(node),
        "flag of \(what) needs exactly one of set: enabled|disabled, percent: N or step_down: true")
      return nil
    }
    guard let change = readFlagChange(changeKey, changeNode, what: what) else { return nil }
    return .flag(name: Located(name, at: reader.location(nameNode)), change: change)
  }

  /// The change a flag step makes: `set: enabled|disabled`, `percent: N` or `step_down: true`.
  mutating func readFlagChange(_ key: String, _ node: Node, what: String) -> FlagChange? {
    switch key {
    case "set":
      guard let text = reader.string(node, "set of \(what)") else { return nil }
      switch text {
      case "enabled": return .enable
      case "disabled": return .disable
      default:
        reader.bag.error(
          reader.location(node),
          "set must be enabled or disabled, found '\(text)'\(Suggest.hint(for: text, in: ["enabled", "disabled"]))"
        )
        return nil
      }
    case "percent":
      guard let value = reader.int(node, "percent of \(what)") else { return nil }
      guard (0...100).contains(value) else {
        reader.bag.error(reader.location(node), "percent must be from 0 to 100, found \(value)")
        return nil
      }
      return .percent(value)
    default:
      guard reader.bool(node, "step_down of \(what)") == true else {
        if node.scalar?.string == "false" {
          reader.bag.error(
            reader.location(node), "step_down: false does nothing; remove the step or use true")
        }
        return nil
      }
      return .stepDown
    }
  }

  /// `restart: SERVICE` or `restart: {service, rebuild}`.
  mutating func readRestartStep(_ node: Node, what: String) -> StepKind? {
    if let name = node.scalar?.string, !YAMLReader.isNull(node) {
      return .restart(service: Located(name, at: reader.location(node)), rebuild: false)
    }
    guard
      let g = reader.fields(
        node, "restart of \(what)", allowed: ["service", "rebuild"], required: ["service"]),
      let serviceNode = g["service"], let name = reader.string(serviceNode, "service of \(what)")
    else { return nil }
    let rebuild = g["rebuild"].flatMap { reader.bool($0, "rebuild of \(what)") } ?? false
    return .restart(service: Located(name, at: reader.location(serviceNode)), rebuild: rebuild)
  }

  /// `http: {method, url, headers, json | body, expect_status, expect_body}`.
  mutating func readHTTPStep(_ node: Node, what: String) -> StepKind? {
    guard
      let g = reader.fields(
        node, "http of \(what)",
        allowed: ["method", "url", "headers", "json", "body", "expect_status", "expect_body"],
        required: ["url"]),
      let url = g["url"].flatMap({ reader.template($0, "url of \(what)") })
    else { return nil }
    var headers: [(name: String, value: Template)] = []
    if let headersNode = g["headers"], let pairs = reader.pairs(headersNode, "headers of \(what)") {
      for (name, _, value) in pairs {
        if let template = reader.template(value, "header \(name) of \(what)") {
          headers.append((name, template))
        }
      }
    }
    var body: HTTPBody?
    if g.has("json"), g.has("body") {
      reader.bag.error(
        reader.location(g.keyNode("body") ?? node), "http of \(what) has both json and body; keep one")
    } else if let jsonNode = g["json"] {
      body = reader.json(jsonNode, "json of \(what)").map { .json($0) }
    } else if let bodyNode = g["body"] {
      body = reader.template(bodyNode, "body of \(what)").map { .text($0) }
    }
    return .http(
      HTTPStepSpec(
        method: readHTTPMethod(g["method"], what: what), url: url, headers: headers, body: body,
        expectStatus: g["expect_status"].flatMap { reader.statuses($0, "expect_status of \(what)") } ?? [],
        expectBody: g["expect_body"].flatMap { reader.template($0, "expect_body of \(what)") }))
  }

  /// An HTTP step's method, upper-cased; GET when not given (or unknown, with an error).
  mutating func readHTTPMethod(_ node: Node?, what: String) -> String {
    guard let node, let text = reader.string(node, "method of \(what)") else { return "GET" }
    let known = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    if known.contains(text.uppercased()) { return text.uppercased() }
    reader.bag.error(
      reader.location(node), "unknown HTTP method '\(text)'\(Suggest.hint(for: text.uppercased(), in: known))"
    )
    return "GET"
  }

  /// `sql: QUERY` or `sql: {query, mutates}`; `mutates` may also stand beside the kind.
  mutating func readSQLStep(_ node: Node, fields f: YAMLReader.Fields, what: String) -> StepKind? {
    var mutates = f["mutates"].flatMap { reader.bool($0, "mutates of \(what)") }
    let query: Template?
    if node.mapping != nil {
      guard let g = reader.fields(node, "sql of \(what)", allowed: ["query", "mutates"], required: ["query"])
      else { return nil }
      query = g["query"].flatMap { reader.template($0, "query of \(what)") }
      if let inner = g["mutates"].flatMap({ reader.bool($0, "mutates of \(what)") }) { mutates = inner }
    } else {
      query = reader.template(node, "sql of \(what)")
    }
    return query.map { .sql($0, mutates: mutates ?? true) }
  }

  /// `notify: TEXT` or `notify: {message | template, channel}`; a template is looked up in
  /// the runbook's `templates:`, read before the levels.
  mutating func readNotifyStep(_ node: Node, what: String) -> StepKind? {
    if node.scalar != nil {
      return reader.template(node, "notify of \(what)").map {
        .notify(NotifyStepSpec(message: $0, templateName: nil, channel: nil))
      }
    }
    guard
      let g = reader.fields(
        node, "notify of \(what)",
        allowed: ["message", "template", "channel", "pagerduty", "severity", "summary"])
    else {
      return nil
    }
    if g.has("pagerduty") || g.has("severity") || g.has("summary") {
      return readPagerDutyNotify(node, g, what: what)
    }
    let channel = reader.optionalString(g["channel"], "channel of \(what)")
    switch (g["message"], g["template"]) {
    case (let messageNode?, nil):
      return reader.template(messageNode, "message of \(what)").map {
        .notify(NotifyStepSpec(message: $0, templateName: nil, channel: channel))
      }
    case (nil, let templateNode?):
      guard let name = reader.string(templateNode, "template of \(what)") else { return nil }
      let here = reader.location(templateNode)
      guard let template = templates[name] else {
        reader.bag.error(
          here, "unknown template '\(name)'\(Suggest.hint(for: name, in: Array(templates.keys)))")
        return .notify(
          NotifyStepSpec(message: Template(literal: "", at: here), templateName: name, channel: channel))
      }
      return .notify(NotifyStepSpec(message: template, templateName: name, channel: channel))
    default:
      reader.bag.error(reader.location(node), "notify of \(what) needs exactly one of message or template")
      return nil
    }
  }

  /// `notify: {pagerduty: trigger|resolve, severity, summary}`: a PagerDuty alert event.
  mutating func readPagerDutyNotify(_ node: Node, _ g: YAMLReader.Fields, what: String) -> StepKind? {
    for other in ["message", "template", "channel"] where g.has(other) {
      reader.bag.error(
        reader.location(g.keyNode(other) ?? node),
        "notify of \(what) sends a PagerDuty event: use summary, not \(other)")
      return nil
    }
    guard let actionNode = g["pagerduty"], let action = reader.string(actionNode, "pagerduty of \(what)")
    else {
      reader.bag.error(reader.location(node), "notify of \(what) needs pagerduty: trigger or resolve")
      return nil
    }
    guard PagerDutyStepAlert.actions.contains(action) else {
      reader.bag.error(
        reader.location(actionNode),
        "pagerduty must be trigger or resolve, found '\(action)'\(Suggest.hint(for: action, in: PagerDutyStepAlert.actions))"
      )
      return nil
    }
    var severity = "critical"
    if let severityNode = g["severity"], let text = reader.string(severityNode, "severity of \(what)") {
      guard PagerDutyStepAlert.severities.contains(text) else {
        reader.bag.error(
          reader.location(severityNode),
          "severity must be one of \(PagerDutyStepAlert.severities.joined(separator: ", ")), found '\(text)'\(Suggest.hint(for: text, in: PagerDutyStepAlert.severities))"
        )
        return nil
      }
      severity = text
    }
    let summary: Template
    if let summaryNode = g["summary"] {
      guard let written = reader.template(summaryNode, "summary of \(what)") else { return nil }
      summary = written
    } else if action == "trigger" {
      reader.bag.error(
        reader.location(node), "notify of \(what) triggers a PagerDuty alert and needs a summary")
      return nil
    } else {
      summary = Template(literal: "resolve", at: reader.location(node))
    }
    var spec = NotifyStepSpec(message: summary, templateName: nil, channel: nil)
    spec.pagerDuty = PagerDutyStepAlert(action: action, severity: severity)
    return .notify(spec)
  }

  /// `silence: {matchers: ["name=value", …], for: DURATION}`.
  mutating func readSilenceStep(_ node: Node, what: String) -> StepKind? {
    guard
      let g = reader.fields(
        node, "silence of \(what)", allowed: ["matchers", "for"], required: ["matchers", "for"]),
      let matchersNode = g["matchers"], let forNode = g["for"]
    else { return nil }
    guard let sequence = matchersNode.sequence, !sequence.isEmpty else {
      reader.bag.error(
        reader.location(matchersNode), "matchers of \(what) needs a list such as [\"service=checkout\"]")
      return nil
    }
    var matchers: [Located<String>] = []
    for item in sequence {
      guard let text = reader.string(item, "a matcher of \(what)") else { return nil }
      do {
        _ = try SilenceMatcher.parse(text)
      } catch {
        reader.bag.error(reader.location(item), error.description)
        return nil
      }
      matchers.append(Located(text, at: reader.location(item)))
    }
    guard let duration = reader.duration(forNode, "for of \(what)") else { return nil }
    guard duration > 0 else {
      reader.bag.error(reader.location(forNode), "for of \(what) must be a positive duration")
      return nil
    }
    return .silence(SilenceStepSpec(matchers: matchers, duration: duration))
  }

  /// `include: level N` or `include: scenario NAME`.
  mutating func readIncludeStep(_ node: Node, what: String) -> StepKind? {
    guard let text = reader.string(node, "include of \(what)") else { return nil }
    let words = text.split(separator: " ", omittingEmptySubsequences: true)
    let at = reader.location(node).advanced(by: reader.contentOffset(node))
    if words.count == 2, words[0] == "level", let number = Int(words[1]) {
      return .include(Located(.level(number), at: at))
    }
    if words.count == 2, words[0] == "scenario" {
      return .include(Located(.scenario(String(words[1])), at: at))
    }
    reader.bag.error(at, "include of \(what) must be 'level N' or 'scenario NAME', found '\(text)'")
    return nil
  }
}
