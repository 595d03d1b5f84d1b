import Foundation
import RollbackCore
import Testing

/// A small valid fleet runbook; each broken case changes one piece of it.
let validFleetRunbook = """
  version: 1
  name: fleet
  environments:
    production:
      vars: {app_dir: /srv/app}
      prometheus: {url: "http://127.0.0.1:9090"}
      ssh: {options: ["-o", "ConnectTimeout=5"], forks: 4}
      hosts:
        web-1: {ssh: web-1}
        web-2: {ssh: deploy@web-2.internal, vars: {app_dir: /srv/app-2}}
        web-3: {ssh: web-3, address: 10.0.0.3}
        api-1: {ssh: api-1}
      groups:
        frontend: [web-1, web-2, web-3]
        backend: [api-1]
        everything: [frontend, backend]
  flags:
    api:
      key: USE_API
      files: ["${app_dir}/.env"]
      service: web
  services:
    web:
      hosts: frontend
      restart: [pm2, restart, web]
      health: {http: {url: "http://${host.address}:3000/health"}}
  signals:
    error_rate:
      prometheus: sum(rate(errors_total[5m])) / sum(rate(requests_total[5m]))
      unit: ratio
  levels:
    1:
      name: Off
      steps:
        - id: roll
          rolling:
            on: frontend
            batches: [1, "50%", "100%"]
            max_fail: 0
            gate: "error_rate < 1%"
            steps:
              - flag: {name: api, set: disabled}
              - restart: web
              - {id: mark, run: [logger, "off on ${host.name}"], once: true}
        - id: cache
          run: [rm, -rf, "${app_dir}/cache"]
          on: [web-1, backend]
        - check: [error_rate]
  """

/// The fleet runbook with `old` (which must occur once) replaced by `new`.
func fleet(_ old: String, _ new: String) -> String {
  precondition(validFleetRunbook.components(separatedBy: old).count == 2, "'\(old)' must occur once")
  return validFleetRunbook.replacingOccurrences(of: old, with: new)
}

