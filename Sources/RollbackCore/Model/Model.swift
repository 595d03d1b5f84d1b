/// A validated runbook: how to roll one system back.
public struct Runbook: Sendable {
  /// The file it was read from, as named by the user.
  public var file: String
  /// The runbook's name (`[a-z0-9-]+`).
  public var name: String
  /// What the runbook rolls back.
  public var description: String?
  /// The environment used when none is named.
  public var defaultEnvironment: String
  /// Environments in file order.
  public var environments: [Environment]
  /// Feature flags by name.
  public var flags: [String: FeatureFlag]
  /// Services by name.
  public var services: [String: Service]
  /// Signals in file order.
  public var signals: [Signal]
  /// The decision matrix, first match wins.
  public var decision: [Rule]
  /// What an undecidable matrix yields: nil for inconclusive, else a severity.
  public var decisionOnUnknown: Severity?
  /// Levels by number, ascending.
  public var levels: [Level]
  /// Scenarios in file order.
  public var scenarios: [Scenario]
  /// Notification settings.
  public var notify: NotifySettings
  /// Named message templates.
  public var templates: [String: Template]
  /// People to call.
  public var contacts: [Contact]

  /// The environment with this name.
  public func environment(named name: String) -> Environment? { environments.first { $0.name == name } }
  /// The level with this number.
  public func level(_ number: Int) -> Level? { levels.first { $0.number == number } }
  /// The scenario with this name.
  public func scenario(named name: String) -> Scenario? { scenarios.first { $0.name == name } }
  /// The signal with this name.
  public func signal(named name: String) -> Signal? { signals.first { $0.name == name } }
}

/// Where a runbook's system lives: variables, Prometheus, Postgres, service overrides.
public struct Environment: Sendable {
  /// The environment's name.
  public var name: String
  /// Variables for `${name}`, in file order.
  public var vars: [(name: String, value: Template)]
  /// The Prometheus server, if any.
  public var prometheus: PrometheusSettings?
  /// The Postgres database, if any.
  public var postgres: PostgresSettings?
  /// Service fields that differ in this environment.
  public var serviceOverrides: [String: ServiceOverride]
  /// Hosts, groups and ssh settings; empty when everything runs locally.
  public var inventory = Inventory()
  /// Where the environment is declared.
  public var location: SourceLocation
}

/// How to reach Prometheus.
public struct PrometheusSettings: Sendable {
  /// Base URL, e.g. `http://localhost:9090`.
  public var url: Template
  /// The environment variable holding a bearer token.
  public var tokenEnv: String?
  /// Per-query timeout in seconds.
  public var timeout: Double
}

/// How to reach Postgres.
public struct PostgresSettings: Sendable {
  /// The environment variable holding the connection string.
  public var dsnEnv: String
  /// Connect and statement timeout in seconds.
  public var timeout: Double
}

/// A feature flag kept in dotenv files.
public struct FeatureFlag: Sendable {
  /// The flag's name in the runbook.
  public var name: String
  /// The dotenv key.
  public var key: String
  /// Files holding the key.
  public var files: [Template]
  /// The value that turns the feature on.
  public var enabled: String
  /// The value that turns the feature off.
  public var disabled: String
  /// The key holding the rollout percentage, if partial rollout is used.
  public var percentKey: String?
  /// The rollout ladder, ascending.
  public var stages: [Int]
  /// The service that reads the flag.
  public var service: Located<String>?
  /// Whether the value is inlined at build time (a rebuild is needed).
  public var buildTime: Bool
  /// Whether a listed file that does not exist may be created.
  public var create: Bool
  /// The hosts and groups holding the files, when the flag has no service (`hosts:`).
  public var hosts: [Located<String>] = []
  /// Where the flag is declared.
  public var location: SourceLocation
}

/// A command to run: an argv (no shell) or an explicit shell line.
public struct CommandSpec: Sendable {
  /// How the command is written.
  public enum Program: Sendable {
    /// Program and arguments, run without a shell.
    case argv([Template])
    /// A line for `/bin/sh -c`.
    case shell(Template)
  }

