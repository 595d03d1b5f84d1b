import RollbackCore
import Testing

@testable import RollbackSystem

@Suite("Redaction")
struct RedactionTests {
  @Test(
    "URL userinfo passwords are masked, the user is kept",
    arguments: [
      ("postgresql://app:s3cret@db.internal:5432/prod", "postgresql://app:****@db.internal:5432/prod"),
      ("https://deploy:p%40ss@ci.example.com/hook", "https://deploy:****@ci.example.com/hook"),
      ("connect to http://u:pw@127.0.0.1:9090 failed", "connect to http://u:****@127.0.0.1:9090 failed"),
      ("https://token@github.com/x", "https://token@github.com/x"),
      ("http://127.0.0.1:9090/api/v1/query", "http://127.0.0.1:9090/api/v1/query"),
      ("a://x:1@h and b://y:2@k", "a://x:****@h and b://y:****@k"),
    ])
  func userinfo(input: String, expected: String) {
    #expect(Redaction.urls(in: input) == expected)
  }

  @Test("secret-looking query parameters are masked")
  func queryParameters() {
    #expect(
      Redaction.urls(in: "https://hooks.example.com/x?channel=ops&token=abc123&api_key=k&n=1")
        == "https://hooks.example.com/x?channel=ops&token=****&api_key=****&n=1")
    #expect(
      Redaction.urls(in: "postgresql:///db?host=/tmp&password=pw")
        == "postgresql:///db?host=/tmp&password=****")
  }

  @Test(
    "conninfo passwords are masked, quoted or not",
    arguments: [
      ("host=db password=s3cret dbname=app", "host=db password=**** dbname=app"),
      ("host=db password = 's3 cr\\'et' dbname=app", "host=db password=**** dbname=app"),
      ("PASSWORD=x", "PASSWORD=****"),
      ("password authentication failed for user \"app\"", "password authentication failed for user \"app\""),
    ])
  func conninfo(input: String, expected: String) {
    #expect(Redaction.conninfo(input) == expected)
  }

  @Test("listed secrets are replaced everywhere, longest first, empty ones ignored")
  func secrets() {
    #expect(
      Redaction.secrets(["abc", "abcdef", ""], in: "token abcdef and abc and xyz")
        == "token **** and **** and xyz")
  }

  @Test("text applies every rule")
  func text() {
    let message = "POST https://u:pw@h/x?token=t1 with Bearer tk-9 and password=hunter2"
    #expect(
      Redaction.text(message, secrets: ["tk-9"])
        == "POST https://u:****@h/x?token=**** with Bearer **** and password=****")
  }

  @Test(
    "secret names",
    arguments: [
      "DATABASE_PASSWORD", "PROM_TOKEN", "client_secret", "API_KEY", "SLACK_WEBHOOK", "DB_PASSWD",
      "AUTH_HEADER", "db.pass", "x-pwd", "apikey", "AWS_CREDENTIALS", "session-cookie", "SENTRY_DSN",
      "private.key", "PGPASSWORD",
    ])
  func secretNames(name: String) {
    #expect(Redaction.isSecretName(name))
  }

  @Test(
    "ordinary names are not secret",
    arguments: ["DATABASE_HOST", "NODE_ENV", "PORT", "MONKEY_MODE", "KEYBOARD", "PASSENGER_COUNT", "AUTHOR"])
  func ordinaryNames(name: String) {
    #expect(!Redaction.isSecretName(name))
  }

  @Test("environment maps mask secret values only")
  func environment() {
    #expect(
      Redaction.environment(["PG_PASSWORD": "x", "PGHOST": "db"]) == ["PG_PASSWORD": "****", "PGHOST": "db"])
  }

  @Test("endpoint shows host and port only")
  func endpoint() {
    #expect(Redaction.endpoint(of: "http://u:p@127.0.0.1:9090/api?token=x") == "127.0.0.1:9090")
    #expect(Redaction.endpoint(of: "https://prom.example.com/") == "prom.example.com:443")
    #expect(Redaction.endpoint(of: "http://[::1]:9090") == "[::1]:9090")
  }

  @Test("secrets in a URL are found decoded and raw")
  func secretsInURL() {
    #expect(
      Redaction.secretsInURL("postgresql://u:p%40ss@h/db?sslpassword=k")
        == ["p@ss", "p%40ss", "k"])
  }

  @Test("a secret is masked lower-cased, upper-cased and JSON-escaped too")
  func secretForms() {
    let secret = "Hunter2/\"Quote\\"
    let echoed = "FATAL: role \"hunter2/\"quote\\\" does not exist"
    #expect(Redaction.secrets([secret], in: echoed) == "FATAL: role \"****\" does not exist")
    #expect(Redaction.secrets([secret], in: "upper HUNTER2/\"QUOTE\\ here") == "upper **** here")
    let journalled = JSONValue.object([("error", .string("bad \(secret)"))]).rendered()
    #expect(journalled == #"{"error":"bad Hunter2/\"Quote\\"}"#)
    #expect(Redaction.secrets([secret], in: journalled) == #"{"error":"bad ****"}"#)
    #expect(Redaction.secrets([secret], in: #"{"e":"Hunter2\/\"Quote\\"}"#) == #"{"e":"****"}"#)
  }

  @Test("Authorization, Proxy-Authorization, Cookie and X-Api-Key values are masked as text and as JSON")
  func secretHeaders() {
    #expect(
      Redaction.text("sent Authorization: Basic c3ZjOnB3\nnext") == "sent Authorization: Basic ****\nnext")
    #expect(Redaction.text("proxy-authorization: Bearer abc.def") == "proxy-authorization: Bearer ****")
    #expect(Redaction.text("Cookie: session=abc; theme=dark") == "Cookie: ****")
    #expect(
      Redaction.text(#"{"X-Api-Key": "k-123", "Accept": "json"}"#)
        == #"{"X-Api-Key": "****", "Accept": "json"}"#)
    #expect(
      Redaction.text(#"{"detail":"GET with Authorization: tok-1","x":1}"#)
        == #"{"detail":"GET with Authorization: ****","x":1}"#)
    #expect(Redaction.text("Content-Type: text/plain") == "Content-Type: text/plain")
    #expect(Redaction.text("with Cookie: ****; Accept: json") == "with Cookie: ****; Accept: json")
  }
}