let brokenFleetCases: [BrokenCase] = [
  BrokenCase(
    name: "unknown host in a group, with a hint",
    source: fleet("frontend: [web-1, web-2, web-3]", "frontend: [web-1, web-2, 1️⃣web-4]"),
    message:
      "error: unknown host or group 'web-4' in group 'frontend' of environment 'production'; did you mean 'web-1'?"
  ),
  BrokenCase(
    name: "a group naming itself",
    source: fleet("backend: [api-1]", "backend: [api-1, 1️⃣backend]"),
    message: "error: group 'backend' names itself; list its hosts"),
  BrokenCase(
    name: "a cycle of groups",
    source: fleet("backend: [api-1]", "backend: [api-1, everything]"),
    expected: "16:30: error: group cycle: backend -> everything -> backend"),
  BrokenCase(
    name: "a group with a host's name",
    source: fleet("backend: [api-1]", "backend: [api-1]\n      1️⃣web-1: [api-1]"),
    message:
      "error: group 'web-1' of environment 'production' has the name of a host; give it another name"),
  BrokenCase(
    name: "unknown group in a service's hosts, with a hint",
    source: fleet("hosts: frontend\n", "hosts: 1️⃣frontnd\n"),
    message:
      "error: unknown host or group 'frontnd' in environment 'production'; did you mean 'frontend'?"),
  BrokenCase(
    name: "unknown host in on:, with a hint",
    source: fleet("on: [web-1, backend]", "on: [web-1, 1️⃣bakend]"),
    message:
      "error: unknown host or group 'bakend' in environment 'production'; did you mean 'backend'?"),
  BrokenCase(
    name: "unknown group in a rolling step's on:",
    source: fleet("on: frontend\n", "on: 1️⃣frontends\n"),
    message:
      "error: unknown host or group 'frontends' in environment 'production'; did you mean 'frontend'?"),
  BrokenCase(
    name: "a check step inside rolling",
    source: fleet("- restart: web\n", "- restart: web\n            - 1️⃣check: [error_rate]\n"),
    message:
      "error: a check step cannot run on a host; inside rolling step 'roll' of level 1 use only flag, restart, run, http or sql steps (put it before or after the rolling step)"
  ),
  BrokenCase(
    name: "a notify step inside rolling",
    source: fleet("- restart: web\n", "- restart: web\n            - 1️⃣notify: done\n"),
    message:
      "error: a notify step cannot run on a host; inside rolling step 'roll' of level 1 use only flag, restart, run, http or sql steps (put it before or after the rolling step)"
  ),
  BrokenCase(
    name: "on: inside rolling",
    source: fleet(
      "run: [logger, \"off on ${host.name}\"],", "run: [logger, \"off on ${host.name}\"], on: 1️⃣backend,"),
    message:
      "error: 'on' inside rolling step 'roll' of level 1: the rolling step's on: chooses the hosts; remove it"
  ),
  BrokenCase(
    name: "on: on a flag step",
    source: fleet(
      "- check: [error_rate]", "- check: [error_rate]\n      - {flag: {name: api, set: enabled}, on: backend}"
    ),
    expected:
      "49:43: error: 'on' belongs to a run, http or sql step, not a flag step (it runs on the hosts of its flag)"
  ),
  BrokenCase(
    name: "max_fail that lets a whole batch fail",
    source: fleet("max_fail: 0", "max_fail: 1️⃣1"),
    message:
      "error: max_fail 1 of rolling step 'roll' of level 1 lets every host of batch 1 (web-1) fail without stopping in environment 'production'; it must be smaller than each batch"
  ),
  BrokenCase(
    name: "max_fail 100%",
    source: fleet("max_fail: 0", "max_fail: \"1️⃣100%\""),
    message:
      "error: max_fail 100% of rolling of step 'roll' of level 1 must be from 0% to 99%; failures must exceed it to stop a batch"
  ),
  BrokenCase(
    name: "a batch of zero hosts",
    source: fleet("batches: [1, \"50%\", \"100%\"]", "batches: [1️⃣0, \"100%\"]"),
    message: "error: batch size 0 takes no host; a batch is at least 1 host"),
  BrokenCase(
    name: "a batch over 100%",
    source: fleet("batches: [1, \"50%\", \"100%\"]", "batches: [1, \"1️⃣150%\"]"),
    message: "error: batch size 150% must be from 1% to 100%"),
  BrokenCase(
    name: "batches that do not increase",
    source: fleet("batches: [1, \"50%\", \"100%\"]", "batches: [2, \"50%\", 1️⃣1]"),
    message:
      "error: batch size 1 does not grow past 2; batches are cumulative targets and must increase"),
  BrokenCase(
    name: "empty batches",
    source: fleet("batches: [1, \"50%\", \"100%\"]", "batches: 1️⃣[]"),
    message:
      "error: batches of rolling of step 'roll' of level 1 is empty; e.g. [1, \"50%\", \"100%\"]"),
  BrokenCase(
    name: "a batch that is not a number",
    source: fleet("batches: [1, \"50%\", \"100%\"]", "batches: [1, 1️⃣half]"),
    message:
      "error: expected a number or a percentage like \"50%\" for a batch of rolling of step 'roll' of level 1, found 'half'"
  ),
  BrokenCase(
    name: "${host.name} outside a host-scoped step",
    source: fleet(
      "- check: [error_rate]", "- check: [error_rate]\n      - {id: log, run: [logger, 1️⃣\"${host.name}\"]}"),
    message:
      "error: ${host.name} is available only in steps that run on hosts (a service or flag with hosts:, a run/http/sql step with on:, or a step inside rolling)"
  ),
  BrokenCase(
    name: "an unknown host field, with a hint",
    source: fleet("\"off on ${host.name}\"", "\"off on 1️⃣${host.nam}\""),
    message: "error: unknown host field 'nam'; did you mean 'name'? (fields: name, ssh, address)"),
  BrokenCase(
    name: "once outside rolling",
    source: fleet("- check: [error_rate]", "- 1️⃣{check: [error_rate], once: true}"),
    message:
      "error: once: true belongs to a step inside a rolling step; step 'check-3' of level 1 is not"),
  BrokenCase(
    name: "a variable only some hosts of the step define",
    source: fleet("run: [rm, -rf, \"${app_dir}/cache\"]", "run: [rm, -rf, \"${app_dir}/${tier}\"]")
      .replacingOccurrences(of: "web-1: {ssh: web-1}", with: "web-1: {ssh: web-1, vars: {tier: a}}"),
    expected: "46:24: error: unknown variable 'tier' in environment 'production'"),
  BrokenCase(
    name: "a flag inside rolling that does not live on its hosts",
    source: fleet("on: frontend\n", "on: everything\n"),
    expected:
      "42:15: error: step 'flag-1' of rolling step 'roll' of level 1 acts on frontend, which does not include api-1 in environment 'production'"
  ),
  BrokenCase(
    name: "a rolling step inside rolling",
    source: fleet(
      "- restart: web\n",
      "- restart: web\n            - 1️⃣{rolling: {on: frontend, steps: [{restart: web}]}}\n"),
    message:
      "error: a rolling step cannot run on a host; inside rolling step 'roll' of level 1 use only flag, restart, run, http or sql steps (put it before or after the rolling step)"
  ),
  BrokenCase(
    name: "health via something other than control or host",
    source: fleet(
      "health: {http: {url: \"http://${host.address}:3000/health\"}}",
      "health: {http: {url: \"http://${host.address}:3000/health\"}, via: 1️⃣hots}"),
    message:
      "error: via of health of service 'web' must be control or host, found 'hots'; did you mean 'host'?"
  ),
  BrokenCase(
    name: "health via host on a service without hosts",
    source: fleet("    hosts: frontend\n", "")
      .replacingOccurrences(of: "restart: web\n", with: "run: [\"true\"]\n")
      .replacingOccurrences(
        of: "http://${host.address}:3000/health\"}}", with: "http://x/health\"}, via: host}"),
    expected:
      "25:13: error: health of service 'web' asks for via: host, but the service has no hosts; give it hosts:"
  ),
  BrokenCase(
    name: "a relative lock_dir",
    source: fleet("forks: 4}", "forks: 4, lock_dir: 1️⃣locks}"),
    message:
      "error: lock_dir of ssh of environment 'production' must be an absolute path on the hosts, found 'locks'"
  ),
  BrokenCase(
    name: "an ssh destination that ssh would read as an option",
    source: fleet("api-1: {ssh: api-1}", "api-1: {ssh: \"1️⃣-oProxyCommand=touch /tmp/x\"}"),
    message:
      "error: ssh of host 'api-1' of environment 'production' must be an ssh destination (alias, host or user@host), found '-oProxyCommand=touch /tmp/x'"
  ),
  BrokenCase(
    name: "a host name a --hosts pattern could not name",
    source: fleet("api-1: {ssh: api-1}", "api*1: {ssh: api-1}").replacingOccurrences(
      of: "[api-1]", with: "[web-1]"),
    expected: "12:7: error: host name 'api*1' may use only letters, digits, '-', '_' and '.'"),
  BrokenCase(
    name: "an unset environment variable in a host's vars",
    source: fleet("vars: {app_dir: /srv/app-2}", "vars: {app_dir: 1️⃣\"${env.FLEET_TEST_UNSET_DIR}\"}"),
    message:
      "error: environment variable FLEET_TEST_UNSET_DIR is not set; set it or write '${env.FLEET_TEST_UNSET_DIR:-default}'"
  ),
  BrokenCase(
    name: "a host without ssh",
    source: fleet("api-1: {ssh: api-1}", "api-1: 1️⃣{address: 10.0.0.9}"),
    message: "error: missing required key 'ssh' in host 'api-1' of environment 'production'"),
  BrokenCase(
    name: "a service and hosts on one flag",
    source: fleet("service: web\n", "service: web\n    1️⃣hosts: frontend\n"),
    message:
      "error: flag 'api' has both service and hosts; a flag lives on its service's hosts, so keep one"),
]