  /// What to run: an argument vector or a shell line.
  public var program: Program
  /// The working directory.
  public var cwd: Template?
  /// Extra environment variables.
  public var env: [(name: String, value: Template)]
  /// Where the command is written.
  public var location: SourceLocation
}

/// An HTTP health check.
public struct HealthCheck: Sendable {
  /// The URL polled.
  public var url: Template
  /// The status that means healthy.
  public var expectStatus: [Int]
  /// A substring the body must contain.
  public var expectBody: Template?
  /// How long to keep polling, seconds.
  public var within: Double
  /// Seconds between polls.
  public var interval: Double
  /// `via: host`: requested from the host itself (over ssh) rather than from the control machine.
  public var viaHost = false
  /// Where it is declared.
  public var location: SourceLocation
}

/// A service the runbook restarts.
public struct Service: Sendable {
  /// The service's name.
  public var name: String
  /// The restart command.
  public var restart: CommandSpec?
  /// The rebuild command, run first by `restart: {service: X, rebuild: true}`.
  public var rebuild: CommandSpec?
  /// Timeout of restart and rebuild commands, seconds.
  public var timeout: Double
  /// Polled after a restart.
  public var health: HealthCheck?
  /// The hosts and groups it runs on (`hosts:`); empty when it runs locally.
  public var hosts: [Located<String>] = []
  /// Where the service is declared.
  public var location: SourceLocation
  /// How to prove a restart's process took the flag change (extension "oncall").
  public var pickup: PickupSpec? = nil
}

/// How to find the process serving a service after a restart, and optionally what it reports.
public struct PickupSpec: Sendable {
  /// Where the process id comes from.
  public enum PIDSource: Sendable {
    /// A command printing the pid (`supervisorctl pid NAME`).
    case command(CommandSpec)
    /// A file holding the pid.
    case pidfile(Template)
    /// A systemd unit's `MainPID`.
    case systemd(Template)
  }

  /// What the application reports over HTTP: a JSON document and the dotted path of the value.
  public struct HTTPValue: Sendable {
    /// The URL answering JSON.
    public var url: Template
    /// The value's path, dot-separated keys (`flags.NEXT_PUBLIC_USE_BACKEND_API`).
    public var jsonPath: [String]
  }

  /// Where the pid comes from.
  public var pid: PIDSource
  /// The app-reported value, if configured.
  public var http: HTTPValue?
  /// Where `pickup` is written.
  public var location: SourceLocation
}

/// Service fields that an environment replaces.
public struct ServiceOverride: Sendable {
  /// Replacement restart command.
  public var restart: CommandSpec?
  /// Replacement rebuild command.
  public var rebuild: CommandSpec?
  /// Replacement timeout.
  public var timeout: Double?
  /// Replacement health check.
  public var health: HealthCheck?
  /// Replacement proof of pickup.
  public var pickup: PickupSpec? = nil
  /// Where the override is written.
  public var location: SourceLocation
}

/// The unit of a signal's value.
public enum SignalUnit: String, Sendable, CaseIterable {
  /// A fraction, 0.05 is 5 %.
  case ratio
  /// Seconds.
  case seconds
  /// A count.
  case count
  /// Bytes.
  case bytes
  /// Percent points, 5 is 5 %.
  case percent
}

/// How several series are reduced to one number.
public enum Reduction: String, Sendable, CaseIterable {
  /// The largest of the series' values.
  case max
  /// The smallest of the series' values.
  case min
  /// The sum of the series' values.
  case sum
  /// The mean of the series' values.
  case avg
}

/// A named number read at assessment time.
public struct Signal: Sendable {
  /// Where the number comes from.
  public enum Source: Sendable {
    /// A Prometheus instant query.
    case prometheus(Template)
    /// A Postgres query; first column of the first row.
    case postgres(Template)
    /// Set on the command line.
    case manual
  }

