import Foundation
import Testing

@Suite("validate and plan on the seed runbooks")
struct ValidatePlanTests {
  static let atom = "runbooks/frontend-backend-migration.yaml"
  static let marketsage = "runbooks/marketsage.yaml"

  @Test(
    "both seed runbooks validate with zero errors in every environment",
    arguments: [
      (atom, "production"), (atom, "staging"), (atom, "local"), (marketsage, "production"),
    ])
  func seedsValidate(_ runbook: String, _ environment: String) throws {
    let result = try CLI.run(["validate", "--runbook", runbook, "--env", environment])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(!result.stderr.contains("error:"), "\(result.stderr)")
    #expect(result.stdout.contains("\(runbook): ok"))
  }

  static let level3IDs = [
    "identify-issue", "disable-flag", "restart-frontend", "verify-flag-served", "verify-register",
    "wait-error-rate", "notify-rollback-complete", "page-oncall",
  ]
  static let level3Mutates = [false, true, true, false, true, false, true, true]

  @Test("plan --level 3 --json lists the resolved steps in order, marking mutations")
  func planJSON() throws {
    let result = try CLI.run(["plan", "--runbook", Self.atom, "--level", "3", "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    #expect(object["runbook"] as? String == "frontend-backend-migration")
    #expect(object["environment"] as? String == "production")
    #expect(object["level"] as? Int == 3)
    #expect(object["target_s"] as? Int == 300)
    let steps = try #require(object["steps"] as? [[String: Any]])
    #expect(steps.compactMap { $0["id"] as? String } == Self.level3IDs)
    #expect(steps.compactMap { $0["mutates"] as? Bool } == Self.level3Mutates)
    let flag = try #require(steps.first { $0["id"] as? String == "disable-flag" })
    #expect(
      flag["detail"] as? String
        == "NEXT_PUBLIC_USE_BACKEND_API -> false in /var/www/frontend-nextjs/.env.local, "
        + "/var/www/frontend-nextjs/.env.production, /var/www/frontend-nextjs/.env")
  }

  @Test("plan --level 3 prints the same steps for a person, in order")
  func planHuman() throws {
    let result = try CLI.run(["plan", "--runbook", Self.atom, "--level", "3"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.hasPrefix("Plan for level 3 — Full rollback"))
    #expect(result.stdout.contains("environment production · target 5m · 8 steps, 5 mutating"))
    let stepLines = result.stdout.split(separator: "\n").filter {
      $0.range(of: #"^\s*\d+\. "#, options: .regularExpression) != nil
    }
    #expect(stepLines.count == 8)
    for (line, (id, mutates)) in zip(stepLines, zip(Self.level3IDs, Self.level3Mutates)) {
      #expect(line.contains(" \(id) "), "\(line)")
      #expect(line.contains(mutates ? "MUTATES" : "read-only"), "\(line)")
    }
  }

  @Test("--var overrides a variable and --env picks the environment")
  func planWithVariables() throws {
    let result = try CLI.run([
      "plan", "--runbook", Self.atom, "--level", "3", "--env", "staging", "--var", "app_dir=/srv/x", "--json",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("NEXT_PUBLIC_USE_BACKEND_API -> false in /srv/x/.env.local"))
    #expect(result.stdout.contains("\"environment\": \"staging\""))
  }

  @Test("a secret in a plan is shown as ****, never resolved")
  func secretsStayHidden() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let runbook = """
      version: 1
      name: secrets
      environments:
        production:
          vars: {api_token: "${env.DEPLOY_API_TOKEN}"}
      levels:
        1:
          steps:
            - id: deploy
              http:
                method: POST
                url: https://deploy.invalid/rollback
                headers: {Authorization: "Bearer ${secret.DEPLOY_TOKEN}", X-Api: "${api_token}"}
      """
    try runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let secretValue = "s3cr3t-value-91823"
    let result = try CLI.run(
      ["plan", "--level", "1", "--json"], in: directory,
      environment: ["DEPLOY_TOKEN": secretValue, "DEPLOY_API_TOKEN": secretValue])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(!result.stdout.contains(secretValue))
    #expect(!result.stderr.contains(secretValue))
  }

  @Test("a broken runbook exits 2 with located diagnostics on stderr")
  func brokenExitsTwo() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try "version: 1\nname: x\nenvironments: {p: {}}\nlevels:\n  1:\n    steps:\n      - restart: nowhere\n"
      .write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let result = try CLI.run(["validate"], in: directory)
    #expect(result.status == 2)
    #expect(result.stderr.contains("rollback.yaml:7:18: error: unknown service 'nowhere'"))
    #expect(result.stderr.contains("      - restart: nowhere\n                 ^"))
    #expect(result.stdout.isEmpty)
  }

  @Test("warnings pass unless --strict")
  func strictWarnings() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let runbook = """
      version: 1
      name: x
      environments: {p: {}}
      flags:
        f: {key: K, files: [.env], service: web}
      services:
        web: {restart: [true]}
      levels:
        1:
          steps:
            - flag: {name: f, set: disabled}
      """
    try runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let relaxed = try CLI.run(["validate"], in: directory)
    #expect(relaxed.status == 0)
    #expect(
      relaxed.stderr.contains(
        "rollback.yaml:11:9: warning: flag 'f' is read by service 'web', which level 1 never restarts after this step"
      ))
    let strict = try CLI.run(["validate", "--strict"], in: directory)
    #expect(strict.status == 2)
  }

  @Test("usage errors exit 2 and every command has help")
  func usage() throws {
    #expect(try CLI.run(["plan", "--runbook", Self.atom]).status == 2)
    #expect(try CLI.run(["frobnicate"]).status == 2)
    for command in ["validate", "plan"] {
      let help = try CLI.run([command, "--help"])
      #expect(help.status == 0)
      #expect(help.stdout.contains("--runbook"))
      #expect(help.stdout.contains("--env"))
    }
  }
}