@Suite("The fleet runbook format: hosts, groups, placement, rolling steps")
struct FleetFormatTests {
  @Test("the base fleet runbook is valid, without warnings")
  func baseIsValid() {
    let result = RunbookLoader.load(source: validFleetRunbook, file: "fleet.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
    #expect(result.warnings.isEmpty, "\(result.warnings)")
    #expect(result.runbook != nil)
  }

  @Test("each broken fleet runbook gives its located error", arguments: brokenFleetCases)
  func brokenCase(_ item: BrokenCase) {
    let result = RunbookLoader.load(source: item.source, file: "fleet.yaml")
    let printed = result.errors.map(\.description)
    #expect(printed.contains("fleet.yaml:\(item.place): \(item.message)"), "got: \(printed)")
    #expect(result.runbook == nil)
  }

  @Test("the example fleet runbook validates")
  func exampleValidates() throws {
    let path = FormatDocTests.root.appendingPathComponent("runbooks/examples/fleet.yaml")
    let source = try String(contentsOf: path, encoding: .utf8)
    let result = RunbookLoader.load(source: source, file: "fleet.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
  }
}

/// The inventory of the base fleet runbook's production environment.
func fleetInventory() throws -> Inventory {
  let result = RunbookLoader.load(source: validFleetRunbook, file: "fleet.yaml")
  let runbook = try #require(result.runbook)
  return try #require(runbook.environment(named: "production")).inventory
}

@Suite("Batches of a rolling step: cumulative targets, canary first")
struct RollingBatchTests {
  static let hosts = (1...10).map { "h\($0)" }

  func sizes(_ hosts: Int, _ batches: [BatchSize]) -> [Int] {
    RollingSpec.batches(of: Array(Self.hosts.prefix(hosts)), sizes: batches).map(\.count)
  }

  @Test("[1, 50%, 100%] on 10 hosts is 1, then 4, then 5, in the listed order")
  func contractExample() {
    let batches = RollingSpec.batches(of: Self.hosts, sizes: [.count(1), .percent(50), .percent(100)])
    #expect(batches == [["h1"], ["h2", "h3", "h4", "h5"], ["h6", "h7", "h8", "h9", "h10"]])
  }

  @Test("a percentage rounds up and is never less than one host")
  func percentagesRoundUp() {
    #expect(sizes(10, [.percent(1), .percent(100)]) == [1, 9])
    #expect(sizes(3, [.percent(50), .percent(100)]) == [2, 1])
    #expect(sizes(7, [.percent(10), .percent(30), .percent(100)]) == [1, 2, 4])
    #expect(sizes(1, [.percent(1)]) == [1])
  }

  @Test("a target that adds no host makes no batch")
  func emptyBatchesDropped() {
    #expect(sizes(2, [.count(1), .percent(50), .percent(100)]) == [1, 1])
    #expect(sizes(1, [.count(1), .percent(50), .percent(100)]) == [1])
    #expect(sizes(3, [.percent(50), .count(2), .count(3)]) == [2, 1])
  }

  @Test("hosts after the last target make one last batch; a target past the end takes the rest")
  func restInOneBatch() {
    #expect(sizes(10, [.count(1), .count(3)]) == [1, 2, 7])
    #expect(sizes(3, [.count(5)]) == [3])
    #expect(sizes(10, [.percent(20)]) == [2, 8])
  }

  @Test("every host is in exactly one batch, in order, for every host count and ladder")
  func partition() {
    let ladders: [[BatchSize]] = [
      [.count(1), .percent(50), .percent(100)], [.percent(25)], [.count(2), .count(4)], [.percent(100)],
      [.count(1), .count(2), .count(3), .percent(100)],
    ]
    for count in 0...10 {
      for ladder in ladders {
        let hosts = Array(Self.hosts.prefix(count))
        let batches = RollingSpec.batches(of: hosts, sizes: ladder)
        #expect(batches.flatMap { $0 } == hosts, "\(count) hosts, \(ladder)")
        #expect(batches.allSatisfy { !$0.isEmpty }, "\(count) hosts, \(ladder)")
      }
    }
  }

  @Test("max_fail as a percentage of a batch")
  func failureAllowance() {
    #expect(FailureAllowance.percent(10).allowed(inBatchOf: 10) == 1)
    #expect(FailureAllowance.percent(10).allowed(inBatchOf: 9) == 0)
    #expect(FailureAllowance.count(2).allowed(inBatchOf: 1) == 2)
  }
}

@Suite("--hosts patterns: globs on host and group names")
struct HostSelectionTests {
  func names(_ pattern: String) throws -> [String] {
    try fleetInventory().select(pattern).get().map(\.name)
  }

  @Test("a host name, a group name and a glob select hosts, in inventory order")
  func globs() throws {
    #expect(try names("web-2") == ["web-2"])
    #expect(try names("backend") == ["api-1"])
    #expect(try names("web-*") == ["web-1", "web-2", "web-3"])
    #expect(try names("api-1,web-[13]") == ["web-1", "web-3", "api-1"])
    #expect(try names(" web-3 , web-1 ") == ["web-1", "web-3"])
    #expect(try names("web-?") == ["web-1", "web-2", "web-3"])
  }

  @Test("a group of groups brings all their hosts; ! excludes")
  func groupsAndExclusion() throws {
    #expect(try names("everything") == ["web-1", "web-2", "web-3", "api-1"])
    #expect(try names("everything,!web-2") == ["web-1", "web-3", "api-1"])
    #expect(try names("!frontend") == ["api-1"])
    #expect(try names("*end") == ["web-1", "web-2", "web-3", "api-1"])
  }

  @Test("a pattern that matches nothing is an error naming it, with a hint")
  func unknown() throws {
    let inventory = try fleetInventory()
    #expect(
      inventory.select("frontnd").failure?.description
        == "--hosts pattern 'frontnd' matches no host or group; did you mean 'frontend'?")
    #expect(
      inventory.select("web-1,db-*").failure?.description == "--hosts pattern 'db-*' matches no host or group"
    )
    #expect(inventory.select("").failure != nil)
    #expect(inventory.select("web-1,,web-2").failure != nil)
    #expect(
      Inventory().select("web-1").failure?.description
        == "--hosts pattern 'web-1' matches no host or group (this environment declares no hosts)")
  }

  @Test("selection keeps the order of the hosts it filters")
  func candidatesOrder() throws {
    let inventory = try fleetInventory()
    let reversed = Array(inventory.hosts.reversed())
    let picked = try inventory.select("web-*", from: reversed).get().map(\.name)
    #expect(picked == ["web-3", "web-2", "web-1"])
  }
}

