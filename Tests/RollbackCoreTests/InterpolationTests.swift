import RollbackCore
import Testing

/// Placeholders resolved into shell lines and SQL: values land as data.
@Suite("interpolation into shell commands and SQL")
struct InterpolationTests {
  let context = InterpolationContext(
    variables: [
      "v": ResolvedText(value: "a'b; rm -rf /", display: "a'b; rm -rf /", hasSecret: false),
      "n": ResolvedText(value: "5", display: "5", hasSecret: false),
    ],
    processEnvironment: ["TOKEN": "s3cret"], resolveSecrets: true, environmentName: "test")

  @Test("a word for people to paste is bare when safe, else one single-quoted word")
  func pasteableWord() {
    #expect(ShellInterpolation.word("/srv/app/rollback.yaml") == "/srv/app/rollback.yaml")
    #expect(ShellInterpolation.word("--env=prod,eu") == "--env=prod,eu")
    #expect(ShellInterpolation.word("") == "''")
    #expect(ShellInterpolation.word("a b") == "'a b'")
    #expect(ShellInterpolation.word("it's") == "'it'\\''s'")
    #expect(ShellInterpolation.word("$(touch x)") == "'$(touch x)'")
    #expect(ShellInterpolation.word("café") == "'café'")
    #expect(Resolver.shellQuoted(["echo", "a b", "ok"]) == "echo 'a b' ok")
  }

  func template(_ text: String) -> Template {
    var bag = DiagnosticBag()
    return Template(parsing: text, at: SourceLocation(file: "t.yaml", line: 1, column: 1), into: &bag)
  }

  @Test(
    "each placeholder is one single-quoted word, closing and reopening the quotes around it",
    arguments: [
      ("echo ${v}", #"echo 'a'\''b; rm -rf /'"#),
      (#"echo "x ${v} y""#, #"echo "x "'a'\''b; rm -rf /'" y""#),
      ("echo 'x ${v} y'", #"echo 'x ''a'\''b; rm -rf /'' y'"#),
      (#"echo "$(echo ${v})""#, #"echo "$(echo 'a'\''b; rm -rf /')""#),
      ("echo hi # it's ${v}\necho ${n}", "echo hi # it's 'a'\\''b; rm -rf /'\necho '5'"),
    ])
  func shell(text: String, expected: String) {
    var bag = DiagnosticBag()
    let resolved = context.resolveShell(template(text), into: &bag)
    #expect(!bag.hasErrors)
    #expect(resolved.value == expected)
  }

  @Test(
    "backquotes and here-documents are refused",
    arguments: ["echo `echo ${v}`", "cat <<EOF\n${v}\nEOF"])
  func shellRefused(text: String) {
    var bag = DiagnosticBag()
    let resolved = context.resolveShell(template(text), into: &bag)
    #expect(bag.hasErrors)
    #expect(!resolved.value.contains("rm -rf"))
  }

  @Test(
    "SQL placeholders become parameters, quoted literals included",
    arguments: [
      ("DELETE FROM t WHERE id = '${v}'", "DELETE FROM t WHERE id = $1", ["a'b; rm -rf /"]),
      ("SELECT ${n} + 1", "SELECT $1 + 1", ["5"]),
      ("SELECT 1 WHERE x LIKE '%${v}%'", "SELECT 1 WHERE x LIKE ('%' || $1::text || '%')", ["a'b; rm -rf /"]),
      (
        "SELECT now() - interval '${n} minutes'", "SELECT now() - CAST(($1::text || ' minutes') AS interval)",
        ["5"]
      ),
      ("SELECT E'${v}', 'it''s'", "SELECT $1, 'it''s'", ["a'b; rm -rf /"]),
      ("SELECT 1 -- '${v}\n, '${n}'", "SELECT 1 -- '${v}\n, $1", ["5"]),
      ("SELECT /* '${v}' /* x */ */ ${n}", "SELECT /* '${v}' /* x */ */ $1", ["5"]),
      ("SELECT $t$a'b$t$, ${n}", "SELECT $t$a'b$t$, $1", ["5"]),
      (#"SELECT "a""b" FROM t WHERE x = ${n}"#, #"SELECT "a""b" FROM t WHERE x = $1"#, ["5"]),
    ])
  func sql(text: String, query: String, parameters: [String]) {
    var bag = DiagnosticBag()
    let resolved = context.resolveSQL(template(text), into: &bag)
    #expect(!bag.hasErrors)
    #expect(resolved.query == query)
    #expect(resolved.parameters == parameters)
  }

  @Test(
    "identifiers and dollar-quoted bodies cannot take parameters",
    arguments: [#"SELECT * FROM "${v}""#, "DO $$ BEGIN PERFORM '${v}'; END $$"])
  func sqlRefused(text: String) {
    #expect(!SQLInterpolation.problems(in: template(text)).isEmpty)
  }

  @Test(
    "each kind of placeholder: its value, what people see, whether it is secret, and its problem",
    arguments: [
      ("x ${n} y", "x 5 y", "x 5 y", false, nil),
      ("${env.TOKEN}", "s3cret", "****", true, nil),
      ("${env.HOME_DIR:-/srv}", "/srv", "/srv", false, nil),
      ("${secret.TOKEN}", "s3cret", "****", true, nil),
      ("${run.id}", "${run.id}", "${run.id}", false, nil),
      ("${host.name}", "${host.name}", "${host.name}", false, nil),
      (
        "a${nn}b", "a${nn}b", "a${nn}b", false,
        "unknown variable 'nn' in environment 'test'; did you mean 'n'?"
      ),
      (
        "a${env.MISSING}b", "ab", "ab", false,
        "environment variable MISSING is not set; set it or write '${env.MISSING:-default}'"
      ),
      (
        "a${secret.MISSING}b", "ab", "a****b", true,
        "secret MISSING is not set in the environment; export it and retry"
      ),
    ] as [(String, String, String, Bool, String?)])
  func placeholders(text: String, value: String, display: String, secret: Bool, problem: String?) {
    var bag = DiagnosticBag()
    let resolved = context.resolve(template(text), into: &bag)
    #expect(resolved.value == value)
    #expect(resolved.display == display)
    #expect(resolved.hasSecret == secret)
    #expect(bag.errors.first?.message == problem)
  }

  @Test("a secret placeholder shows as **** and is **** too when secrets are not resolved (plans, dry runs)")
  func secretsUnresolved() {
    var planning = context
    planning.resolveSecrets = false
    var bag = DiagnosticBag()
    let resolved = planning.resolve(template("Bearer ${secret.TOKEN}"), into: &bag)
    #expect(resolved.value == "Bearer ****")
    #expect(resolved.display == "Bearer ****")
    #expect(resolved.hasSecret)
    #expect(!bag.hasErrors)
  }
}
