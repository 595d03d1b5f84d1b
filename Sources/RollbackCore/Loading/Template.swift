import Foundation

/// A string with `${…}` placeholders, parsed once and resolved per environment.
///
/// `${name}` takes an environment variable of the runbook (`environments.<env>.vars`),
/// `${env.NAME}` the process environment (`${env.NAME:-default}` when unset),
/// `${secret.NAME}` the process environment but shown as `****`, and `${run.FIELD}`
/// a fact of the running execution. `$${` writes a literal `${`.
public struct Template: Sendable, Equatable {
  /// One piece of a template.
  public enum Part: Sendable, Equatable {
    /// Text taken as written.
    case literal(String)
    /// `${name}`: a runbook variable.
    case variable(String)
    /// `${env.NAME}` or `${env.NAME:-default}`.
    case environment(String, fallback: String?)
    /// `${secret.NAME}`.
    case secret(String)
    /// `${run.FIELD}`.
    case run(String)
    /// `${host.FIELD}`: a fact of the host a host-scoped step runs on.
    case host(String)
  }

  /// The fields `${host.FIELD}` may name.
  public static let hostFields = ["name", "ssh", "address"]

  /// The fields `${run.FIELD}` may name.
  public static let runFields = [
    "id", "runbook", "environment", "level", "scenario", "started_at", "elapsed", "status", "target",
  ]

  /// The text as written.
  public var raw: String
  /// The parsed pieces.
  public var parts: [Part]
  /// Where the text starts.
  public var location: SourceLocation
  /// For a path: the directory a relative result is taken against (a flag's `files:` are
  /// relative to the runbook's directory, not to where the command runs); nil for other text.
  public var relativeTo: String? = nil

  /// A template without placeholders.
  public init(literal: String, at location: SourceLocation) {
    raw = literal
    parts = literal.isEmpty ? [] : [.literal(literal)]
    self.location = location
  }

  /// Parses `raw`, reporting malformed placeholders into `bag`.
  public init(
    parsing raw: String, at location: SourceLocation, contentOffset: Int = 0, into bag: inout DiagnosticBag
  ) {
    self.raw = raw
    self.location = location
    var parts: [Part] = []
    var literal = ""
    let scalars = Array(raw.unicodeScalars)
    var index = 0
    func place(_ offset: Int) -> SourceLocation { location.advanced(by: contentOffset + offset) }
    while index < scalars.count {
      let scalar = scalars[index]
      if scalar == "$", index + 2 < scalars.count, scalars[index + 1] == "$", scalars[index + 2] == "{" {
        literal += "${"
        index += 3
        continue
      }
      guard scalar == "$", index + 1 < scalars.count, scalars[index + 1] == "{" else {
        literal.unicodeScalars.append(scalar)
        index += 1
        continue
      }
      let start = index
      guard let close = scalars[(index + 2)...].firstIndex(of: "}") else {
        bag.error(
          place(start), "unterminated '${' in '\(raw)'; close it with '}' or write '$${' for a literal '${'")
        literal += String(String.UnicodeScalarView(scalars[start...]))
        break
      }
      let body = String(String.UnicodeScalarView(scalars[(index + 2)..<close]))
      index = close + 1
      if !literal.isEmpty {
        parts.append(.literal(literal))
        literal = ""
      }
      if let part = Self.part(body, at: place(start), into: &bag) { parts.append(part) }
    }
    if !literal.isEmpty { parts.append(.literal(literal)) }
    self.parts = parts
  }

  private static func isName(_ text: Substring) -> Bool {
    guard let first = text.unicodeScalars.first, first.properties.isAlphabetic || first == "_" else {
      return false
    }
    return text.unicodeScalars.allSatisfy {
      $0.isASCII && ($0.properties.isAlphabetic || $0 == "_" || ("0"..."9").contains($0))
    }
  }

  private static func part(_ body: String, at location: SourceLocation, into bag: inout DiagnosticBag)
    -> Part?
  {
    if body.hasPrefix("env.") {
      let rest = body.dropFirst(4)
      let (name, fallback): (Substring, String?)
      if let range = rest.range(of: ":-") {
        (name, fallback) = (rest[..<range.lowerBound], String(rest[range.upperBound...]))
      } else {
        (name, fallback) = (rest, nil)
      }
      guard isName(name) else {
        bag.error(
          location,
          "'${\(body)}' does not name an environment variable; write '${env.NAME}' or '${env.NAME:-default}'")
        return nil
      }
      return .environment(String(name), fallback: fallback)
    }
    if body.hasPrefix("secret.") {
      let name = body.dropFirst(7)
      guard isName(name) else {
        bag.error(location, "'${\(body)}' does not name an environment variable; write '${secret.NAME}'")
        return nil
      }
      return .secret(String(name))
    }
    if body.hasPrefix("run.") {
      let field = String(body.dropFirst(4))
      guard runFields.contains(field) else {
        bag.error(
          location,
          "unknown run field '\(field)'\(Suggest.hint(for: field, in: runFields)) (fields: \(runFields.joined(separator: ", ")))"
        )
        return nil
      }
      return .run(field)
    }
    if body.hasPrefix("host.") {
      let field = String(body.dropFirst(5))
      guard hostFields.contains(field) else {
        bag.error(
          location,
          "unknown host field '\(field)'\(Suggest.hint(for: field, in: hostFields)) (fields: \(hostFields.joined(separator: ", ")))"
        )
        return nil
      }
      return .host(field)
    }
    guard isName(Substring(body)) else {
      bag.error(
        location,
        "'${\(body)}' is not a variable reference; write '${name}', '${env.NAME}' or '${secret.NAME}'")
      return nil
    }
    return .variable(body)
  }

