/// The one rule for which names hold secrets, used by plans, journals, output and children.
///
/// A name is split into words at `_`, `-` and `.`; it is secret when a word, in any case, is
/// one of ``words`` (`API_KEY` yes, `MONKEY_MODE` no), or when it is one of ``names``. Header
/// values of ``headers`` are secret wherever they appear.
public enum SecretName {
  /// The words that make a name secret.
  public static let words: Set<String> = [
    "PASSWORD", "PASSWD", "PASS", "PWD", "TOKEN", "SECRET", "KEY", "APIKEY", "CREDENTIAL", "CREDENTIALS",
    "AUTH", "COOKIE", "WEBHOOK", "DSN", "PRIVATE",
  ]

  /// Well-known names that are secret although none of their words is in ``words``
  /// (libpq's password variable is one word).
  public static let names: Set<String> = ["PGPASSWORD"]

  /// Header names (lowercase) whose values are always secret.
  public static let headers: Set<String> = ["authorization", "proxy-authorization", "cookie", "x-api-key"]

  /// Whether a variable, parameter or environment name holds a secret.
  public static func isSecret(_ name: some StringProtocol) -> Bool {
    names.contains(name.uppercased())
      || name.split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == "." }).contains {
        words.contains($0.uppercased())
      }
  }

  /// Whether a header's value is secret: an always-secret header, or a secret name.
  public static func isSecretHeader(_ name: some StringProtocol) -> Bool {
    headers.contains(name.lowercased()) || isSecret(name)
  }
}
