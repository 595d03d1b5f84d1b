import Foundation
import Testing

/// A fleet runbook whose steps would leave marks in `directory` if they ran on this machine.
func fleetRunbook(in directory: URL) -> String {
  """
  version: 1
  name: fleet-marks
  environments:
    production:
      vars: {dir: "\(directory.path)"}
      hosts:
        web-1: {ssh: web-1}
        web-2: {ssh: web-2}
      groups:
        web: [web-1, web-2]
  flags:
    api:
      key: USE_API
      files: ["${dir}/.env"]
      hosts: web
  levels:
    1:
      name: Marks
      steps:
        - {id: touch, run: [touch, "${dir}/touched"], on: web-1}
    2:
      name: Rolling
      steps:
        - id: roll
          rolling:
            on: web
            batches: [1, "100%"]
            steps:
              - flag: {name: api, set: disabled}
              - {id: mark, run: [touch, "${dir}/rolled-${host.name}"]}
  """
}

@Suite("Fleet runbooks on the command line: validate, plan, and refusals to execute")
struct FleetCLITests {
  static let example = "runbooks/examples/fleet.yaml"

  @Test("the example fleet runbook validates with no error or warning")
  func exampleValidates() throws {
    let result = try CLI.run(["validate", "--runbook", Self.example])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("\(Self.example): ok — runbook 'fleet-example'"))
    #expect(result.stdout.contains("0 warnings"))
  }

  @Test("plan shows a rolling step's batches, per-host steps, and an on: step's hosts")
  func planHuman() throws {
    let result = try CLI.run(["plan", "--runbook", Self.example, "--level", "1"])
    #expect(result.status == 0, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    #expect(lines.contains("batch 1/3: web-1"))
    #expect(lines.contains("batch 2/3: web-2"))
    #expect(lines.contains("batch 3/3: web-3"))
    #expect(lines.contains("on hosts: web-1 web-2 web-3"))
    #expect(result.stdout.contains("1. flag-1  flag  MUTATES    NEXT_PUBLIC_USE_BACKEND_API -> false"))
    #expect(result.stdout.contains("3. mark  run  MUTATES    logger 'backend api off on ${host.name}'"))
    #expect(lines.contains("web-2: NEXT_PUBLIC_USE_BACKEND_API -> false in /srv/frontend-2/.env.local"))
    #expect(lines.contains("web-1 web-3: rm -rf /srv/frontend/.next/cache"))
    #expect(lines.contains("web-3: logger 'backend api off on web-3'"))
  }

  @Test("plan --hosts limits the hosts and batches; --json carries them")
  func planHostsJSON() throws {
    let result = try CLI.run([
      "plan", "--runbook", Self.example, "--level", "1", "--hosts", "frontend,!web-1", "--json",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let steps = try #require(object["steps"] as? [[String: Any]])
    let roll = try #require(steps.first { $0["id"] as? String == "frontend-off" })
    #expect(roll["hosts"] as? [String] == ["web-2", "web-3"])
    let rolling = try #require(roll["rolling"] as? [String: Any])
    #expect(rolling["batches"] as? [[String]] == [["web-2"], ["web-3"]])
    #expect(rolling["batch_sizes"] as? [String] == ["1", "50%", "100%"])
    #expect(rolling["max_fail"] as? String == "0")
    #expect(rolling["gate"] as? String == "error_rate < 1%")
    let inner = try #require(rolling["steps"] as? [[String: Any]])
    #expect(
      inner.compactMap { $0["id"] as? String } == [
        "frontend-off.flag-1", "frontend-off.restart-2", "frontend-off.mark",
      ])
    let cache = try #require(steps.first { $0["id"] as? String == "clear-cache" })
    #expect(cache["hosts"] as? [String] == ["web-2", "web-3"])
    let details = try #require(cache["host_details"] as? [[String: Any]])
    #expect(details.compactMap { $0["hosts"] as? [String] } == [["web-2"], ["web-3"]])
    #expect(
      details.compactMap { $0["detail"] as? String } == [
        "rm -rf /srv/frontend-2/.next/cache", "rm -rf /srv/frontend/.next/cache",
      ])
    let check = try #require(steps.first { $0["id"] as? String == "check-1" })
    #expect(check["hosts"] == nil)
  }

  @Test("an environment without hosts plans as before: no hosts or rolling keys, no host lines")
  func seedPlanUnchanged() throws {
    for env in ["staging", "local"] {
      let json = try CLI.run([
        "plan", "--runbook", "runbooks/frontend-backend-migration.yaml", "--level", "3", "--json", "--env",
        env,
      ])
      #expect(json.status == 0, "\(json.stderr)")
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
      let steps = try #require(object["steps"] as? [[String: Any]])
      #expect(steps.count == 8)
      for step in steps {
        #expect(
          Set(step.keys) == [
            "id", "kind", "name", "mutates", "detail", "origin", "when", "include_when", "drill",
          ])
      }
      let human = try CLI.run([
        "plan", "--runbook", "runbooks/frontend-backend-migration.yaml", "--level", "3", "--env", env,
      ])
      #expect(!human.stdout.contains("on hosts:") && !human.stdout.contains("batch "))
    }
  }

  @Test("the seed's production environment names its servers: flag, restarts and on: steps placed on them")
  func seedProductionHosts() throws {
    let seed = "runbooks/frontend-backend-migration.yaml"
    for env in ["production", "staging", "local", "fleet-demo"] {
      let validate = try CLI.run(["validate", "--runbook", seed, "--env", env])
      #expect(validate.status == 0, "\(env): \(validate.stdout)\(validate.stderr)")
      #expect(validate.stdout.contains("0 warnings"), "\(env): \(validate.stdout)")
    }
    let plan = try CLI.run(["plan", "--runbook", seed, "--level", "3", "--env", "production", "--json"])
    #expect(plan.status == 0, "\(plan.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
    let steps = try #require(object["steps"] as? [[String: Any]])
    let hosts = Dictionary(
      uniqueKeysWithValues: steps.compactMap { step -> (String, [String])? in
        guard let id = step["id"] as? String, let hosts = step["hosts"] as? [String] else { return nil }
        return (id, hosts)
      })
    #expect(
      hosts == [
        "disable-flag": ["production-frontend-server"], "restart-frontend": ["production-frontend-server"],
      ])
    let backend = try CLI.run([
      "plan", "--runbook", seed, "--scenario", "error-rate-still-high", "--env", "production",
    ])
    #expect(backend.stdout.contains("on hosts: backend-server"), "\(backend.stdout)")
    #expect(backend.stdout.contains("restart: pm2 restart backend"))
    let staging = try CLI.run([
      "plan", "--runbook", seed, "--scenario", "error-rate-still-high", "--env", "staging",
    ])
    #expect(
      staging.stdout.contains("restart: ssh staging-backend-server pm2 restart backend"), "\(staging.stdout)")

    let canary = try CLI.run([
      "plan", "--runbook", seed, "--scenario", "full-rollback-canary", "--env", "fleet-demo",
    ])
    #expect(canary.status == 0, "\(canary.stderr)")
    let lines = canary.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    #expect(lines.contains("batch 1/2: frontend-1"))
    #expect(lines.contains("batch 2/2: frontend-2 frontend-3"))
  }

  @Test("MarketSage's production names its servers; level 3 plans every backend batch before the frontend's")
  func marketSageBackendFirst() throws {
    let seed = "runbooks/marketsage.yaml"
    let validate = try CLI.run(["validate", "--strict", "--runbook", seed])
    #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
    let plan = try CLI.run(["plan", "--runbook", seed, "--level", "3"])
    #expect(plan.status == 0, "\(plan.stderr)")
    let lines = plan.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    let backend = try #require(lines.firstIndex(of: "batch 1/1: marketsage-backend"), "\(plan.stdout)")
    let frontend = try #require(lines.firstIndex(of: "batch 1/1: marketsage-frontend"), "\(plan.stdout)")
    #expect(backend < frontend)
    let step = lines.firstIndex {
      $0.contains(
        "backend-then-frontend.backend-servers  rolling  MUTATES    on backend; "
          + "batches 1, 100%; max_fail 0; gate backend_up >= 1")
    }
    #expect(step.map { $0 < backend } == true, "\(plan.stdout)")
    #expect(lines.contains("on hosts: marketsage-frontend"))

    let json = try CLI.run(["plan", "--runbook", seed, "--level", "3", "--json"])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let steps = try #require(object["steps"] as? [[String: Any]])
    let rolling = steps.compactMap { step -> [[String]]? in
      (step["rolling"] as? [String: Any])?["batches"] as? [[String]]
    }
    #expect(rolling == [[["marketsage-backend"]], [["marketsage-frontend"]]])
  }

  @Test("a rolling step in an environment without hosts is refused before anything runs")
  func rollingWithoutHostsRefused() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let state = directory.appendingPathComponent("state").path
    let result = try CLI.run([
      "execute", "--runbook", "runbooks/frontend-backend-migration.yaml", "--env", "staging", "--scenario",
      "full-rollback-canary", "--yes", "--state-dir", state,
    ])
    #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
    #expect(
      result.stderr.contains(
        "error: step 'frontend-off' is a rolling step, and environment 'staging' declares no hosts to roll over; nothing was run"
      ), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: state + "/runs"))
  }

  @Test("plan --hosts with a pattern that matches nothing exits 2 with a hint")
  func planUnknownHosts() throws {
    let result = try CLI.run(["plan", "--runbook", Self.example, "--level", "1", "--hosts", "web-*,frontnd"])
    #expect(result.status == 2)
    #expect(
      result.stderr.contains(
        "error: --hosts pattern 'frontnd' matches no host or group; did you mean 'frontend'?"))
    #expect(result.stdout.isEmpty)
  }

  @Test(
    "execute and flag act on the hosts, never here; an unknown --hosts pattern exits 2")
  func executionOnHostsOnly() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let runbook = directory.appendingPathComponent("rollback.yaml")
    try fleetRunbook(in: directory).write(to: runbook, atomically: true, encoding: .utf8)
    let env = directory.appendingPathComponent(".env")
    let original = "# keep\nUSE_API=true\n"
    try original.write(to: env, atomically: true, encoding: .utf8)
    let state = directory.appendingPathComponent("state").path
    let common = ["--runbook", runbook.path, "--state-dir", state]

    let validate = try CLI.run(["validate"] + common)
    #expect(validate.status == 0, "\(validate.stderr)")

    // web-1 is no host this machine can reach: the step fails there, naming it.
    let onStep = try CLI.run(["execute", "--level", "1", "--yes", "--json"] + common)
    #expect(onStep.status == 1, "\(onStep.stdout)\(onStep.stderr)")
    #expect(onStep.stderr.contains("web-1"), "\(onStep.stderr)")
    #expect(!onStep.stderr.contains("not available yet"))

    let limited = try CLI.run(["execute", "--level", "1", "--yes", "--hosts", "web-9"] + common)
    #expect(limited.status == 2)
    #expect(
      limited.stderr.contains("error: --hosts pattern 'web-9' matches no host or group"), "\(limited.stderr)")

    // The flag lives on the hosts: the hosts fail (unreachable), the local file is never written.
    let flag = try CLI.run(["flag", "disable", "api"] + common)
    #expect(flag.status == 1, "\(flag.stdout)\(flag.stderr)")
    #expect(flag.stderr.contains("flag api could not be changed on web-1, web-2"), "\(flag.stderr)")

    // Nothing ran here: no marks, the flag file's bytes unchanged.
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    #expect(names == [".env", "rollback.yaml", "state"])
    #expect(try String(contentsOf: env, encoding: .utf8) == original)
  }
}
