import RollbackCore
import Testing

@Suite("An environment without hosts beside a fleet: placed steps run on the control machine")
struct HostlessEnvironmentTests {
  /// The base fleet runbook with a `staging` environment that declares no hosts.
  static let withStaging = fleet(
    "\nflags:\n",
    """

      staging:
        vars: {app_dir: /srv/staging}
        prometheus: {url: "http://127.0.0.1:9090"}
        services:
          web: {health: {http: {url: "http://127.0.0.1:3000/health"}}}
    flags:

    """)

  @Test("validate accepts it; plans in it have no hosts, and a rolling step there is refused")
  func stagingRunsLocally() throws {
    let result = RunbookLoader.load(source: Self.withStaging, file: "fleet.yaml")
    #expect(result.errors.isEmpty, "\(result.errors.map(\.message))")
    let runbook = try #require(result.runbook)
    let staging = try Resolver.resolving(
      runbook: runbook, environmentName: "staging", processEnvironment: [:], overrides: [:],
      resolveSecrets: false
    )
    let plan = try staging.plan(of: .level(1))
    #expect(plan.steps.allSatisfy { !$0.hostScoped && $0.hosts.isEmpty })
    #expect(staging.placement(ofFlag: "api").isEmpty)
    #expect(
      plan.fleetRefusal?.message
        == "step 'roll' is a rolling step, and environment 'staging' declares no hosts to roll over; nothing was run "
        + "(run it with the environment that lists the hosts)")
    let production = try Resolver.resolving(
      runbook: runbook, environmentName: "production", processEnvironment: [:], overrides: [:],
      resolveSecrets: false
    )
    #expect(try production.plan(of: .level(1)).steps.first?.hosts == ["web-1", "web-2", "web-3"])
    #expect(production.placement(ofFlag: "api").map(\.value) == ["frontend"])
  }

  @Test("with no host in any environment, a placement is still an unknown name")
  func noHostsAnywhere() throws {
    let source = """
      version: 1
      name: nohosts
      environments:
        production: {vars: {dir: /srv}}
      flags:
        api: {key: USE_API, files: ["${dir}/.env"], hosts: web}
      levels:
        1:
          name: Off
          steps:
            - flag: {name: api, set: disabled}
      """
    let result = RunbookLoader.load(source: source, file: "nohosts.yaml")
    #expect(result.runbook == nil)
    let messages = result.errors.map(\.message)
    #expect(
      messages.contains("unknown host or group 'web' in environment 'production' (it declares no hosts)"),
      "\(messages)")
  }

  @Test("${host.…} in a placed template that an environment without hosts would run is an error there")
  func hostFieldWithoutHosts() throws {
    let source = Self.withStaging.replacingOccurrences(
      of: "    services:\n      web: {health: {http: {url: \"http://127.0.0.1:3000/health\"}}}\n", with: "")
    #expect(source != Self.withStaging)
    let result = RunbookLoader.load(source: source, file: "fleet.yaml")
    #expect(result.runbook == nil)
    #expect(
      result.errors.map(\.message) == [
        "${host.address} names no host in environment 'staging', which declares no hosts (its placed steps run "
          + "on the control machine); override it in that environment's services, or give the environment hosts"
      ])
  }
}
