import Foundation
import RollbackCore

/// A health check asked from a host itself (`health: {via: host}`): `curl` run there over the
/// host's ssh master, the URL and the timeouts passed as data (positional arguments of a fixed
/// script), never spliced into it.
extension RemoteHost {
  /// `curl` with `$1` the whole timeout, `$2` the connect timeout (seconds), `$3` the method and
  /// `$4` the URL; only http and https (redirects not followed), no `.curlrc` (`-q`), the status
  /// code on a last line of its own.
  static let curlScript = """
    exec curl -q -sS --proto =http,https --max-time "$1" --connect-timeout "$2" -X "$3" \
    -o - -w '\\n%{http_code}' --url "$4"
    """

  /// Sends `request` from the host with `curl`, bounded by the request's timeout (the ssh
  /// action gets five seconds more, so curl's own limit answers first). The body is read as
  /// lines (line ends become `\n`).
  public func requestFromHost(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
    let total = max(0.1, request.timeout.doubleSeconds)
    let connect = max(0.1, min(total, request.connectTimeout.doubleSeconds))
    let started = ContinuousClock.now
    let output: SSHOutput
    do {
      output = try await transport.execute(
        on: host, script: Self.curlScript,
        arguments: [Self.seconds(total), Self.seconds(connect), request.method, request.url],
        timeout: request.timeout + .seconds(5), stdoutLimit: request.maxBodyBytes + 16)
    } catch {
      if Task.isCancelled { throw .cancelled }
      if case .timedOut = error { throw .timeout(after: request.timeout) }
      throw .other(code: -1, message: "\(host.name): \(error.description)")
    }
    if output.exitCode != 0 { throw Self.curlError(output, request: request, host: host.name) }
    var lines = output.stdout
    guard let last = lines.popLast(), let status = Int(last), status > 0 else {
      throw .other(code: -1, message: "\(host.name): curl gave no HTTP status")
    }
    let body = Data(lines.joined(separator: "\n").utf8)
    if output.stdoutTruncated || body.count > request.maxBodyBytes {
      throw .bodyTooLarge(limit: request.maxBodyBytes)
    }
    return HTTPResponse(status: status, headers: [], body: body, totalTime: ContinuousClock.now - started)
  }

  /// A duration in seconds as curl reads it (`2.5`).
  static func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

  /// What curl's exit status says, as the control machine's client would say it.
  static func curlError(_ output: SSHOutput, request: HTTPRequest, host: String) -> HTTPError {
    let said = output.stderr.split(separator: "\n").last.map(String.init) ?? ""
    switch output.exitCode {
    case 7: return .connectionRefused(url: request.url)
    case 28: return .timeout(after: request.timeout)
    case 6: return .couldNotResolve(host: URL(string: request.url)?.host ?? request.url)
    case 127: return .other(code: 127, message: "\(host): curl is not installed")
    default: return .other(code: Int(output.exitCode), message: "\(host): \(said)")
    }
  }
}
