import Foundation
import RollbackCore

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
  ///
  /// Also catches a secret written in another case (a server may echo it lower-cased) and
  /// JSON-escaped (as a journal or a response body holds it).
  public static func secrets(_ secrets: [String], in text: String) -> String {
    var forms = Set<String>()
    for secret in secrets where !secret.isEmpty {
      forms.insert(secret)
      let escaped = String(JSONValue.string(secret).rendered().dropFirst().dropLast())
      forms.insert(escaped)
      forms.insert(escaped.replacingOccurrences(of: "/", with: "\\/"))
    }
    var result = text
    for form in forms.sorted(by: { $0.count > $1.count }) {
      result = result.replacingOccurrences(of: form, with: mask, options: .caseInsensitive)
    }
    return result
  }

  /// Applies every redaction: the given secrets, URL userinfo and query secrets, and
  /// conninfo passwords. Use this on any text that came from outside (error messages,
  /// response excerpts, command output) before showing it.
  public static func text(_ text: String, secrets list: [String] = []) -> String {
    secretHeaders(in: conninfo(urls(in: secrets(list, in: text))))
  }

  /// Masks the values of `Authorization`, `Proxy-Authorization`, `Cookie` and `X-Api-Key`
  /// headers (`Name: value` or JSON `"Name": "value"`) up to the end of the line or a quote
  /// (so a JSON line stays JSON), keeping an auth scheme word such as `Bearer`.
  public static func secretHeaders(in text: String) -> String {
    var result = ""
    var rest = Substring(text)
    while var valueStart = nextSecretHeader(in: rest) {
      result += rest[..<valueStart]
      // Already masked where it was made (`Cookie: ****; Accept: …`): the rest is not the value.
      if rest[valueStart...].hasPrefix(mask) {
        result += mask
        rest = rest[rest.index(valueStart, offsetBy: mask.count)...]
        continue
      }
      // Keep `Bearer ` / `Basic ` so the reader still sees which scheme was sent.
      let word = rest[valueStart...].prefix { $0.isLetter }
      if ["bearer", "basic", "token", "digest"].contains(word.lowercased()),
        rest[valueStart...].dropFirst(word.count).first == " "
      {
        result += word + " "
        valueStart = rest.index(valueStart, offsetBy: word.count + 1)
      }
      let end =
        rest[valueStart...].firstIndex { $0 == "\n" || $0 == "\r" || $0 == "\"" || $0 == "\\" }
        ?? rest.endIndex
      if end > valueStart { result += mask }
      rest = rest[end...]
    }
    result += rest
    return result
  }

  /// Where the value of the next secret header in `text` starts (after an opening quote in JSON).
  private static func nextSecretHeader(in text: Substring) -> Substring.Index? {
    var search = text[...]
    while let colon = search.firstIndex(of: ":") {
      var nameEnd = colon
      var quoted = false
      if nameEnd > text.startIndex, text[text.index(before: nameEnd)] == "\"" {
        nameEnd = text.index(before: nameEnd)
        quoted = true
      }
      let nameStart =
        text[..<nameEnd].lastIndex { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        .map { text.index(after: $0) } ?? text.startIndex
      let name = text[nameStart..<nameEnd]
      var cursor = text.index(after: colon)
      if !name.isEmpty, SecretName.headers.contains(name.lowercased()) {
        while cursor < text.endIndex, text[cursor] == " " || text[cursor] == "\t" {
          cursor = text.index(after: cursor)
        }
        if quoted {
          guard cursor < text.endIndex, text[cursor] == "\"" else {
            search = text[text.index(after: colon)...]
            continue
          }
          cursor = text.index(after: cursor)
        }
        return cursor
      }
      search = text[cursor...]
    }
    return nil
  }

  /// Whether a variable or parameter name should be treated as holding a secret; the one
  /// rule in ``SecretName/isSecret(_:)``.
  public static func isSecretName(_ name: String) -> Bool { SecretName.isSecret(name) }

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
    // libpq keys such as `sslpassword` too, as ``conninfo(_:)`` masks them.
    for item in components.queryItems ?? []
    where isSecretName(item.name) || item.name.lowercased().contains("password") {
      if let value = item.value, !value.isEmpty { found.append(value) }
    }
    return found
  }

  // MARK: - Internals

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
