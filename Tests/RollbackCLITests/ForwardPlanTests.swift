import Foundation
import Testing

extension SharedAppTests {
  @Suite("plan --forward: the roll-forward of a real level-3 run, written, validated and executed")
  struct ForwardPlanTests {
    func runbook(_ harness: Harness) -> String {
      """
      version: 1
      name: fwd
      environments:
        local:
          vars: {app_dir: "\(harness.appDirectory)", conf: "\(harness.supervisorConf)", url: "\(harness.appURL)"}
          prometheus: {url: "\(harness.promURL)"}
          postgres: {dsn_env: DATABASE_URL}
      flags:
        api:
          key: NEXT_PUBLIC_USE_BACKEND_API
          files: ["${app_dir}/.env.local", "${app_dir}/.env.production", "${app_dir}/.env"]
          service: frontend
      services:
        frontend:
          restart: [supervisorctl, -c, "${conf}", restart, frontend]
          health: {http: {url: "${url}/api/health"}, within: 20s, interval: 500ms}
      signals:
        db_up: {postgres: SELECT 1}
      decision:
        - {severity: critical, any: ["db_up < 1"], action: {level: 3}}
        - {severity: low, any: ["db_up > 5"], action: monitor}
      levels:
        3:
          target: 5m
          steps:
            - {id: off, flag: {name: api, set: disabled}}
            - {id: restart, restart: frontend}
            - {id: recovered, wait: "db_up == 1", within: 1m}
      """
    }

    @Test("execute level 3, then its roll-forward scenario: the flag is back and the service restarted")
    func levelThreeThenForward() throws {
      let harness = try Harness.current()
      try harness.resetApp()
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      try runbook(harness).write(
        to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
      let before = try Harness.flagFiles.map { try String(contentsOfFile: harness.file($0), encoding: .utf8) }
      #expect(before.allSatisfy { $0.contains("NEXT_PUBLIC_USE_BACKEND_API=true") })
      var environment = harness.runbookEnvironment
      environment["ROLLBACK_STATE_DIR"] = directory.appendingPathComponent("state").path

      // The rollback.
      let rollback = try CLI.run(
        ["execute", "--level", "3", "--yes", "--json"], in: directory, environment: environment)
      #expect(rollback.status == 0, "\(rollback.stderr)")
      let json = try #require(
        try JSONSerialization.jsonObject(with: Data(rollback.stdout.utf8)) as? [String: Any])
      let runID = try #require(json["run_id"] as? String)
      #expect(try harness.health()["backend_api"] as? String == "false")
      let pidAfterRollback = try #require(try harness.health()["pid"] as? Int)

      // The plan, for people.
      let human = try CLI.run(["plan", "--forward", runID], in: directory, environment: environment)
      #expect(human.status == 0, "\(human.stderr)")
      #expect(
        human.stdout
          == """
          Roll-forward of run \(runID) (level 3 of fwd in local):
            1. flag api → enabled
            2. restart frontend
            3. wait up to 1m for db_up <= 5

          """)

      // Written as a runbook beside the original, validated, executed.
      let written = try CLI.run(
        ["plan", "--forward", runID, "--format", "runbook"], in: directory, environment: environment)
      #expect(written.status == 0, "\(written.stderr)")
      let forwardFile = directory.appendingPathComponent("forward.yaml")
      try written.stdout.write(to: forwardFile, atomically: true, encoding: .utf8)
      let validate = try CLI.run(
        ["validate", "--runbook", forwardFile.path], in: directory, environment: environment)
      #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)\n\(written.stdout)")
      let forward = try CLI.run(
        ["execute", "--runbook", forwardFile.path, "--scenario", "forward-\(runID)", "--yes", "--json"],
        in: directory, environment: environment)
      #expect(forward.status == 0, "\(forward.stderr)")
      let forwardJSON = try #require(
        try JSONSerialization.jsonObject(with: Data(forward.stdout.utf8)) as? [String: Any])
      #expect(forwardJSON["status"] as? String == "succeeded")
      let ids = (forwardJSON["steps"] as? [[String: Any]] ?? []).map {
        "\($0["id"] ?? "")=\($0["status"] ?? "")"
      }
      #expect(ids == ["forward-1=succeeded", "forward-2=succeeded", "forward-3=succeeded"])

      // The flag is back in every file, byte for byte, and the restarted service serves it.
      let after = try Harness.flagFiles.map { try String(contentsOfFile: harness.file($0), encoding: .utf8) }
      #expect(after == before)
      let health = try harness.health()
      #expect(health["backend_api"] as? String == "true")
      #expect(health["pid"] as? Int != pidAfterRollback)
    }

    @Test("a run id that does not exist is a clear error")
    func unknownRun() throws {
      let harness = try Harness.current()
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      try runbook(harness).write(
        to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
      let result = try CLI.run(
        [
          "plan", "--forward", "20261201T000000Z-nope", "--state-dir",
          directory.appendingPathComponent("state").path,
        ],
        in: directory, environment: harness.runbookEnvironment)
      #expect(result.status != 0)
      #expect(result.stderr.contains("no run 20261201T000000Z-nope in "), "\(result.stderr)")
    }
  }
}
