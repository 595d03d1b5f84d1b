import Foundation
import Testing

/// Proof that the process serving users took the flag change, on the harness's supervisord.
extension SharedAppTests {
  @Suite("proof of pickup after a restart, on the real supervisord")
  struct PickupProofTests {
    /// A runbook on the harness frontend: the flag in `flagFiles`, the restart `restart`,
    /// pickup by `supervisorctl pid` and the app's /api/config.
    func runbook(_ harness: Harness, restart: String, flagFiles: [String]) -> String {
      let files = flagFiles.map { "\"${app_dir}/\($0)\"" }.joined(separator: ", ")
      return """
        version: 1
        name: pickup
        environments:
          local:
            vars: {app_dir: "\(harness.appDirectory)", conf: "\(harness.supervisorConf)", url: "\(harness.appURL)"}
        flags:
          api: {key: NEXT_PUBLIC_USE_BACKEND_API, files: [\(files)], service: frontend}
        services:
          frontend:
            restart: \(restart)
            health: {http: {url: "${url}/api/health"}, within: 10s, interval: 200ms}
            pickup:
              pid: {command: [supervisorctl, -c, "${conf}", pid, frontend]}
              http: {url: "${url}/api/config", json_path: flags.NEXT_PUBLIC_USE_BACKEND_API}
        levels:
          3:
            target: 5m
            steps:
              - {id: off, flag: {name: api, set: disabled}}
              - {id: restart, restart: frontend}
        """
    }

    func execute(_ text: String, extra: [String] = []) throws -> (CLIResult, [[String: Any]]) {
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      try text.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
      let state = directory.appendingPathComponent("state")
      let result = try CLI.run(
        ["execute", "--level", "3", "--yes", "--state-dir", state.path] + extra, in: directory)
      let events = try journals(in: state).first.map(journalEvents) ?? []
      return (result, events)
    }

    func restartEvent(_ events: [[String: Any]]) -> [String: Any]? {
      events.first { $0["event"] as? String == "step-finished" && $0["id"] as? String == "restart" }
    }

    @Test("a real restart proves pickup: new pid, started after the write, reporting false; journalled")
    func realRestartProves() throws {
      let harness = try Harness.current()
      try harness.resetApp()
      defer { try? harness.resetApp() }
      let pidBefore = try #require(harness.health()["pid"] as? Int)
      let text = runbook(
        harness, restart: "[supervisorctl, -c, \"${conf}\", restart, frontend]", flagFiles: Harness.flagFiles)

      let (dry, _) = try execute(text, extra: ["--dry-run"])
      #expect(dry.status == 0, "\(dry.stdout)\(dry.stderr)")
      #expect(
        dry.stdout.contains("then prove pickup if a flag of frontend changed: a new pid from supervisorctl"))
      #expect(dry.stdout.contains("flags.NEXT_PUBLIC_USE_BACKEND_API at \(harness.appURL)/api/config"))

      let (result, events) = try execute(text)
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      let pidAfter = try #require(harness.health()["pid"] as? Int)
      #expect(pidAfter != pidBefore)
      let proof = "pickup: pid \(pidBefore) → \(pidAfter), started "
      #expect(result.stdout.contains(proof), "\(result.stdout)")
      #expect(result.stdout.contains(", flag api written at "))
      #expect(result.stdout.contains(", reports flags.NEXT_PUBLIC_USE_BACKEND_API = false"))
      let detail = restartEvent(events)?["detail"] as? String ?? ""
      #expect(
        detail.contains(proof) && detail.contains("reports flags.NEXT_PUBLIC_USE_BACKEND_API = false"),
        "\(detail)")
    }

    @Test("a restart command that does not restart fails: the process predates the flag change")
    func fakeRestartFails() throws {
      let harness = try Harness.current()
      try harness.resetApp()
      defer { try? harness.resetApp() }
      let pid = try #require(harness.health()["pid"] as? Int)
      let (result, events) = try execute(
        runbook(harness, restart: "[\"true\"]", flagFiles: Harness.flagFiles))
      #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
      let message =
        "restarted, but the running process predates the flag change: pid \(pid) is the same as before the restart"
      #expect(result.stdout.contains(message), "\(result.stdout)")
      let event = restartEvent(events)
      #expect(event?["status"] as? String == "failed")
      #expect((event?["error"] as? String)?.contains(message) == true, "\(event ?? [:])")
      // The files say false, the process still serves true.
      #expect(try harness.health()["backend_api"] as? String == "true")
    }

    @Test("a process reporting another value than the one written fails with the value it reports")
    func reportedValueMismatchFails() throws {
      let harness = try Harness.current()
      try harness.resetApp()
      defer { try? harness.resetApp() }
      // Only .env is changed: .env.local, read first, still says true.
      let (result, events) = try execute(
        runbook(harness, restart: "[supervisorctl, -c, \"${conf}\", restart, frontend]", flagFiles: [".env"]))
      #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
      #expect(
        result.stdout.contains("but the process reports flags.NEXT_PUBLIC_USE_BACKEND_API = true, not false"),
        "\(result.stdout)")
      #expect(restartEvent(events)?["status"] as? String == "failed")
    }
  }
}