  /// The signal's name.
  public var name: String
  /// Its source.
  public var source: Source
  /// Its unit.
  public var unit: SignalUnit
  /// How several series are reduced.
  public var reduce: Reduction
  /// For a manual signal: the value assumed when none is given on the command line.
  public var manualDefault: Double?
  /// Where it is declared.
  public var location: SourceLocation

  /// `prometheus`, `postgres` or `manual`.
  public var sourceName: String {
    switch source {
    case .prometheus: return "prometheus"
    case .postgres: return "postgres"
    case .manual: return "manual"
    }
  }
}

/// Severity of a decision-matrix rule.
public enum Severity: String, Sendable, CaseIterable, Comparable {
  /// Monitor.
  case low
  /// Investigate.
  case medium
  /// Act soon.
  case high
  /// Act now.
  case critical

  /// Orders by seriousness.
  public static func < (lhs: Severity, rhs: Severity) -> Bool {
    Self.allCases.firstIndex(of: lhs) ?? 0 < Self.allCases.firstIndex(of: rhs) ?? 0
  }
}

/// What the decision matrix recommends.
public enum Action: Sendable, Equatable {
  /// Execute a level.
  case level(Int)
  /// Execute a scenario.
  case scenario(String)
  /// Move a flag one stage down its ladder.
  case stepDown(String)
  /// Pause the rollout and investigate.
  case pause
  /// Keep watching.
  case monitor
  /// Nothing to do.
  case none
}

/// One row of the decision matrix.
public struct Rule: Sendable {
  /// Its severity.
  public var severity: Severity
  /// A short label such as `P0`.
  public var label: String?
  /// Symptoms in words.
  public var symptoms: [String]
  /// Comparisons of which one must hold.
  public var any: [Comparison]
  /// Comparisons that must all hold.
  public var all: [Comparison]
  /// The recommended action.
  public var action: Action
  /// Where the action is written.
  public var actionLocation: SourceLocation
  /// How soon to act, seconds.
  public var respondWithin: Double?
  /// Where the rule is declared.
  public var location: SourceLocation

  /// The rule's condition: `any` and `all` together.
  public var condition: Condition {
    var parts: [Condition] = []
    if !any.isEmpty { parts.append(.any(any.map { .comparison($0) })) }
    if !all.isEmpty { parts.append(.all(all.map { .comparison($0) })) }
    return parts.count == 1 ? parts[0] : .all(parts)
  }
}

/// A rollback level.
public struct Level: Sendable {
  /// Its number.
  public var number: Int
  /// Its name.
  public var name: String
  /// Scope and when to use it.
  public var description: String?
  /// The rollback time target, seconds.
  public var target: Double?
  /// The level's steps, in the order they run.
  public var steps: [Step]
  /// Where it is declared.
  public var location: SourceLocation
  /// When to abandon it for a stronger level (extension "oncall").
  public var escalate: Escalation? = nil
}

/// `escalate: {after, to}` of a level: when the level has not finished after `after`, the run
/// offers to abandon it and run level `to`.
public struct Escalation: Sendable {
  /// Seconds after the run's start.
  public var after: Double
  /// The stronger level's number.
  public var to: Int
  /// Where `escalate` is written.
  public var location: SourceLocation

  /// Creates an escalation.
  public init(after: Double, to: Int, location: SourceLocation) {
    self.after = after
    self.to = to
    self.location = location
  }
}

/// A per-scenario procedure.
public struct Scenario: Sendable {
  /// Its key.
  public var name: String
  /// Its title.
  public var title: String?
  /// What the on-call sees.
  public var symptoms: [String]
  /// Likely root causes.
  public var causes: [String]
  /// The time target, seconds.
  public var target: Double?
  /// The scenario's steps, in the order they run.
  public var steps: [Step]
  /// Where it is declared.
  public var location: SourceLocation
}

/// What a failed step does to the run.
public enum FailurePolicy: String, Sendable {
  /// Stop the run.
  case abort
  /// Record and go on.
  case `continue`
}

