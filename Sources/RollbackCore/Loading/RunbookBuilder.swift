import Foundation
import Yams

/// Turns the composed YAML tree into the runbook model, reporting every structural problem.
struct RunbookBuilder {
  var reader: YAMLReader
  let options: LoadOptions
  /// The runbook's `templates:`, read before the levels so that notify steps can use them.
  var templates: [String: Template] = [:]

  init(reader: YAMLReader, options: LoadOptions) {
    self.reader = reader
    self.options = options
  }

  mutating func build(_ root: Node) -> Runbook? {
    guard
      let top = reader.fields(
        root, "the runbook", allowed: RunbookLoader.topLevelKeys,
        required: ["version", "name", "environments", "levels"])
    else { return nil }
    if let node = top["version"] { checkVersion(node) }
    let name = top["name"].flatMap { readName($0) } ?? ""
    let description = reader.optionalString(top["description"], "description")
    let environments = top["environments"].map { readEnvironments($0) } ?? []
    var defaultEnvironment = environments.first?.name ?? ""
    if let node = top["default_environment"], let text = readDefaultEnvironment(node, among: environments) {
      defaultEnvironment = text
    }
    let flags = top["flags"].map { readFlags($0) } ?? [:]
    let services = top["services"].map { readServices($0) } ?? [:]
    let signals = top["signals"].map { readSignals($0) } ?? []
    let decision = top["decision"].map { readDecision($0) } ?? []
    let onUnknown = top["decision_on_unknown"].flatMap { readOnUnknown($0) }
    if let node = top["templates"] { readTemplates(node) }
    let levels = top["levels"].map { readLevels($0) } ?? []
    let scenarios = top["scenarios"].map { readScenarios($0) } ?? []
    let notify = top["notify"].map { readNotify($0) } ?? NotifySettings()
    let contacts = top["contacts"].map { readContacts($0) } ?? []
    return Runbook(
      file: reader.file, name: name, description: description, defaultEnvironment: defaultEnvironment,
      environments: environments, flags: flags, services: services, signals: signals, decision: decision,
      decisionOnUnknown: onUnknown, levels: levels, scenarios: scenarios, notify: notify,
      templates: templates,
      contacts: contacts)
  }

  // MARK: Top-level scalars

  mutating func checkVersion(_ node: Node) {
    if node.scalar?.string != "1" {
      reader.bag.error(
        reader.location(node),
        "unsupported version \(reader.describe(node)); this tool reads runbook format version 1")
    }
  }

  /// The runbook's name (any string, so later checks still run); an error when it is not
  /// lowercase letters, digits and '-'.
  mutating func readName(_ node: Node) -> String? {
    guard let text = reader.string(node, "name") else { return nil }
    let valid =
      !text.isEmpty
      && text.unicodeScalars.allSatisfy {
        ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
      }
    if !valid {
      reader.bag.error(
        reader.location(node), "name '\(text)' must use only lowercase letters, digits and '-'")
    }
    return text
  }

  /// `default_environment` when it names an environment (or there are none to check against).
  mutating func readDefaultEnvironment(_ node: Node, among environments: [Environment]) -> String? {
    guard let text = reader.string(node, "default_environment") else { return nil }
    if environments.contains(where: { $0.name == text }) || environments.isEmpty { return text }
    reader.bag.error(
      reader.location(node),
      "default_environment '\(text)' is not an environment\(Suggest.hint(for: text, in: environments.map(\.name)))"
    )
    return nil
  }

  /// `decision_on_unknown`: nil for `inconclusive` (the default) or a wrong value.
  mutating func readOnUnknown(_ node: Node) -> Severity? {
    guard let text = reader.string(node, "decision_on_unknown"), text != "inconclusive" else { return nil }
    if let severity = Severity(rawValue: text) { return severity }
    let choices = ["inconclusive"] + Severity.allCases.map(\.rawValue)
    reader.bag.error(
      reader.location(node),
      "decision_on_unknown must be inconclusive or a severity (low, medium, high, critical), found '\(text)'"
        + Suggest.hint(for: text, in: choices))
    return nil
  }

  /// `templates:`, read before the levels so that notify steps can use them.
  mutating func readTemplates(_ node: Node) {
    guard let list = reader.pairs(node, "templates") else { return }
    for (key, _, value) in list {
      if let template = reader.template(value, "template \(key)") { templates[key] = template }
    }
  }

  // MARK: Environments

