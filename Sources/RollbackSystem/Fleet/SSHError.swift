/// Why a remote action on a host did not succeed. Every case names the host.
public enum SSHError: Error, Sendable, Equatable, CustomStringConvertible {
  /// ssh could not reach the host (connection refused or timed out, no route, unknown name,
  /// connection closed before authentication). The host counts as failed.
  case unreachable(host: String, detail: String)
  /// The host's key is not the one known_hosts pins (or is unknown): ssh refused to connect.
  case hostKeyMismatch(host: String, detail: String)
  /// The host refused every key or method offered (BatchMode never prompts).
  case authenticationFailed(host: String, detail: String)
  /// The action did not finish within its timeout; ssh's process group was killed.
  case timedOut(host: String, after: Duration)
  /// The remote command ran and exited non-zero. `stderr` is the redacted tail.
  case remoteFailed(host: String, exitCode: Int32, stderr: String)
  /// ssh itself failed for another reason (exit 255), or could not be started.
  case sshFailed(host: String, detail: String)
  /// The local control directory for connection sharing could not be made.
  case controlDirectory(detail: String)

  /// The host the error is about ("" for ``controlDirectory(detail:)``).
  public var host: String {
    switch self {
    case .unreachable(let host, _), .hostKeyMismatch(let host, _), .authenticationFailed(let host, _),
      .timedOut(let host, _), .remoteFailed(let host, _, _), .sshFailed(let host, _):
      return host
    case .controlDirectory: return ""
    }
  }

  /// A lowercase message naming the host and what to do.
  public var description: String {
    switch self {
    case .unreachable(let host, let detail):
      return "\(host): unreachable over ssh (\(detail))"
    case .hostKeyMismatch(let host, let detail):
      return
        "\(host): host key verification failed — the host's key is not the one in known_hosts "
        + "(it changed, or the host is not who it claims to be); nothing was run there. Check the key "
        + "with the host's owner, then update known_hosts (\(detail))"
    case .authenticationFailed(let host, let detail):
      return "\(host): ssh authentication failed (\(detail)); check the key or agent for this host"
    case .timedOut(let host, let after):
      return "\(host): no answer over ssh within \(after.compactText); ssh was stopped"
    case .remoteFailed(let host, let exitCode, let stderr):
      let tail = stderr.isEmpty ? "" : ": \(stderr)"
      return "\(host): remote command failed with exit \(exitCode)\(tail)"
    case .sshFailed(let host, let detail):
      return "\(host): ssh failed: \(detail)"
    case .controlDirectory(let detail):
      return "cannot create the ssh control directory: \(detail)"
    }
  }

  /// Classifies ssh's own failure (exit 255) from its stderr; nil when the text is not one of
  /// ssh's connection messages (then exit 255 is the remote command's own status).
  static func classify(host: String, stderr: String) -> SSHError? {
    let lines = stderr.split(whereSeparator: \.isNewline).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    let last = lines.last(where: { !$0.isEmpty && !$0.hasPrefix("@") }) ?? ""
    let detail = String(last.prefix(300))
    if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
      || stderr.contains("Host key verification failed")
      || stderr.contains("No ED25519 host key is known") || stderr.contains("host key is known for")
    {
      return .hostKeyMismatch(host: host, detail: detail)
    }
    if stderr.contains("Permission denied (") || stderr.contains("Too many authentication failures") {
      return .authenticationFailed(host: host, detail: detail)
    }
    let unreachable = [
      "Connection refused", "Connection timed out", "timed out during banner exchange",
      "No route to host", "Network is unreachable", "Could not resolve hostname",
      "Name or service not known", "Connection reset", "Connection closed by",
      "kex_exchange_identification", "Operation timed out", "Broken pipe",
    ]
    if unreachable.contains(where: { stderr.contains($0) }) {
      return .unreachable(host: host, detail: detail)
    }
    return nil
  }
}