/// How a flag step changes a flag.
public enum FlagChange: Sendable, Equatable {
  /// Set to the enabled value.
  case enable
  /// Set to the disabled value.
  case disable
  /// Set the rollout percentage.
  case percent(Int)
  /// Move one stage down the ladder.
  case stepDown
}

/// A reference from an `include` step.
public enum IncludeTarget: Sendable, Equatable, CustomStringConvertible {
  /// `include: level N`.
  case level(Int)
  /// `include: scenario NAME`.
  case scenario(String)

  /// `level 3` or `scenario backend-down`.
  public var description: String {
    switch self {
    case .level(let number): return "level \(number)"
    case .scenario(let name): return "scenario \(name)"
    }
  }

  /// The level's number; nil for a scenario.
  public var level: Int? {
    if case .level(let number) = self { return number }
    return nil
  }

  /// The scenario's name; nil for a level.
  public var scenario: String? {
    if case .scenario(let name) = self { return name }
    return nil
  }

  /// The target of a journal's or a document's separate `level` and `scenario` fields: the
  /// level when both are given, nil when neither is.
  public init?(level: Int?, scenario: String?) {
    if let level {
      self = .level(level)
    } else if let scenario {
      self = .scenario(scenario)
    } else {
      return nil
    }
  }
}

/// An HTTP request step.
public struct HTTPStepSpec: Sendable {
  /// Creates a request spec.
  public init(
    method: String, url: Template, headers: [(name: String, value: Template)] = [], body: HTTPBody? = nil,
    expectStatus: [Int] = [], expectBody: Template? = nil
  ) {
    self.method = method
    self.url = url
    self.headers = headers
    self.body = body
    self.expectStatus = expectStatus
    self.expectBody = expectBody
  }

  /// The method, upper case.
  public var method: String
  /// The request URL, with `${…}` placeholders resolved when it runs.
  public var url: Template
  /// Request headers in order.
  public var headers: [(name: String, value: Template)]
  /// The request body, if any.
  public var body: HTTPBody?
  /// Accepted statuses.
  public var expectStatus: [Int]
  /// A substring the response must contain.
  public var expectBody: Template?
  /// Asked from the host the step runs on (`curl` over its ssh master) rather than from the
  /// control machine: a drill's health check of a service whose health is `via: host`.
  public var fromHost = false
}

/// The body of an HTTP step.
public enum HTTPBody: Sendable {
  /// Raw text.
  case text(Template)
  /// JSON (sent with `Content-Type: application/json`).
  case json(JSONTemplate)
}

/// A message to send.
public struct NotifyStepSpec: Sendable {
  /// The message text (a template's text when `template:` is used; the summary of a PagerDuty alert).
  public var message: Template
  /// The template's name, if one is used.
  public var templateName: String?
  /// A channel overriding the default.
  public var channel: String?
  /// `pagerduty: trigger|resolve`: a PagerDuty alert event instead of a message (extension "oncall").
  public var pagerDuty: PagerDutyStepAlert? = nil
}

/// A `notify: {pagerduty: trigger, severity: critical, summary: "..."}` step's alert event.
public struct PagerDutyStepAlert: Sendable, Equatable {
  /// PagerDuty's event actions a step may send.
  public static let actions = ["trigger", "resolve"]
  /// PagerDuty's severities.
  public static let severities = ["critical", "error", "warning", "info"]
  /// `trigger` or `resolve`.
  public var action: String
  /// `critical`, `error`, `warning` or `info`.
  public var severity: String

  /// Creates an alert.
  public init(action: String, severity: String) {
    self.action = action
    self.severity = severity
  }
}

/// A `silence: {matchers: ["service=checkout"], for: 15m}` step (extension "oncall").
public struct SilenceStepSpec: Sendable {
  /// `name=value`, `name!=value`, `name=~regex` or `name!~regex`, as written.
  public var matchers: [Located<String>]
  /// How long the silence lasts at most, seconds; the run expires it earlier when it ends.
  public var duration: Double