  mutating func readEnvironments(_ node: Node) -> [Environment] {
    guard let list = reader.pairs(node, "environments") else { return [] }
    if list.isEmpty {
      reader.bag.error(reader.location(node), "environments is empty; declare at least one environment")
    }
    var result: [Environment] = []
    for (name, keyNode, value) in list {
      let what = "environment '\(name)'"
      guard
        let f = reader.fields(
          value, what, allowed: ["vars", "prometheus", "postgres", "services", "hosts", "groups", "ssh"])
      else {
        continue
      }
      let vars = f["vars"].map { readVariables($0, what: what) } ?? []
      let prometheus = f["prometheus"].flatMap { readPrometheusSettings($0, what: what) }
      let postgres = f["postgres"].flatMap { readPostgresSettings($0, what: what) }
      let overrides = f["services"].map { readServiceOverrides($0, what: what) } ?? [:]
      result.append(
        Environment(
          name: name, vars: vars, prometheus: prometheus, postgres: postgres, serviceOverrides: overrides,
          inventory: readInventory(f, what), location: reader.location(keyNode)))
    }
    return result
  }

  /// `vars:` of an environment: each may use only `${env.NAME}` and `${secret.NAME}`.
  mutating func readVariables(_ node: Node, what: String) -> [(name: String, value: Template)] {
    guard let pairs = reader.pairs(node, "vars of \(what)") else { return [] }
    var vars: [(name: String, value: Template)] = []
    for (varName, _, varValue) in pairs {
      guard let template = reader.template(varValue, "variable '\(varName)' of \(what)") else { continue }
      if !template.variables.isEmpty {
        reader.bag.error(
          template.location,
          "variable '\(varName)' refers to another variable; variables may use only ${env.NAME} and ${secret.NAME}"
        )
      }
      vars.append((varName, template))
    }
    return vars
  }

  /// `prometheus: {url, token_env, timeout}` of an environment.
  mutating func readPrometheusSettings(_ node: Node, what: String) -> PrometheusSettings? {
    guard
      let p = reader.fields(
        node, "prometheus of \(what)", allowed: ["url", "token_env", "timeout"], required: ["url"]),
      let url = p["url"].flatMap({ reader.template($0, "prometheus url") })
    else { return nil }
    return PrometheusSettings(
      url: url, tokenEnv: reader.optionalString(p["token_env"], "token_env"),
      timeout: p["timeout"].flatMap { reader.duration($0, "prometheus timeout") } ?? 5)
  }

  /// `postgres: {dsn_env, timeout}` of an environment.
  mutating func readPostgresSettings(_ node: Node, what: String) -> PostgresSettings? {
    guard
      let p = reader.fields(
        node, "postgres of \(what)", allowed: ["dsn_env", "timeout"], required: ["dsn_env"]),
      let dsnEnv = p["dsn_env"].flatMap({ reader.string($0, "dsn_env") })
    else { return nil }
    return PostgresSettings(
      dsnEnv: dsnEnv, timeout: p["timeout"].flatMap { reader.duration($0, "postgres timeout") } ?? 5)
  }

  /// `services:` of an environment: per-service overrides of restart, rebuild, timeout, health.
  mutating func readServiceOverrides(_ node: Node, what: String) -> [String: ServiceOverride] {
    guard let pairs = reader.pairs(node, "services of \(what)") else { return [:] }
    var overrides: [String: ServiceOverride] = [:]
    for (serviceName, _, serviceNode) in pairs {
      let serviceWhat = "service '\(serviceName)' of \(what)"
      guard
        let s = reader.fields(
          serviceNode, serviceWhat, allowed: ["restart", "rebuild", "timeout", "health", "pickup"])
      else { continue }
      overrides[serviceName] = ServiceOverride(
        restart: s["restart"].flatMap { reader.command($0, "restart of \(serviceWhat)") },
        rebuild: s["rebuild"].flatMap { reader.command($0, "rebuild of \(serviceWhat)") },
        timeout: s["timeout"].flatMap { reader.duration($0, "timeout of \(serviceWhat)") },
        health: s["health"].flatMap { readHealth($0, serviceWhat) },
        pickup: s["pickup"].flatMap { readPickup($0, "pickup of \(serviceWhat)") },
        location: reader.location(serviceNode))
    }
    return overrides
  }

  // MARK: Flags and services

