import Foundation

/// Removes secrets from text before it is printed, journalled or put in an error.
///
/// Every function is pure and safe to call on any text: input without secrets comes
/// back unchanged. The mask is always ``mask`` (`****`).
public enum Redaction {
  /// The text that replaces a secret.
  public static let mask = "****"

  /// Masks the password in every URL userinfo (`user:pass@` becomes `user:****@`) and the
  /// values of secret-looking query parameters (`?token=abc` becomes `?token=****`).
  ///
  /// Works on a bare URL and on free text that contains URLs.
  public static func urls(in text: String) -> String {
    var result = maskUserinfoPasswords(in: text)
    result = maskSecretQueryValues(in: result)
    return result
  }

  /// Masks `password=…` pairs in a libpq conninfo string (quoted or not) and in URL
  /// query strings (`?password=…`).
  public static func conninfo(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.count)
    var rest = Substring(text)
    while let range = rest.range(of: "password", options: .caseInsensitive) {
      result += rest[..<range.lowerBound]
      result += rest[range]
      var cursor = range.upperBound
      while cursor < rest.endIndex, rest[cursor] == " " || rest[cursor] == "\t" {
        cursor = rest.index(after: cursor)
      }
      guard cursor < rest.endIndex, rest[cursor] == "=" else {
        rest = rest[range.upperBound...]
        continue
      }
      cursor = rest.index(after: cursor)
      while cursor < rest.endIndex, rest[cursor] == " " || rest[cursor] == "\t" {
        cursor = rest.index(after: cursor)
      }
      result += "=" + mask
      rest = rest[endOfConninfoValue(in: rest, from: cursor)...]
    }
    result += rest
    return result
  }

  /// Replaces every occurrence of each non-empty secret with ``mask``, longest secret first.
  public static func secrets(_ secrets: [String], in text: String) -> String {
    let ordered = Set(secrets.filter { !$0.isEmpty }).sorted { $0.count > $1.count }
    var result = text
    for secret in ordered {
      result = result.replacingOccurrences(of: secret, with: mask)
    }
    return result
  }

  /// Applies every redaction: the given secrets, URL userinfo and query secrets, and
  /// conninfo passwords. Use this on any text that came from outside (error messages,
  /// response excerpts, command output) before showing it.
  public static func text(_ text: String, secrets list: [String] = []) -> String {
    conninfo(urls(in: secrets(list, in: text)))
  }

  /// Whether a variable or parameter name should be treated as holding a secret: it
  /// contains PASSWORD, PASSWD, TOKEN, SECRET, KEY, WEBHOOK or CREDENTIAL (any case).
  public static func isSecretName(_ name: String) -> Bool {
    let upper = name.uppercased()
    return secretNameParts.contains { upper.contains($0) }
  }

  /// Returns a copy of an environment-style map whose values are masked wherever the
  /// key is a secret name (see ``isSecretName(_:)``).
  public static func environment(_ variables: [String: String]) -> [String: String] {
    var result: [String: String] = [:]
    for (key, value) in variables {
      result[key] = isSecretName(key) ? mask : value
    }
    return result
  }

  /// The `host:port` part of a URL, for error messages that must name the server but
  /// nothing else (no userinfo, path or query). Falls back to a redacted URL.
  public static func endpoint(of url: String) -> String {
    guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
      return urls(in: url)
    }
    // An IPv6 literal needs brackets; Foundation returns them on some platforms only.
    let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    if let port = components.port {
      return "\(shownHost):\(port)"
    }
    switch components.scheme?.lowercased() {
    case "https": return "\(shownHost):443"
    case "http": return "\(shownHost):80"
    default: return shownHost
    }
  }

  /// Secret strings that a URL carries: the decoded and the raw userinfo password, and
  /// the values of secret-looking query parameters. Feed these to ``secrets(_:in:)``.
  public static func secretsInURL(_ url: String) -> [String] {
    guard let components = URLComponents(string: url) else { return [] }
    var found: [String] = []
    if let password = components.password, !password.isEmpty { found.append(password) }
    if let password = components.percentEncodedPassword, !password.isEmpty { found.append(password) }
    for item in components.queryItems ?? [] where isSecretName(item.name) {
      if let value = item.value, !value.isEmpty { found.append(value) }
    }
    return found
  }

  // MARK: - Internals

  private static let secretNameParts = [
    "PASSWORD", "PASSWD", "TOKEN", "SECRET", "KEY", "WEBHOOK", "CREDENTIAL", "AUTH", "SIGNATURE",
  ]

  /// Finds `scheme://user:password@` and masks the password.
  private static func maskUserinfoPasswords(in text: String) -> String {
    var result = ""
    var rest = Substring(text)
    while let schemeEnd = rest.range(of: "://") {
      result += rest[..<schemeEnd.upperBound]
      rest = rest[schemeEnd.upperBound...]
      // The authority ends at the first '/', '?', '#' or whitespace.
      let authorityEnd =
        rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" || $0.isWhitespace || $0 == "\"" }
        ?? rest.endIndex
      let authority = rest[..<authorityEnd]
      if let at = authority.lastIndex(of: "@") {
        let userinfo = authority[..<at]
        if let colon = userinfo.firstIndex(of: ":") {
          result += userinfo[..<colon] + ":" + mask
        } else {
          result += userinfo
        }
        result += authority[at...]
      } else {
        result += authority
      }
      rest = rest[authorityEnd...]
    }
    result += rest
    return result
  }

  /// Masks `name=value` after `?` or `&` when the name looks secret.
  private static func maskSecretQueryValues(in text: String) -> String {
    var result = ""
    var rest = Substring(text)
    while let separator = rest.firstIndex(where: { $0 == "?" || $0 == "&" }) {
      result += rest[...separator]
      rest = rest[rest.index(after: separator)...]
      let nameEnd =
        rest.firstIndex { $0 == "=" || $0 == "&" || $0 == "#" || $0.isWhitespace } ?? rest.endIndex
      let name = rest[..<nameEnd]
      guard nameEnd < rest.endIndex, rest[nameEnd] == "=", !name.isEmpty,
        isSecretName(name.removingPercentEncoding ?? String(name))
      else { continue }
      result += name + "=" + mask
      let valueStart = rest.index(after: nameEnd)
      let valueEnd =
        rest[valueStart...].firstIndex { $0 == "&" || $0 == "#" || $0.isWhitespace || $0 == "\"" }
        ?? rest.endIndex
      rest = rest[valueEnd...]
    }
    result += rest
    return result
  }

  /// The end of a conninfo value starting at `start`: a single-quoted value with `\`
  /// escapes, or a run of non-space characters.
  private static func endOfConninfoValue(in text: Substring, from start: Substring.Index) -> Substring.Index {
    guard start < text.endIndex else { return start }
    if text[start] == "'" {
      var cursor = text.index(after: start)
      while cursor < text.endIndex {
        if text[cursor] == "\\" {
          cursor = text.index(after: cursor)
          if cursor < text.endIndex { cursor = text.index(after: cursor) }
          continue
        }
        if text[cursor] == "'" { return text.index(after: cursor) }
        cursor = text.index(after: cursor)
      }
      return text.endIndex
    }
    return text[start...].firstIndex { $0.isWhitespace || $0 == "&" || $0 == "\"" } ?? text.endIndex
  }
}