  /// Creates a silence step.
  public init(matchers: [Located<String>], duration: Double) {
    self.matchers = matchers
    self.duration = duration
  }
}

/// What a step does.
public enum StepKind: Sendable {
  /// Read and record signals.
  case check([Located<String>])
  /// Fail unless the condition holds.
  case assert(Condition)
  /// Poll until the condition holds `consecutive` times in a row, within a deadline.
  case wait(Condition, within: Double, interval: Double, consecutive: Int)
  /// Change a flag.
  case flag(name: Located<String>, change: FlagChange)
  /// Restart a service (rebuilding first when asked), then poll its health.
  case restart(service: Located<String>, rebuild: Bool)
  /// Run a command.
  case run(CommandSpec)
  /// Send an HTTP request.
  case http(HTTPStepSpec)
  /// Run SQL.
  case sql(Template, mutates: Bool)
  /// Send a notification.
  case notify(NotifyStepSpec)
  /// Ask a person to go on.
  case confirm(Template)
  /// Silence alerts in Alertmanager for the run (at most `for`).
  case silence(SilenceStepSpec)
  /// Run another level's or scenario's steps.
  case include(Located<IncludeTarget>)
  /// Run host-scoped steps as one pipeline per host, batch by batch.
  case rolling(RollingSpec)

  /// The kind's key in the file.
  public var keyword: String {
    switch self {
    case .check: return "check"
    case .assert: return "assert"
    case .wait: return "wait"
    case .flag: return "flag"
    case .restart: return "restart"
    case .run: return "run"
    case .http: return "http"
    case .sql: return "sql"
    case .notify: return "notify"
    case .confirm: return "confirm"
    case .silence: return "silence"
    case .include: return "include"
    case .rolling: return "rolling"
    }
  }
}

/// One step of a level or scenario.
public struct Step: Sendable {
  /// Unique in its list; default `<kind>-<n>`.
  public var id: String
  /// A short name.
  public var name: String?
  /// Free text shown in plans.
  public var note: String?
  /// What it does.
  public var kind: StepKind
  /// Seconds before it is stopped.
  public var timeout: Double?
  /// Extra attempts after a failure.
  public var retries: Int
  /// Seconds between attempts.
  public var retryDelay: Double
  /// Skip the step unless this holds.
  public var when: Condition?
  /// What a failure does.
  public var onFailure: FailurePolicy
  /// `drill: skip`: a drill does not run the step (paging people, say); plans show it.
  public var skipInDrill: Bool
  /// `on:`: the hosts and groups a `run`, `http` or `sql` step runs on; empty for the control machine.
  public var on: [Located<String>] = []
  /// `once: true` inside a rolling step: run once per run, on the first host that reaches it.
  public var once = false
  /// Where the step is declared.
  public var location: SourceLocation

  /// Creates a step (the loader makes them from YAML; drills make some in code).
  public init(
    id: String, name: String?, note: String? = nil, kind: StepKind, timeout: Double? = nil, retries: Int = 0,
    retryDelay: Double = 1, when: Condition? = nil, onFailure: FailurePolicy = .abort,
    skipInDrill: Bool = false, location: SourceLocation
  ) {
    self.id = id
    self.name = name
    self.note = note
    self.kind = kind
    self.timeout = timeout
    self.retries = retries
    self.retryDelay = retryDelay
    self.when = when
    self.onFailure = onFailure
    self.skipInDrill = skipInDrill
    self.location = location
  }

  /// Whether the step changes the world (includes are decided by their steps).
  public var mutates: Bool {
    switch kind {
    case .check, .assert, .wait, .confirm, .include: return false
    case .flag, .restart, .run, .notify, .silence: return true
    case .sql(_, let mutates): return mutates
    case .http(let spec): return !["GET", "HEAD"].contains(spec.method)
    case .rolling(let spec): return spec.steps.contains(where: \.mutates)
    }
  }