  mutating func readFlags(_ node: Node) -> [String: FeatureFlag] {
    guard let list = reader.pairs(node, "flags") else { return [:] }
    var result: [String: FeatureFlag] = [:]
    let allowed = [
      "key", "files", "enabled", "disabled", "percent_key", "stages", "service", "build_time", "create",
      "hosts",
    ]
    for (name, keyNode, value) in list {
      let what = "flag '\(name)'"
      guard let f = reader.fields(value, what, allowed: allowed, required: ["key", "files"]) else { continue }
      let key = f["key"].flatMap { reader.string($0, "key of \(what)") } ?? ""
      let files = f["files"].map { readFlagFiles($0, what) } ?? []
      let stages = f["stages"].map { readStages($0, what) } ?? []
      let service = f["service"].flatMap { node in
        reader.string(node, "service of \(what)").map { Located($0, at: reader.location(node)) }
      }
      result[name] = FeatureFlag(
        name: name, key: key, files: files,
        enabled: f["enabled"].flatMap { reader.string($0, "enabled of \(what)") } ?? "true",
        disabled: f["disabled"].flatMap { reader.string($0, "disabled of \(what)") } ?? "false",
        percentKey: reader.optionalString(f["percent_key"], "percent_key of \(what)"),
        stages: stages, service: service,
        buildTime: f["build_time"].flatMap { reader.bool($0, "build_time of \(what)") } ?? false,
        create: f["create"].flatMap { reader.bool($0, "create of \(what)") } ?? false,
        hosts: f["hosts"].map { hostNames($0, "hosts of \(what)") } ?? [],
        location: reader.location(keyNode))
      if f.has("hosts"), f.has("service") {
        reader.bag.error(
          reader.location(f.keyNode("hosts") ?? value),
          "\(what) has both service and hosts; a flag lives on its service's hosts, so keep one")
      }
      checkDotEnvKeysAndValues(f, what)
      if f["stages"] != nil, f["percent_key"] == nil {
        reader.bag.error(
          reader.location(f.keyNode("stages") ?? value), "\(what) has stages but no percent_key to hold them")
      }
    }
    return result
  }

  /// A flag's `files:`: one file or a list of them.
  private mutating func readFlagFiles(_ filesNode: Node, _ what: String) -> [Template] {
    if let sequence = filesNode.sequence {
      if sequence.isEmpty {
        reader.bag.error(reader.location(filesNode), "files of \(what) is empty; list at least one file")
      }
      return sequence.compactMap { reader.template($0, "a file of \(what)") }
    }
    return reader.template(filesNode, "files of \(what)").map { [$0] } ?? []
  }

  /// A flag's `stages:`: percentages from 0 to 100, ascending, without repeats.
  private mutating func readStages(_ stagesNode: Node, _ what: String) -> [Int] {
    guard let sequence = stagesNode.sequence else {
      reader.bag.error(reader.location(stagesNode), "expected a list of percentages for stages of \(what)")
      return []
    }
    let stages = sequence.compactMap { reader.int($0, "a stage of \(what)") }
    if stages.contains(where: { $0 < 0 || $0 > 100 }) {
      reader.bag.error(reader.location(stagesNode), "stages of \(what) must be percentages from 0 to 100")
    }
    if stages != stages.sorted() || Set(stages).count != stages.count {
      reader.bag.error(
        reader.location(stagesNode), "stages of \(what) must be in ascending order without repeats")
    }
    return stages
  }

  /// Refuses, where they are written, the keys and values of a flag the dotenv editor would
  /// refuse halfway through a run (a key with `=` or a blank, a value with a line break).
  mutating func checkDotEnvKeysAndValues(_ f: YAMLReader.Fields, _ what: String) {
    for field in ["key", "percent_key"] {
      guard let node = f[field], let key = node.scalar?.string, !DotEnvDocument.isValidKey(key) else {
        continue
      }
      reader.bag.error(
        reader.location(node),
        "\(field) of \(what) is not a dotenv key the editor can change: \(key.debugDescription); "
          + "use only letters, digits, '_', '.' and '-'")
    }
    for field in ["enabled", "disabled"] {
      guard let node = f[field], let value = node.scalar?.string,
        let problem = DotEnvDocument.valueProblem(value)
      else { continue }
      reader.bag.error(
        reader.location(node), "\(field) of \(what) \(problem); a flag value must fit on one line")
    }
  }

