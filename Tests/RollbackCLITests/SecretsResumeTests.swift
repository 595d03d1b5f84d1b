import Foundation
import Testing

/// Writes `text` as `rollback.yaml` in `directory`.
private func writeRunbook(_ text: String, in directory: URL) throws {
  try text.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
}

/// The bytes of every journal under `state`, as one string.
private func journalText(_ state: URL) throws -> String {
  try journals(in: state).map { try String(contentsOfFile: $0, encoding: .utf8) }.joined()
}

@Suite("secrets: one rule for names, masking and children's environment")
struct SecretRuleTests {
  static let runbook = """
    version: 1
    name: secrets
    environments:
      local:
        vars: {DB_PASSWD: default-pw, AUTH_HEADER: "Basic default"}
        postgres: {dsn_env: APP_DSN}
    flags:
      monkey: {key: MONKEY_MODE, files: [app.env], enabled: "true", disabled: "false"}
    levels:
      1:
        steps:
          - {flag: {name: monkey, set: enabled}}
          - id: show
            run:
              shell: >-
                echo pw=${DB_PASSWD} auth=${AUTH_HEADER};
                echo dsn=$(printenv APP_DSN || echo none);
                echo deploy=$(printenv DEPLOY_TOKEN || echo none);
                echo given=$(printenv GIVEN || echo none)
              env: {GIVEN: "${secret.DEPLOY_TOKEN}"}
    """

  @Test(
    "--var DB_PASSWD/AUTH_HEADER never reach output or journal; MONKEY_MODE is shown; children lose dsn_env and ${secret.X}"
  )
  func oneRuleEverywhere() throws {
    let directory = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    try writeRunbook(Self.runbook, in: directory)
    try "MONKEY_MODE=false\n".write(
      to: directory.appendingPathComponent("app.env"), atomically: true, encoding: .utf8)
    let result = try CLI.run(
      [
        "execute", "--level", "1", "--yes", "--var", "DB_PASSWD=Sup3rPw1", "--var",
        "AUTH_HEADER=Basic svc:Sekr3t",
      ],
      in: directory,
      environment: [
        "APP_DSN": "postgresql://app:Dsn-Pw-77@127.0.0.1/x", "DEPLOY_TOKEN": "Deploy-Tok-99",
        "MONKEY_MODE": "false",
      ])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    // MONKEY_MODE (exported too) is not a secret: its flip is shown as it is.
    #expect(result.stdout.contains("MONKEY_MODE false -> true (changed 1 of 1 file)"), "\(result.stdout)")
    #expect(result.stdout.contains("show │ pw=**** auth=****"), "\(result.stdout)")
    // The child did not inherit the DSN or the ${secret.X} variable, but got what env: passed.
    #expect(result.stdout.contains("show │ dsn=none"))
    #expect(result.stdout.contains("show │ deploy=none"))
    #expect(result.stdout.contains("show │ given=****"))
    let journal = try journalText(directory.appendingPathComponent(".rollback"))
    #expect(!journal.isEmpty)
    for secret in ["Sup3rPw1", "Sekr3t", "Dsn-Pw-77", "Deploy-Tok-99"] {
      #expect(!journal.contains(secret), "\(secret) in the journal")
      #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "\(secret) in the output")
    }
  }
}
