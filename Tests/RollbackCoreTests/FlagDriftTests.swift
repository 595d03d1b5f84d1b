import RollbackCore
import Testing

@Suite("FlagDrift: which hosts hold another flag value than the majority")
struct FlagDriftTests {
  static let local = "/srv/app/.env.local"
  static let env = "/srv/app/.env"

  @Test("every host agrees: no drift, the shared value is the majority")
  func agreement() {
    let drift = FlagDrift(
      [
        "web-1": [Self.local: "true", Self.env: "true"],
        "web-2": [Self.local: "true", Self.env: "true"],
        "web-3": [Self.local: "true", Self.env: "true"],
      ], hostOrder: ["web-1", "web-2", "web-3"])
    #expect(!drift.hasDrift)
    #expect(drift.driftingHosts.isEmpty)
    #expect(drift.files.map(\.path) == [Self.env, Self.local])
    let local = drift.file(Self.local)
    #expect(local?.hasMajority == true)
    #expect(local?.majority == "true")
    #expect(local?.values.map(\.host) == ["web-1", "web-2", "web-3"])
  }

  @Test("one host differs in one file: only that host and file drift")
  func oneHostDiffers() {
    let drift = FlagDrift(
      [
        "web-1": [Self.local: "true", Self.env: "true"],
        "web-2": [Self.local: "false", Self.env: "true"],
        "web-3": [Self.local: "true", Self.env: "true"],
      ], hostOrder: ["web-1", "web-2", "web-3"])
    #expect(drift.hasDrift)
    #expect(drift.driftingHosts == ["web-2"])
    #expect(drift.isDrifting(host: "web-2", file: Self.local))
    #expect(!drift.isDrifting(host: "web-2", file: Self.env))
    #expect(!drift.isDrifting(host: "web-1", file: Self.local))
    #expect(drift.file(Self.local)?.majority == "true")
    #expect(drift.file(Self.env)?.hasDrift == false)
  }

  @Test("an unset key is a value of its own: a host where it is unset drifts from the set majority")
  func unsetIsAValue() {
    let drift = FlagDrift(
      ["a": [Self.env: "false"], "b": [Self.env: nil], "c": [Self.env: "false"], "d": [Self.env: "false"]],
      hostOrder: ["a", "b", "c", "d"])
    #expect(drift.driftingHosts == ["b"])
    #expect(drift.file(Self.env)?.values.map(\.value) == ["false", nil, "false", "false"])

    let mostlyUnset = FlagDrift(
      ["a": [Self.env: nil], "b": [Self.env: nil], "c": [Self.env: "true"]], hostOrder: ["a", "b", "c"])
    let file = mostlyUnset.file(Self.env)
    #expect(file?.hasMajority == true)
    #expect(file?.majority == nil)
    #expect(file?.drifting == ["c"])
  }

  @Test("a tie has no majority: every host of that file is reported")
  func tie() {
    let drift = FlagDrift(
      ["web-1": [Self.env: "true"], "web-2": [Self.env: "false"]], hostOrder: ["web-1", "web-2"])
    let file = drift.file(Self.env)
    #expect(file?.hasMajority == false)
    #expect(file?.majority == nil)
    #expect(drift.driftingHosts == ["web-1", "web-2"])

    let three = FlagDrift(
      ["a": [Self.env: "1"], "b": [Self.env: "2"], "c": [Self.env: "3"]], hostOrder: ["c", "b", "a"])
    #expect(three.driftingHosts == ["c", "b", "a"])
  }

  @Test("a host that could not be read is absent and counts for nothing; one host alone never drifts")
  func absentHosts() {
    // web-2 unreachable: left out by the caller. web-1 and web-3 agree.
    let drift = FlagDrift(
      ["web-1": [Self.env: "true"], "web-3": [Self.env: "true"]], hostOrder: ["web-1", "web-2", "web-3"])
    #expect(!drift.hasDrift)
    #expect(drift.hosts == ["web-1", "web-3"])
    // A file only one host could read compares with nothing.
    let partial = FlagDrift(
      ["web-1": [Self.env: "true", Self.local: "false"], "web-2": [Self.env: "true"]],
      hostOrder: ["web-1", "web-2"])
    #expect(!partial.hasDrift)
    #expect(partial.file(Self.local)?.values.map(\.host) == ["web-1"])
    #expect(FlagDrift([:]).files.isEmpty)
  }