  mutating func readHealth(_ node: Node, _ owner: String) -> HealthCheck? {
    let what = "health of \(owner)"
    guard
      let f = reader.fields(node, what, allowed: ["http", "within", "interval", "via"], required: ["http"])
    else {
      return nil
    }
    guard let httpNode = f["http"],
      let h = reader.fields(
        httpNode, "http of \(what)", allowed: ["url", "expect_status", "expect_body"], required: ["url"]),
      let url = h["url"].flatMap({ reader.template($0, "url of \(what)") })
    else { return nil }
    return HealthCheck(
      url: url,
      expectStatus: h["expect_status"].flatMap { reader.statuses($0, "expect_status of \(what)") } ?? [200],
      expectBody: h["expect_body"].flatMap { reader.template($0, "expect_body of \(what)") },
      within: f["within"].flatMap { reader.duration($0, "within of \(what)") } ?? 60,
      interval: f["interval"].flatMap { reader.duration($0, "interval of \(what)") } ?? 2,
      viaHost: readVia(f["via"], what), location: reader.location(node))
  }

  mutating func readServices(_ node: Node) -> [String: Service] {
    guard let list = reader.pairs(node, "services") else { return [:] }
    var result: [String: Service] = [:]
    for (name, keyNode, value) in list {
      let what = "service '\(name)'"
      guard
        let f = reader.fields(
          value, what, allowed: ["restart", "rebuild", "timeout", "health", "hosts", "pickup"],
          required: ["restart"])
      else { continue }
      result[name] = Service(
        name: name, restart: f["restart"].flatMap { reader.command($0, "restart of \(what)") },
        rebuild: f["rebuild"].flatMap { reader.command($0, "rebuild of \(what)") },
        timeout: f["timeout"].flatMap { reader.duration($0, "timeout of \(what)") } ?? 60,
        health: f["health"].flatMap { readHealth($0, what) },
        hosts: f["hosts"].map { hostNames($0, "hosts of \(what)") } ?? [], location: reader.location(keyNode),
        pickup: f["pickup"].flatMap { readPickup($0, "pickup of \(what)") })
    }
    return result
  }

  // MARK: Signals and the decision matrix

  mutating func readSignals(_ node: Node) -> [Signal] {
    guard let list = reader.pairs(node, "signals") else { return [] }
    var result: [Signal] = []
    for (name, keyNode, value) in list {
      let what = "signal '\(name)'"
      guard
        let f = reader.fields(
          value, what, allowed: ["prometheus", "postgres", "manual", "unit", "reduce", "default"])
      else {
        continue
      }
      let source = readSignalSource(f, value, what: what)
      let unit = readSignalUnit(f, what: what)
      let reduce = readReduction(f, what: what)
      let manualDefault = readManualDefault(f, source: source, what: what)
      if let source {
        result.append(
          Signal(
            name: name, source: source, unit: unit, reduce: reduce, manualDefault: manualDefault,
            location: reader.location(keyNode)))
      }
    }
    return result
  }

  /// Exactly one of `prometheus: QUERY`, `postgres: QUERY` or `manual: true`.
  mutating func readSignalSource(_ f: YAMLReader.Fields, _ value: Node, what: String) -> Signal.Source? {
    let sources = ["prometheus", "postgres", "manual"].filter { f.has($0) }
    if sources.count != 1 {
      let found = sources.isEmpty ? "none" : sources.joined(separator: " and ")
      reader.bag.error(
        reader.location(sources.count > 1 ? (f.keyNode(sources[1]) ?? value) : value),
        "\(what) needs exactly one source (prometheus, postgres or manual), found \(found)")
      return nil
    }
    if let query = f["prometheus"] {
      return reader.template(query, "prometheus query of \(what)").map { .prometheus($0) }
    }
    if let query = f["postgres"] {
      return reader.template(query, "postgres query of \(what)").map { .postgres($0) }
    }
    guard let manual = f["manual"] else { return nil }
    if reader.bool(manual, "manual of \(what)") == true { return .manual }
    reader.bag.error(reader.location(manual), "manual of \(what) must be true (or give a query instead)")
    return nil
  }

  /// `unit:` of a signal (count when not given).
  mutating func readSignalUnit(_ f: YAMLReader.Fields, what: String) -> SignalUnit {
    guard let unitNode = f["unit"], let text = reader.string(unitNode, "unit of \(what)") else {
      return .count
    }
    if let parsed = SignalUnit(rawValue: text) { return parsed }
    let units = SignalUnit.allCases.map(\.rawValue)
    reader.bag.error(
      reader.location(unitNode),
      "unknown unit '\(text)' for \(what)\(Suggest.hint(for: text, in: units)) (units: \(units.joined(separator: ", ")))"
    )
    return .count
  }

  /// `reduce:` of a signal (max when not given).
  mutating func readReduction(_ f: YAMLReader.Fields, what: String) -> Reduction {
    guard let reduceNode = f["reduce"], let text = reader.string(reduceNode, "reduce of \(what)") else {
      return .max
    }
    if let parsed = Reduction(rawValue: text) { return parsed }
    let choices = Reduction.allCases.map(\.rawValue)
    reader.bag.error(
      reader.location(reduceNode),
      "unknown reduce '\(text)' for \(what)\(Suggest.hint(for: text, in: choices)) (max, min, sum or avg)")
    return .max
  }