@Suite("Plans of fleet runbooks: hosts and batches")
struct FleetPlanTests {
  func plan(hosts selection: Set<String>? = nil) throws -> Plan {
    let result = RunbookLoader.load(source: validFleetRunbook, file: "fleet.yaml")
    let runbook = try #require(result.runbook)
    var resolver = try Resolver.resolving(
      runbook: runbook, environmentName: nil, processEnvironment: [:], overrides: [:], resolveSecrets: false
    )
    resolver.selectedHosts = selection
    return try resolver.plan(of: .level(1))
  }

  @Test("a rolling step plans its batches and per-host steps; an on: step its hosts")
  func batchesAndHosts() throws {
    let plan = try plan()
    let roll = try #require(plan.steps.first { $0.id == "roll" })
    #expect(roll.hostScoped)
    #expect(roll.batches == [["web-1"], ["web-2"], ["web-3"]])
    #expect(roll.pipeline.map(\.id) == ["roll.flag-1", "roll.restart-2", "roll.mark"])
    #expect(roll.pipeline.last?.detail == "logger 'off on ${host.name}'")
    let cache = try #require(plan.steps.first { $0.id == "cache" })
    #expect(cache.hosts == ["web-1", "api-1"])
    let check = try #require(plan.steps.first { $0.id == "check-3" })
    #expect(!check.hostScoped && check.hosts.isEmpty)
    #expect(plan.fleetRefusal == nil, "the fleet runs its host-scoped steps")
  }