  @Test("hosts not in the given order follow by name; the order never changes the verdict")
  func order() {
    let values: [String: [String: String?]] = [
      "host-10": [Self.env: "true"], "host-2": [Self.env: "false"], "host-1": [Self.env: "true"],
    ]
    let ordered = FlagDrift(values, hostOrder: ["host-1", "host-2", "host-10"])
    #expect(ordered.hosts == ["host-1", "host-2", "host-10"])
    let unordered = FlagDrift(values)
    #expect(unordered.hosts == ["host-1", "host-10", "host-2"])
    #expect(ordered.driftingHosts == ["host-2"])
    #expect(unordered.driftingHosts == ["host-2"])
  }
}

@Suite("Host needs of a fleet plan: the flag files and programs a preflight checks per host")
struct HostNeedsTests {
  func resolver(hosts selection: Set<String>? = nil) throws -> Resolver {
    let runbook = try #require(RunbookLoader.load(source: validFleetRunbook, file: "fleet.yaml").runbook)
    var resolver = try Resolver.resolving(
      runbook: runbook, environmentName: nil, processEnvironment: [:], overrides: [:], resolveSecrets: false
    )
    resolver.selectedHosts = selection
    return resolver
  }

  @Test("per host: the flag's files with the host's vars, the restart and run programs, each once")
  func planNeeds() throws {
    let resolver = try resolver()
    let needs = resolver.hostNeeds(of: try resolver.plan(of: .level(1)))
    #expect(needs.map(\.host.name) == ["web-1", "web-2", "web-3", "api-1"])
    let web2 = try #require(needs.first { $0.host.name == "web-2" })
    #expect(
      web2.flags == [
        FlagFilesOnHost(flag: "api", key: "USE_API", files: ["/srv/app-2/.env"], create: false, changes: true)
      ])
    #expect(web2.executables == ["pm2", "logger"])
    let web1 = try #require(needs.first { $0.host.name == "web-1" })
    #expect(web1.flags.map(\.files) == [["/srv/app/.env"]])
    // web-1 also runs the on: step's rm.
    #expect(web1.executables == ["pm2", "logger", "rm"])
    let api = try #require(needs.first { $0.host.name == "api-1" })
    #expect(api.flags.isEmpty)
    #expect(api.executables == ["rm"])
  }

  @Test("a restart whose health is asked from the host (via: host) needs curl there; from the control, not")
  func curlForHealthViaHost() throws {
    let source = validFleetRunbook.replacingOccurrences(
      of: #"health: {http: {url: "http://${host.address}:3000/health"}}"#,
      with: #"health: {http: {url: "http://${host.address}:3000/health"}, via: host}"#)
    #expect(source != validFleetRunbook)
    let runbook = try #require(RunbookLoader.load(source: source, file: "fleet.yaml").runbook)
    let resolver = try Resolver.resolving(
      runbook: runbook, environmentName: nil, processEnvironment: [:], overrides: [:], resolveSecrets: false
    )
    let needs = resolver.hostNeeds(of: try resolver.plan(of: .level(1)))
    let web2 = try #require(needs.first { $0.host.name == "web-2" })
    #expect(web2.executables == ["pm2", "curl", "logger"])
    let control = try self.resolver()
    #expect(
      !control.hostNeeds(of: try control.plan(of: .level(1))).contains { $0.executables.contains("curl") })
  }

  @Test("--hosts limits the hosts; reading flags lists the flag's hosts in inventory order, read-only")
  func selectionAndReading() throws {
    let limited = try resolver(hosts: ["web-3"])
    #expect(limited.hostNeeds(of: try limited.plan(of: .level(1))).map(\.host.name) == ["web-3"])
    let reading = try resolver().hostNeeds(readingFlags: ["api"])
    #expect(reading.map(\.host.name) == ["web-1", "web-2", "web-3"])
    #expect(reading.allSatisfy { $0.executables.isEmpty && $0.flags.allSatisfy { !$0.changes } })
    #expect(
      reading.map { $0.flags.first?.files ?? [] } == [
        ["/srv/app/.env"], ["/srv/app-2/.env"], ["/srv/app/.env"],
      ])
  }
}