  /// The `${host.FIELD}` fields the template names.
  public var hostFieldsUsed: [String] {
    parts.compactMap { if case .host(let field) = $0 { return field } else { return nil } }
  }

  /// The runbook variables the template names.
  public var variables: [String] {
    parts.compactMap { if case .variable(let name) = $0 { return name } else { return nil } }
  }

  /// Whether the template has no placeholders.
  public var isLiteral: Bool {
    parts.allSatisfy { if case .literal = $0 { return true } else { return false } }
  }
}

/// A resolved string: the value to use and the text that may be shown.
public struct ResolvedText: Sendable, Equatable {
  /// The value with every placeholder replaced (secrets only when resolving secrets).
  public var value: String
  /// The value with every secret shown as `****`.
  public var display: String
  /// Whether any part of it is secret.
  public var hasSecret: Bool

  /// Creates a resolved text.
  public init(value: String, display: String, hasSecret: Bool) {
    self.value = value
    self.display = display
    self.hasSecret = hasSecret
  }
}

/// What placeholders resolve against.
public struct InterpolationContext: Sendable {
  /// The selected environment's variables, already resolved.
  public var variables: [String: ResolvedText]
  /// The process environment.
  public var processEnvironment: [String: String]
  /// Run facts for `${run.FIELD}`; when nil they stay as written.
  public var run: [String: String]?
  /// Facts of the host a host-scoped step runs on, for `${host.FIELD}`; nil on the control machine.
  public var host: [String: String]? = nil
  /// Whether `${secret.NAME}` takes the real value (execution) or `****` (plans, dry runs).
  public var resolveSecrets: Bool
  /// The environment's name, for messages.
  public var environmentName: String

  /// Creates a context.
  public init(
    variables: [String: ResolvedText], processEnvironment: [String: String], run: [String: String]? = nil,
    resolveSecrets: Bool, environmentName: String
  ) {
    self.variables = variables
    self.processEnvironment = processEnvironment
    self.run = run
    self.resolveSecrets = resolveSecrets
    self.environmentName = environmentName
  }

  /// Whether a variable name marks its value as secret; see ``SecretName/isSecret(_:)``.
  public static func isSecretName(_ name: String) -> Bool { SecretName.isSecret(name) }

  /// Resolves a template; problems go to `bag` at the template's location.
  public func resolve(_ template: Template, into bag: inout DiagnosticBag) -> ResolvedText {
    var value = ""
    var display = ""
    var secret = false
    for part in template.parts {
      let resolved = resolve(part, at: template.location, into: &bag)
      value += resolved.value
      display += resolved.display
      secret = secret || resolved.hasSecret
    }
    if let base = template.relativeTo, !base.isEmpty, !value.isEmpty, !value.hasPrefix("/") {
      let prefix = base.hasSuffix("/") ? base : base + "/"
      value = prefix + value
      display = prefix + display
    }
    return ResolvedText(value: value, display: display, hasSecret: secret)
  }

  /// One part of a template: what it adds to the value and to the display; a part that cannot
  /// be resolved adds a problem to `bag` (an unknown variable stays as written).
  func resolve(_ part: Template.Part, at location: SourceLocation, into bag: inout DiagnosticBag)
    -> ResolvedText
  {
    switch part {
    case .literal(let text):
      return ResolvedText(value: text, display: text, hasSecret: false)
    case .variable(let name):
      guard let resolved = variables[name] else {
        bag.error(
          location,
          "unknown variable '\(name)' in environment '\(environmentName)'"
            + Suggest.hint(for: name, in: Array(variables.keys)))
        return ResolvedText(value: "${\(name)}", display: "${\(name)}", hasSecret: false)
      }
      return resolved
    case .environment(let name, let fallback):
      return resolveEnvironment(name, fallback: fallback, at: location, into: &bag)
    case .secret(let name):
      guard resolveSecrets else { return ResolvedText(value: "****", display: "****", hasSecret: true) }
      guard let found = processEnvironment[name] else {
        bag.error(location, "secret \(name) is not set in the environment; export it and retry")
        return ResolvedText(value: "", display: "****", hasSecret: true)
      }
      return ResolvedText(value: found, display: "****", hasSecret: true)
    case .run(let field):
      let text = run?[field] ?? "${run.\(field)}"
      return ResolvedText(value: text, display: text, hasSecret: false)
    case .host(let field):
      // As written when no host is given; plans resolve it per host (Resolver.on(_:)).
      let text = host?[field] ?? "${host.\(field)}"
      return ResolvedText(value: text, display: text, hasSecret: false)
    }
  }

  /// `${env.NAME}` or `${env.NAME:-default}`; a secret-looking name is masked in the display.
  func resolveEnvironment(
    _ name: String, fallback: String?, at location: SourceLocation, into bag: inout DiagnosticBag
  ) -> ResolvedText {
    // Like the shell's ${NAME:-default}: an empty value takes the default too.
    let set = processEnvironment[name].flatMap { $0.isEmpty && fallback != nil ? nil : $0 }
    guard let found = set ?? fallback else {
      bag.error(
        location, "environment variable \(name) is not set; set it or write '${env.\(name):-default}'")
      return ResolvedText(value: "", display: "", hasSecret: false)
    }
    if Self.isSecretName(name) { return ResolvedText(value: found, display: "****", hasSecret: true) }
    return ResolvedText(value: found, display: found, hasSecret: false)
  }
}
