import Foundation
import Yams

/// Turns the composed YAML tree into the runbook model, reporting every structural problem.
struct RunbookBuilder {
  var reader: YAMLReader
  let options: LoadOptions

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
    if let node = top["version"] {
      if node.scalar?.string != "1" {
        reader.bag.error(
          reader.location(node),
          "unsupported version \(reader.describe(node)); this tool reads runbook format version 1")
      }
    }
    var name = ""
    if let node = top["name"], let text = reader.string(node, "name") {
      name = text
      let valid =
        !text.isEmpty
        && text.unicodeScalars.allSatisfy {
          ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
        }
      if !valid {
        reader.bag.error(
          reader.location(node), "name '\(text)' must use only lowercase letters, digits and '-'")
      }
    }
    let description = reader.optionalString(top["description"], "description")
    let environments = top["environments"].map { readEnvironments($0) } ?? []
    var defaultEnvironment = environments.first?.name ?? ""
    if let node = top["default_environment"], let text = reader.string(node, "default_environment") {
      if environments.contains(where: { $0.name == text }) || environments.isEmpty {
        defaultEnvironment = text
      } else {
        reader.bag.error(
          reader.location(node),
          "default_environment '\(text)' is not an environment\(Suggest.hint(for: text, in: environments.map(\.name)))"
        )
      }
    }
    let flags = top["flags"].map { readFlags($0) } ?? [:]
    let services = top["services"].map { readServices($0) } ?? [:]
    let signals = top["signals"].map { readSignals($0) } ?? []
    let decision = top["decision"].map { readDecision($0) } ?? []
    var onUnknown: Severity?
    if let node = top["decision_on_unknown"], let text = reader.string(node, "decision_on_unknown") {
      if text != "inconclusive" {
        if let severity = Severity(rawValue: text) {
          onUnknown = severity
        } else {
          let choices = ["inconclusive"] + Severity.allCases.map(\.rawValue)
          reader.bag.error(
            reader.location(node),
            "decision_on_unknown must be inconclusive or a severity (low, medium, high, critical), found '\(text)'"
              + Suggest.hint(for: text, in: choices))
        }
      }
    }
    let levels = top["levels"].map { readLevels($0) } ?? []
    let scenarios = top["scenarios"].map { readScenarios($0) } ?? []
    let notify = top["notify"].map { readNotify($0) } ?? NotifySettings()
    var templates: [String: Template] = [:]
    if let node = top["templates"], let list = reader.pairs(node, "templates") {
      for (key, _, value) in list {
        if let template = reader.template(value, "template \(key)") { templates[key] = template }
      }
    }
    let contacts = top["contacts"].map { readContacts($0) } ?? []
    return Runbook(
      file: reader.file, name: name, description: description, defaultEnvironment: defaultEnvironment,
      environments: environments, flags: flags, services: services, signals: signals, decision: decision,
      decisionOnUnknown: onUnknown, levels: levels, scenarios: scenarios, notify: notify,
      templates: templates,
      contacts: contacts)
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
      var vars: [(name: String, value: Template)] = []
      if let varsNode = f["vars"], let pairs = reader.pairs(varsNode, "vars of \(what)") {
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
      }
      var prometheus: PrometheusSettings?
      if let promNode = f["prometheus"],
        let p = reader.fields(
          promNode, "prometheus of \(what)", allowed: ["url", "token_env", "timeout"], required: ["url"])
      {
        if let url = p["url"].flatMap({ reader.template($0, "prometheus url") }) {
          prometheus = PrometheusSettings(
            url: url, tokenEnv: reader.optionalString(p["token_env"], "token_env"),
            timeout: p["timeout"].flatMap { reader.duration($0, "prometheus timeout") } ?? 5)
        }
      }
      var postgres: PostgresSettings?
      if let pgNode = f["postgres"],
        let p = reader.fields(
          pgNode, "postgres of \(what)", allowed: ["dsn_env", "timeout"], required: ["dsn_env"])
      {
        if let dsnEnv = p["dsn_env"].flatMap({ reader.string($0, "dsn_env") }) {
          postgres = PostgresSettings(
            dsnEnv: dsnEnv, timeout: p["timeout"].flatMap { reader.duration($0, "postgres timeout") } ?? 5)
        }
      }
      var overrides: [String: ServiceOverride] = [:]
      if let servicesNode = f["services"], let pairs = reader.pairs(servicesNode, "services of \(what)") {
        for (serviceName, _, serviceNode) in pairs {
          let serviceWhat = "service '\(serviceName)' of \(what)"
          guard
            let s = reader.fields(
              serviceNode, serviceWhat, allowed: ["restart", "rebuild", "timeout", "health"])
          else { continue }
          overrides[serviceName] = ServiceOverride(
            restart: s["restart"].flatMap { reader.command($0, "restart of \(serviceWhat)") },
            rebuild: s["rebuild"].flatMap { reader.command($0, "rebuild of \(serviceWhat)") },
            timeout: s["timeout"].flatMap { reader.duration($0, "timeout of \(serviceWhat)") },
            health: s["health"].flatMap { readHealth($0, serviceWhat) },
            location: reader.location(serviceNode))
        }
      }
      result.append(
        Environment(
          name: name, vars: vars, prometheus: prometheus, postgres: postgres, serviceOverrides: overrides,
          inventory: readInventory(f, what), location: reader.location(keyNode)))
    }
    return result
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
      var files: [Template] = []
      if let filesNode = f["files"] {
        if let sequence = filesNode.sequence {
          if sequence.isEmpty {
            reader.bag.error(reader.location(filesNode), "files of \(what) is empty; list at least one file")
          }
          files = sequence.compactMap { reader.template($0, "a file of \(what)") }
        } else if let single = reader.template(filesNode, "files of \(what)") {
          files = [single]
        }
      }
      var stages: [Int] = []
      if let stagesNode = f["stages"] {
        if let sequence = stagesNode.sequence {
          stages = sequence.compactMap { reader.int($0, "a stage of \(what)") }
          if stages.contains(where: { $0 < 0 || $0 > 100 }) {
            reader.bag.error(
              reader.location(stagesNode), "stages of \(what) must be percentages from 0 to 100")
          }
          if stages != stages.sorted() || Set(stages).count != stages.count {
            reader.bag.error(
              reader.location(stagesNode), "stages of \(what) must be in ascending order without repeats")
          }
        } else {
          reader.bag.error(
            reader.location(stagesNode), "expected a list of percentages for stages of \(what)")
        }
      }
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
      let sources = ["prometheus", "postgres", "manual"].filter { f.has($0) }
      var source: Signal.Source?
      if sources.count != 1 {
        let found = sources.isEmpty ? "none" : sources.joined(separator: " and ")
        reader.bag.error(
          reader.location(sources.count > 1 ? (f.keyNode(sources[1]) ?? value) : value),
          "\(what) needs exactly one source (prometheus, postgres or manual), found \(found)")
      } else if let query = f["prometheus"] {
        source = reader.template(query, "prometheus query of \(what)").map { .prometheus($0) }
      } else if let query = f["postgres"] {
        source = reader.template(query, "postgres query of \(what)").map { .postgres($0) }
      } else if let manual = f["manual"] {
        if reader.bool(manual, "manual of \(what)") == true {
          source = .manual
        } else {
          reader.bag.error(
            reader.location(manual), "manual of \(what) must be true (or give a query instead)")
        }
      }
      var unit = SignalUnit.count
      if let unitNode = f["unit"], let text = reader.string(unitNode, "unit of \(what)") {
        if let parsed = SignalUnit(rawValue: text) {
          unit = parsed
        } else {
          let units = SignalUnit.allCases.map(\.rawValue)
          reader.bag.error(
            reader.location(unitNode),
            "unknown unit '\(text)' for \(what)\(Suggest.hint(for: text, in: units)) (units: \(units.joined(separator: ", ")))"
          )
        }
      }
      var reduce = Reduction.max
      if let reduceNode = f["reduce"], let text = reader.string(reduceNode, "reduce of \(what)") {
        if let parsed = Reduction(rawValue: text) {
          reduce = parsed
        } else {
          let choices = Reduction.allCases.map(\.rawValue)
          reader.bag.error(
            reader.location(reduceNode),
            "unknown reduce '\(text)' for \(what)\(Suggest.hint(for: text, in: choices)) (max, min, sum or avg)"
          )
        }
      }
      var manualDefault: Double?
      if let defaultNode = f["default"], let text = reader.string(defaultNode, "default of \(what)") {
        if case .manual = source {
          switch Quantity.threshold(text) {
          case .value(let value): manualDefault = value
          case .notANumber, .badUnit:
            reader.bag.error(
              reader.location(defaultNode),
              "default of \(what) must be a number (units allowed: 5%, 2s), found '\(text)'")
          }
        } else {
          reader.bag.error(
            reader.location(f.keyNode("default") ?? defaultNode),
            "only a manual signal takes a default; \(what) is read from its query")
        }
      }
      if let source {
        result.append(
          Signal(
            name: name, source: source, unit: unit, reduce: reduce, manualDefault: manualDefault,
            location: reader.location(keyNode)))
      }
    }
    return result
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
          value, what, allowed: ["name", "description", "target", "steps"], required: ["steps"])
      else { continue }
      result.append(
        Level(
          number: number, name: reader.optionalString(f["name"], "name of \(what)") ?? "Level \(number)",
          description: reader.optionalString(f["description"], "description of \(what)"),
          target: f["target"].flatMap { reader.duration($0, "target of \(what)") },
          steps: f["steps"].map { readSteps($0, what) } ?? [], location: reader.location(keyNode)))
    }
    return result.sorted { $0.number < $1.number }
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
    var id = "\(kindName)-\(index)"
    if let idNode = f["id"], let text = reader.string(idNode, "id of \(what)") {
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
      id = text
    }
    guard let kindNode = f[kindName], let kind = readKind(kindName, kindNode, fields: f, what: what) else {
      return nil
    }
    var onFailure = FailurePolicy.abort
    if let policyNode = f["on_failure"], let text = reader.string(policyNode, "on_failure of \(what)") {
      if let policy = FailurePolicy(rawValue: text) {
        onFailure = policy
      } else {
        reader.bag.error(
          reader.location(policyNode),
          "on_failure must be abort or continue, found '\(text)'\(Suggest.hint(for: text, in: ["abort", "continue"]))"
        )
      }
    }
    var skipInDrill = false
    if let drillNode = f["drill"], let text = reader.string(drillNode, "drill of \(what)") {
      switch text {
      case "skip": skipInDrill = true
      case "run": skipInDrill = false
      default:
        reader.bag.error(
          reader.location(drillNode),
          "drill must be skip or run, found '\(text)'\(Suggest.hint(for: text, in: ["skip", "run"]))")
      }
    }
    var retries = 0
    if let node = f["retries"], let value = reader.int(node, "retries of \(what)") {
      if value < 0 || value > 100 {
        reader.bag.error(reader.location(node), "retries of \(what) must be between 0 and 100")
      } else {
        retries = value
      }
    }
    var step = Step(
      id: id, name: reader.optionalString(f["name"], "name of \(what)"),
      note: reader.optionalString(f["note"], "note of \(what)"), kind: kind,
      timeout: f["timeout"].flatMap { reader.duration($0, "timeout of \(what)") }, retries: retries,
      retryDelay: f["retry_delay"].flatMap { reader.duration($0, "retry_delay of \(what)") } ?? 1,
      when: f["when"].flatMap { reader.condition($0, "when of \(what)") }, onFailure: onFailure,
      skipInDrill: skipInDrill, location: reader.location(node))
    if let onNode = f["on"] {
      if ["run", "http", "sql"].contains(kindName) {
        step.on = hostNames(onNode, "on of \(what)")
      } else {
        reader.bag.error(
          reader.location(f.keyNode("on") ?? onNode),
          "'on' belongs to a run, http or sql step, not a \(kindName) step"
            + (kindName == "flag" || kindName == "restart"
              ? " (it runs on the hosts of its \(kindName == "flag" ? "flag" : "service"))" : ""))
      }
    }
    if let onceNode = f["once"] { step.once = reader.bool(onceNode, "once of \(what)") ?? false }
    return step
  }

  mutating func readKind(_ kind: String, _ node: Node, fields f: YAMLReader.Fields, what: String) -> StepKind?
  {
    let here = reader.location(node)
    switch kind {
    case "check":
      if let single = node.scalar?.string, !YAMLReader.isNull(node) {
        return .check([Located(single, at: reader.location(node).advanced(by: reader.contentOffset(node)))])
      }
      guard let sequence = node.sequence, !sequence.isEmpty else {
        reader.bag.error(here, "check of \(what) needs a list of signal names")
        return nil
      }
      return .check(
        sequence.compactMap { item in
          reader.string(item, "a signal of \(what)").map {
            Located($0, at: reader.location(item).advanced(by: reader.contentOffset(item)))
          }
        })
    case "assert":
      return reader.condition(node, "assert of \(what)").map { .assert($0) }
    case "wait":
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
    case "flag":
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
          here, "flag of \(what) needs exactly one of set: enabled|disabled, percent: N or step_down: true")
        return nil
      }
      let change: FlagChange
      switch changeKey {
      case "set":
        guard let text = reader.string(changeNode, "set of \(what)") else { return nil }
        switch text {
        case "enabled": change = .enable
        case "disabled": change = .disable
        default:
          reader.bag.error(
            reader.location(changeNode),
            "set must be enabled or disabled, found '\(text)'\(Suggest.hint(for: text, in: ["enabled", "disabled"]))"
          )
          return nil
        }
      case "percent":
        guard let value = reader.int(changeNode, "percent of \(what)") else { return nil }
        guard (0...100).contains(value) else {
          reader.bag.error(reader.location(changeNode), "percent must be from 0 to 100, found \(value)")
          return nil
        }
        change = .percent(value)
      default:
        guard reader.bool(changeNode, "step_down of \(what)") == true else {
          if changeNode.scalar?.string == "false" {
            reader.bag.error(
              reader.location(changeNode), "step_down: false does nothing; remove the step or use true")
          }
          return nil
        }
        change = .stepDown
      }
      return .flag(name: Located(name, at: reader.location(nameNode)), change: change)
    case "restart":
      if let name = node.scalar?.string, !YAMLReader.isNull(node) {
        return .restart(service: Located(name, at: here), rebuild: false)
      }
      guard
        let g = reader.fields(
          node, "restart of \(what)", allowed: ["service", "rebuild"], required: ["service"]),
        let serviceNode = g["service"], let name = reader.string(serviceNode, "service of \(what)")
      else { return nil }
      let rebuild = g["rebuild"].flatMap { reader.bool($0, "rebuild of \(what)") } ?? false
      return .restart(service: Located(name, at: reader.location(serviceNode)), rebuild: rebuild)
    case "run":
      return reader.command(node, "run of \(what)").map { .run($0) }
    case "http":
      guard
        let g = reader.fields(
          node, "http of \(what)",
          allowed: ["method", "url", "headers", "json", "body", "expect_status", "expect_body"],
          required: ["url"]),
        let url = g["url"].flatMap({ reader.template($0, "url of \(what)") })
      else { return nil }
      var method = "GET"
      if let methodNode = g["method"], let text = reader.string(methodNode, "method of \(what)") {
        let known = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        if known.contains(text.uppercased()) {
          method = text.uppercased()
        } else {
          reader.bag.error(
            reader.location(methodNode),
            "unknown HTTP method '\(text)'\(Suggest.hint(for: text.uppercased(), in: known))")
        }
      }
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
          method: method, url: url, headers: headers, body: body,
          expectStatus: g["expect_status"].flatMap { reader.statuses($0, "expect_status of \(what)") } ?? [],
          expectBody: g["expect_body"].flatMap { reader.template($0, "expect_body of \(what)") }))
    case "sql":
      var mutates = f["mutates"].flatMap { reader.bool($0, "mutates of \(what)") }
      let query: Template?
      if node.mapping != nil {
        guard
          let g = reader.fields(node, "sql of \(what)", allowed: ["query", "mutates"], required: ["query"])
        else {
          return nil
        }
        query = g["query"].flatMap { reader.template($0, "query of \(what)") }
        if let inner = g["mutates"].flatMap({ reader.bool($0, "mutates of \(what)") }) { mutates = inner }
      } else {
        query = reader.template(node, "sql of \(what)")
      }
      return query.map { .sql($0, mutates: mutates ?? true) }
    case "notify":
      if node.scalar != nil {
        return reader.template(node, "notify of \(what)").map {
          .notify(NotifyStepSpec(message: $0, templateName: nil, channel: nil))
        }
      }
      guard let g = reader.fields(node, "notify of \(what)", allowed: ["message", "template", "channel"])
      else {
        return nil
      }
      let channel = reader.optionalString(g["channel"], "channel of \(what)")
      switch (g["message"], g["template"]) {
      case (let messageNode?, nil):
        return reader.template(messageNode, "message of \(what)").map {
          .notify(NotifyStepSpec(message: $0, templateName: nil, channel: channel))
        }
      case (nil, let templateNode?):
        guard let name = reader.string(templateNode, "template of \(what)") else { return nil }
        // The template's text is filled in by the validator, which knows the templates.
        return .notify(
          NotifyStepSpec(
            message: Template(literal: "", at: reader.location(templateNode)), templateName: name,
            channel: channel))
      default:
        reader.bag.error(here, "notify of \(what) needs exactly one of message or template")
        return nil
      }
    case "confirm":
      return reader.template(node, "confirm of \(what)").map { .confirm($0) }
    case "include":
      guard let text = reader.string(node, "include of \(what)") else { return nil }
      let words = text.split(separator: " ", omittingEmptySubsequences: true)
      let at = here.advanced(by: reader.contentOffset(node))
      if words.count == 2, words[0] == "level", let number = Int(words[1]) {
        return .include(Located(.level(number), at: at))
      }
      if words.count == 2, words[0] == "scenario" {
        return .include(Located(.scenario(String(words[1])), at: at))
      }
      reader.bag.error(at, "include of \(what) must be 'level N' or 'scenario NAME', found '\(text)'")
      return nil
    case "rolling":
      return readRolling(node, what: what).map { .rolling($0) }
    default:
      return nil
    }
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