  /// `default:` of a manual signal; refused on a signal read from a query.
  mutating func readManualDefault(_ f: YAMLReader.Fields, source: Signal.Source?, what: String) -> Double? {
    guard let defaultNode = f["default"], let text = reader.string(defaultNode, "default of \(what)") else {
      return nil
    }
    guard case .manual = source else {
      reader.bag.error(
        reader.location(f.keyNode("default") ?? defaultNode),
        "only a manual signal takes a default; \(what) is read from its query")
      return nil
    }
    switch Quantity.threshold(text) {
    case .value(let value): return value
    case .notANumber, .badUnit:
      reader.bag.error(
        reader.location(defaultNode),
        "default of \(what) must be a number (units allowed: 5%, 2s), found '\(text)'")
      return nil
    }
  }

  mutating func readDecision(_ node: Node) -> [Rule] {
    guard let sequence = node.sequence else {
      reader.bag.error(
        reader.location(node), "expected a list of rules for decision, found \(reader.describe(node))")
      return []
    }
    var result: [Rule] = []
    for (index, ruleNode) in sequence.enumerated() {
      let what = "decision rule \(index + 1)"
      guard
        let f = reader.fields(
          ruleNode, what,
          allowed: ["severity", "label", "symptoms", "any", "all", "action", "respond_within"],
          required: ["severity", "action"])
      else { continue }
      var severity: Severity?
      if let node = f["severity"], let text = reader.string(node, "severity of \(what)") {
        severity = Severity(rawValue: text)
        if severity == nil {
          let names = Severity.allCases.map(\.rawValue)
          reader.bag.error(
            reader.location(node),
            "unknown severity '\(text)'\(Suggest.hint(for: text, in: names)) (critical, high, medium or low)")
        }
      }
      if !f.has("any"), !f.has("all") {
        reader.bag.error(reader.location(ruleNode), "\(what) needs 'any' or 'all' conditions")
      }
      let any = f["any"].flatMap { reader.comparisons($0, "any of \(what)") } ?? []
      let all = f["all"].flatMap { reader.comparisons($0, "all of \(what)") } ?? []
      let action = f["action"].flatMap { readAction($0, what) }
      guard let severity, let action else { continue }
      result.append(
        Rule(
          severity: severity, label: reader.optionalString(f["label"], "label of \(what)"),
          symptoms: f["symptoms"].flatMap { reader.stringList($0, "symptoms of \(what)") } ?? [],
          any: any, all: all, action: action, actionLocation: reader.location(f["action"] ?? ruleNode),
          respondWithin: f["respond_within"].flatMap { reader.duration($0, "respond_within of \(what)") },
          location: reader.location(ruleNode)))
    }
    return result
  }

  mutating func readAction(_ node: Node, _ owner: String) -> Action? {
    let what = "action of \(owner)"
    if let text = node.scalar?.string {
      switch text {
      case "pause": return .pause
      case "monitor": return .monitor
      case "none": return Action.none
      default:
        let words = ["pause", "monitor", "none"]
        reader.bag.error(
          reader.location(node),
          "unknown \(what) '\(text)'\(Suggest.hint(for: text, in: words)); use {level: N}, {step_down: FLAG},"
            + " {scenario: NAME}, pause, monitor or none")
        return nil
      }
    }
    guard let f = reader.fields(node, what, allowed: ["level", "step_down", "scenario"]) else { return nil }
    guard f.values.count == 1 else {
      reader.bag.error(reader.location(node), "\(what) needs exactly one of level, step_down or scenario")
      return nil
    }
    if let level = f["level"] { return reader.int(level, "level of \(what)").map { .level($0) } }
    if let flag = f["step_down"] { return reader.string(flag, "step_down of \(what)").map { .stepDown($0) } }
    if let scenario = f["scenario"] {
      return reader.string(scenario, "scenario of \(what)").map { .scenario($0) }
    }
    return nil
  }

  // MARK: Levels, scenarios and steps