  /// Whether running the step twice has the same effect as once (resume may re-run it).
  public var isIdempotent: Bool {
    switch kind {
    case .check, .assert, .wait, .confirm, .include: return true
    case .flag(_, let change): return change != .stepDown
    case .http(let spec): return ["GET", "HEAD"].contains(spec.method)
    case .sql(_, let mutates): return !mutates
    case .restart, .run, .notify, .silence: return false
    case .rolling(let spec): return spec.steps.allSatisfy(\.isIdempotent)
    }
  }
}

/// Where notifications go.
public struct NotifySettings: Sendable {
  /// The environment variable holding a Slack incoming-webhook URL.
  public var slackWebhookEnv: String?
  /// The default Slack channel.
  public var slackChannel: String?
  /// Whether notifications are printed.
  public var stdout: Bool

  /// PagerDuty Events API v2 (extension "oncall").
  public var pagerDuty: PagerDutySettings?
  /// Alertmanager silences (extension "oncall").
  public var alertmanager: AlertmanagerSettings?
  /// Grafana annotations (extension "oncall").
  public var grafana: GrafanaSettings?

  /// Creates settings.
  public init(
    slackWebhookEnv: String? = nil, slackChannel: String? = nil, stdout: Bool = true,
    pagerDuty: PagerDutySettings? = nil, alertmanager: AlertmanagerSettings? = nil,
    grafana: GrafanaSettings? = nil
  ) {
    self.slackWebhookEnv = slackWebhookEnv
    self.slackChannel = slackChannel
    self.stdout = stdout
    self.pagerDuty = pagerDuty
    self.alertmanager = alertmanager
    self.grafana = grafana
  }

  /// Every environment variable these settings name as holding a secret (`webhook_env`,
  /// `routing_key_env`, `token_env`): secret whatever their names say.
  public var secretEnvironmentNames: Set<String> {
    Set(
      [slackWebhookEnv, pagerDuty?.routingKeyEnv, alertmanager?.tokenEnv, grafana?.tokenEnv].compactMap { $0 }
    )
  }
}

/// Where PagerDuty events go: `notify: {pagerduty: {routing_key_env, url, component}}`.
public struct PagerDutySettings: Sendable, Equatable {
  /// The default Events API base URL.
  public static let defaultURL = "https://events.pagerduty.com"
  /// The environment variable holding the integration's routing key.
  public var routingKeyEnv: String
  /// The Events API base URL (regional endpoints, tests).
  public var url: String
  /// The component named in alert events, if any.
  public var component: String?

  /// Creates settings.
  public init(routingKeyEnv: String, url: String = PagerDutySettings.defaultURL, component: String? = nil) {
    self.routingKeyEnv = routingKeyEnv
    self.url = url
    self.component = component
  }
}

/// Where silences go: `notify: {alertmanager: {url, token_env}}`.
public struct AlertmanagerSettings: Sendable, Equatable {
  /// The Alertmanager base URL.
  public var url: String
  /// The environment variable holding an optional bearer token.
  public var tokenEnv: String?

  /// Creates settings.
  public init(url: String, tokenEnv: String? = nil) {
    self.url = url
    self.tokenEnv = tokenEnv
  }
}

/// Where annotations go: `notify: {grafana: {url, token_env, dashboard_uid}}`.
public struct GrafanaSettings: Sendable, Equatable {
  /// The Grafana base URL.
  public var url: String
  /// The environment variable holding the API token.
  public var tokenEnv: String
  /// The dashboard annotated; nil for an organisation-wide annotation.
  public var dashboardUID: String?

  /// Creates settings.
  public init(url: String, tokenEnv: String, dashboardUID: String? = nil) {
    self.url = url
    self.tokenEnv = tokenEnv
    self.dashboardUID = dashboardUID
  }
}

/// Someone to call during an incident.
public struct Contact: Sendable {
  /// Their role.
  public var role: String
  /// Their name.
  public var name: String?
  /// Their Slack handle.
  public var slack: String?
  /// Their phone.
  public var phone: String?
}