  @Test("a host's vars and ${host.…} give per-host details; --var wins over host vars")
  func perHostDetails() throws {
    let roll = try #require(try plan().steps.first { $0.id == "roll" })
    let flag = try #require(roll.pipeline.first)
    #expect(flag.hostDetails.map(\.hosts) == [["web-1", "web-3"], ["web-2"]])
    #expect(
      flag.hostDetails.map(\.detail) == [
        "USE_API -> false in /srv/app/.env", "USE_API -> false in /srv/app-2/.env",
      ])
    let mark = try #require(roll.pipeline.last)
    #expect(
      mark.hostDetails.map(\.detail) == [
        "logger 'off on web-1'", "logger 'off on web-2'", "logger 'off on web-3'",
      ])
    let restart = try #require(roll.pipeline.dropFirst().first)
    #expect(restart.hostDetails.last?.detail.contains("http://10.0.0.3:3000/health") == true)
    #expect(restart.hostDetails.dropLast().last?.detail.contains("http://web-2.internal:3000/health") == true)

    let runbook = try #require(RunbookLoader.load(source: validFleetRunbook, file: "fleet.yaml").runbook)
    let resolver = try Resolver.resolving(
      runbook: runbook, environmentName: nil, processEnvironment: [:], overrides: ["app_dir": "/o"],
      resolveSecrets: false
    )
    let overridden = try #require(try resolver.plan(of: .level(1)).steps.first { $0.id == "roll" })
    #expect(overridden.pipeline.first?.hostDetails.isEmpty == true)
    #expect(overridden.pipeline.first?.detail == "USE_API -> false in /o/.env")
  }

  @Test("a variable that every host of a step defines needs no environment value")
  func hostOnlyVariable() {
    var source = fleet("run: [rm, -rf, \"${app_dir}/cache\"]", "run: [rm, -rf, \"${app_dir}/${tier}\"]")
    source = source.replacingOccurrences(
      of: "web-1: {ssh: web-1}", with: "web-1: {ssh: web-1, vars: {tier: a}}")
    source = source.replacingOccurrences(
      of: "api-1: {ssh: api-1}", with: "api-1: {ssh: api-1, vars: {tier: b}}")
    let result = RunbookLoader.load(source: source, file: "fleet.yaml")
    #expect(result.errors.isEmpty, "\(result.errors)")
  }

  @Test("a host selection limits hosts and batches")
  func selection() throws {
    let plan = try plan(hosts: ["web-2", "web-3", "api-1"])
    let roll = try #require(plan.steps.first { $0.id == "roll" })
    #expect(roll.batches == [["web-2"], ["web-3"]])
    #expect(plan.steps.first { $0.id == "cache" }?.hosts == ["api-1"])
  }

  @Test("a runbook without hosts plans nothing on hosts and is not refused")
  func localRunbook() throws {
    let result = RunbookLoader.load(source: validRunbook, file: "demo.yaml")
    let runbook = try #require(result.runbook)
    let resolver = try Resolver.resolving(
      runbook: runbook, environmentName: nil, processEnvironment: [:], overrides: [:], resolveSecrets: false
    )
    let plan = try resolver.plan(of: .level(1))
    #expect(plan.steps.allSatisfy { !$0.hostScoped && $0.hosts.isEmpty && $0.batches.isEmpty })
    #expect(plan.fleetRefusal == nil)
  }
}

extension Result {
  fileprivate var failure: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