  mutating func readLevels(_ node: Node) -> [Level] {
    guard let list = reader.pairs(node, "levels") else { return [] }
    if list.isEmpty { reader.bag.error(reader.location(node), "levels is empty; declare at least one level") }
    var result: [Level] = []
    for (key, keyNode, value) in list {
      guard let number = Int(key), number >= 0 else {
        reader.bag.error(reader.location(keyNode), "level keys are numbers (1, 2, 3…), found '\(key)'")
        continue
      }
      let what = "level \(number)"
      guard
        let f = reader.fields(
          value, what, allowed: ["name", "description", "target", "steps", "escalate"], required: ["steps"])
      else { continue }
      result.append(
        Level(
          number: number, name: reader.optionalString(f["name"], "name of \(what)") ?? "Level \(number)",
          description: reader.optionalString(f["description"], "description of \(what)"),
          target: f["target"].flatMap { reader.duration($0, "target of \(what)") },
          steps: f["steps"].map { readSteps($0, what) } ?? [], location: reader.location(keyNode),
          escalate: f["escalate"].flatMap { readEscalation($0, what) }))
    }
    return result.sorted { $0.number < $1.number }
  }

  /// `escalate: {after: DURATION, to: LEVEL}` of a level.
  mutating func readEscalation(_ node: Node, _ what: String) -> Escalation? {
    guard
      let f = reader.fields(
        node, "escalate of \(what)", allowed: ["after", "to"], required: ["after", "to"]),
      let afterNode = f["after"], let after = reader.duration(afterNode, "after of escalate of \(what)"),
      let toNode = f["to"], let to = reader.int(toNode, "to of escalate of \(what)")
    else { return nil }
    return Escalation(after: after, to: to, location: reader.location(node))
  }

  mutating func readScenarios(_ node: Node) -> [Scenario] {
    guard let list = reader.pairs(node, "scenarios") else { return [] }
    var result: [Scenario] = []
    for (name, keyNode, value) in list {
      let what = "scenario '\(name)'"
      guard
        let f = reader.fields(
          value, what, allowed: ["title", "symptoms", "causes", "target", "steps"], required: ["steps"])
      else { continue }
      result.append(
        Scenario(
          name: name, title: reader.optionalString(f["title"], "title of \(what)"),
          symptoms: f["symptoms"].flatMap { reader.stringList($0, "symptoms of \(what)") } ?? [],
          causes: f["causes"].flatMap { reader.stringList($0, "causes of \(what)") } ?? [],
          target: f["target"].flatMap { reader.duration($0, "target of \(what)") },
          steps: f["steps"].map { readSteps($0, what) } ?? [], location: reader.location(keyNode)))
    }
    return result
  }

  mutating func readSteps(_ node: Node, _ owner: String) -> [Step] {
    guard let sequence = node.sequence else {
      reader.bag.error(
        reader.location(node), "expected a list of steps for \(owner), found \(reader.describe(node))")
      return []
    }
    if sequence.isEmpty { reader.bag.error(reader.location(node), "\(owner) has no steps") }
    var result: [Step] = []
    var seen: [String: SourceLocation] = [:]
    for (index, stepNode) in sequence.enumerated() {
      guard let step = readStep(stepNode, index: index + 1, owner: owner) else { continue }
      if let first = seen[step.id] {
        reader.bag.error(
          step.location,
          "duplicate step id '\(step.id)' in \(owner) (first at line \(first.line)); ids must be unique")
      } else {
        seen[step.id] = step.location
      }
      result.append(step)
    }
    return result
  }

  mutating func readStep(_ node: Node, index: Int, owner: String) -> Step? {
    var what = "step \(index) of \(owner)"
    // The id names the step in messages; found by text (a Yams subscript builds and compares nodes).
    if let mapping = node.mapping,
      let idText = mapping.first(where: { $0.key.scalar?.string == "id" })?.value.scalar?.string,
      !idText.isEmpty
    {
      what = "step '\(idText)' of \(owner)"
    }
    guard let f = reader.fields(node, what, allowed: RunbookLoader.stepKeys) else { return nil }
    guard let kindName = readStepKindName(node, fields: f, what: what) else { return nil }
    let id = readStepID(f, default: "\(kindName)-\(index)", what: what)
    guard let kindNode = f[kindName], let kind = readKind(kindName, kindNode, fields: f, what: what) else {
      return nil
    }
    var step = Step(
      id: id, name: reader.optionalString(f["name"], "name of \(what)"),
      note: reader.optionalString(f["note"], "note of \(what)"), kind: kind,
      timeout: f["timeout"].flatMap { reader.duration($0, "timeout of \(what)") },
      retries: readRetries(f, what: what),
      retryDelay: f["retry_delay"].flatMap { reader.duration($0, "retry_delay of \(what)") } ?? 1,
      when: f["when"].flatMap { reader.condition($0, "when of \(what)") },
      onFailure: readFailurePolicy(f, what: what), skipInDrill: readSkipInDrill(f, what: what),
      location: reader.location(node))
    if let onNode = f["on"] { step.on = readStepHosts(onNode, fields: f, kindName: kindName, what: what) }
    if let onceNode = f["once"] { step.once = reader.bool(onceNode, "once of \(what)") ?? false }
    return step
  }

  /// The step's one kind (the first written), reporting a step with none, with two, or with a
  /// key that belongs to another kind.
  mutating func readStepKindName(_ node: Node, fields f: YAMLReader.Fields, what: String) -> String? {
    let kinds = RunbookLoader.stepKinds.filter { f.has($0) }
    let ordered = kinds.sorted {
      (f.keyNode($0)?.mark?.line ?? 0, f.keyNode($0)?.mark?.column ?? 0)
        < (f.keyNode($1)?.mark?.line ?? 0, f.keyNode($1)?.mark?.column ?? 0)
    }
    guard let kindName = ordered.first else {
      reader.bag.error(
        reader.location(node),
        "\(what) has no kind; give exactly one of \(RunbookLoader.stepKinds.joined(separator: ", "))")
      return nil
    }
    if ordered.count > 1 {
      let second = ordered[1]
      reader.bag.error(
        reader.location(f.keyNode(second) ?? node),
        "\(what) has two kinds, '\(kindName)' and '\(second)'; a step has exactly one kind — split it into two steps"
      )
    }
    for (kind, keys) in RunbookLoader.kindExtras where kind != kindName {
      for key in keys where f.has(key) {
        reader.bag.error(
          reader.location(f.keyNode(key) ?? node),
          "'\(key)' belongs to a \(kind) step, not a \(kindName) step")
      }
    }
    return kindName
  }

  /// The step's `id`, or `fallback` when it has none.
  mutating func readStepID(_ f: YAMLReader.Fields, default fallback: String, what: String) -> String {
    guard let idNode = f["id"], let text = reader.string(idNode, "id of \(what)") else { return fallback }
    let valid =
      !text.isEmpty
      && text.unicodeScalars.allSatisfy {
        $0.isASCII
          && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0))
      }
    if !valid {
      reader.bag.error(
        reader.location(idNode), "step id '\(text)' may use only letters, digits, '-', '_' and '.'")
    }
    return text
  }

  /// `on_failure: abort|continue` (abort when not given).
  mutating func readFailurePolicy(_ f: YAMLReader.Fields, what: String) -> FailurePolicy {
    guard let policyNode = f["on_failure"], let text = reader.string(policyNode, "on_failure of \(what)")
    else {
      return .abort
    }
    if let policy = FailurePolicy(rawValue: text) { return policy }
    reader.bag.error(
      reader.location(policyNode),
      "on_failure must be abort or continue, found '\(text)'\(Suggest.hint(for: text, in: ["abort", "continue"]))"
    )
    return .abort
  }

  /// `drill: skip|run`: whether a drill skips the step (run when not given).
  mutating func readSkipInDrill(_ f: YAMLReader.Fields, what: String) -> Bool {
    guard let drillNode = f["drill"], let text = reader.string(drillNode, "drill of \(what)") else {
      return false
    }
    switch text {
    case "skip": return true
    case "run": return false
    default:
      reader.bag.error(
        reader.location(drillNode),
        "drill must be skip or run, found '\(text)'\(Suggest.hint(for: text, in: ["skip", "run"]))")
      return false
    }
  }

  /// `retries: N`, from 0 to 100 (0 when not given).
  mutating func readRetries(_ f: YAMLReader.Fields, what: String) -> Int {
    guard let node = f["retries"], let value = reader.int(node, "retries of \(what)") else { return 0 }
    if value < 0 || value > 100 {
      reader.bag.error(reader.location(node), "retries of \(what) must be between 0 and 100")
      return 0
    }
    return value
  }

  /// `on:` of a run, http or sql step; on any other kind, an error saying where it runs.
  mutating func readStepHosts(
    _ onNode: Node, fields f: YAMLReader.Fields, kindName: String, what: String
  ) -> [Located<String>] {
    if ["run", "http", "sql"].contains(kindName) { return hostNames(onNode, "on of \(what)") }
    reader.bag.error(
      reader.location(f.keyNode("on") ?? onNode),
      "'on' belongs to a run, http or sql step, not a \(kindName) step"
        + (kindName == "flag" || kindName == "restart"
          ? " (it runs on the hosts of its \(kindName == "flag" ? "flag" : "service"))" : ""))
    return []
  }

  // MARK: Notify and contacts

  mutating func readNotify(_ node: Node) -> NotifySettings {
    var settings = NotifySettings()
    guard let f = reader.fields(node, "notify", allowed: RunbookLoader.notifyKeys["notify"] ?? [])
    else { return settings }
    if let slackNode = f["slack"],
      let s = reader.fields(
        slackNode, "slack of notify", allowed: RunbookLoader.notifyKeys["slack"] ?? [],
        required: ["webhook_env"])
    {
      settings.slackWebhookEnv = reader.optionalString(s["webhook_env"], "webhook_env")
      settings.slackChannel = reader.optionalString(s["channel"], "channel")
    }
    if let stdoutNode = f["stdout"] { settings.stdout = reader.bool(stdoutNode, "stdout of notify") ?? true }
    if let pdNode = f["pagerduty"],
      let p = reader.fields(
        pdNode, "pagerduty of notify", allowed: RunbookLoader.notifyKeys["pagerduty"] ?? [],
        required: ["routing_key_env"]),
      let keyEnv = envName(p["routing_key_env"], "routing_key_env of pagerduty")
    {
      let url = p["url"].map { httpURL($0, "url of pagerduty") } ?? PagerDutySettings.defaultURL
      settings.pagerDuty = PagerDutySettings(
        routingKeyEnv: keyEnv, url: url ?? PagerDutySettings.defaultURL,
        component: reader.optionalString(p["component"], "component of pagerduty"))
    }
    if let amNode = f["alertmanager"],
      let a = reader.fields(
        amNode, "alertmanager of notify", allowed: RunbookLoader.notifyKeys["alertmanager"] ?? [],
        required: ["url"]),
      let url = a["url"].flatMap({ httpURL($0, "url of alertmanager") })
    {
      settings.alertmanager = AlertmanagerSettings(
        url: url, tokenEnv: envName(a["token_env"], "token_env of alertmanager"))
    }
    if let gNode = f["grafana"],
      let g = reader.fields(
        gNode, "grafana of notify", allowed: RunbookLoader.notifyKeys["grafana"] ?? [],
        required: ["url", "token_env"]),
      let url = g["url"].flatMap({ httpURL($0, "url of grafana") }),
      let tokenEnv = envName(g["token_env"], "token_env of grafana")
    {
      settings.grafana = GrafanaSettings(
        url: url, tokenEnv: tokenEnv,
        dashboardUID: reader.optionalString(g["dashboard_uid"], "dashboard_uid of grafana"))
    }
    return settings
  }

  /// An environment variable's name (letters, digits, `_`; not starting with a digit).
  mutating func envName(_ node: Node?, _ what: String) -> String? {
    guard let node, let name = reader.string(node, what) else { return nil }
    let valid =
      name.first.map { $0 == "_" || ($0.isASCII && $0.isLetter) } == true
      && name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    guard valid else {
      reader.bag.error(
        reader.location(node),
        "\(what) must name an environment variable (letters, digits and _), found '\(name)'; "
          + "the secret itself never goes in the runbook")
      return nil
    }
    return name
  }

  /// An absolute http(s) URL with a host, without a trailing slash.
  mutating func httpURL(_ node: Node, _ what: String) -> String? {
    guard let text = reader.string(node, what) else { return nil }
    let lower = text.lowercased()
    let schemeOK = lower.hasPrefix("http://") || lower.hasPrefix("https://")
    let host = URLComponents(string: text)?.host ?? ""
    guard schemeOK, !host.isEmpty, !text.contains(where: \.isWhitespace) else {
      reader.bag.error(reader.location(node), "\(what) must be an http:// or https:// URL, found '\(text)'")
      return nil
    }
    var url = text
    while url.hasSuffix("/") { url.removeLast() }
    return url
  }

  mutating func readContacts(_ node: Node) -> [Contact] {
    guard let sequence = node.sequence else {
      reader.bag.error(reader.location(node), "expected a list of contacts, found \(reader.describe(node))")
      return []
    }
    return sequence.compactMap { item in
      guard
        let f = reader.fields(
          item, "a contact", allowed: ["role", "name", "slack", "phone"], required: ["role"]),
        let role = f["role"].flatMap({ reader.string($0, "role of a contact") })
      else { return nil }
      return Contact(
        role: role, name: reader.optionalString(f["name"], "name of a contact"),
        slack: reader.optionalString(f["slack"], "slack of a contact"),
        phone: reader.optionalString(f["phone"], "phone of a contact"))
    }
  }
}
