import Foundation

/// Why an HTTP request produced no response.
///
/// An HTTP error status (404, 500, …) is not an ``HTTPError``: it arrives as an
/// ``HTTPResponse``. Stored URLs are already redacted; descriptions name only the
/// server's `host:port` and never contain userinfo or query values.
public enum HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Nothing accepted the connection (or the host is unreachable). The URL is redacted.
  case connectionRefused(url: String)
  /// The connection or the whole transfer took longer than the configured limit.
  case timeout(after: Duration)
  /// The host name does not resolve.
  case couldNotResolve(host: String)
  /// The TLS handshake or certificate verification failed.
  case tls(host: String, message: String)
  /// The response body exceeded the request's `maxBodyBytes`.
  case bodyTooLarge(limit: Int)
  /// The request cannot be sent: a malformed URL, a scheme other than http or https, an
  /// invalid method or header. The reason holds only redacted values.
  case invalidRequest(reason: String)
  /// The awaiting task was cancelled and the transfer stopped.
  case cancelled
  /// Any other libcurl failure, with its code and redacted message.
  case other(code: Int, message: String)

  /// A lowercase, actionable explanation without secrets.
  public var description: String {
    switch self {
    case .connectionRefused(let url):
      return
        "connection refused at \(Redaction.endpoint(of: url)): is the server running and listening there?"
    case .timeout(let after):
      return "timeout after \(after.compactText)"
    case .couldNotResolve(let host):
      return "could not resolve host \(host): check the host name and DNS"
    case .tls(let host, let message):
      return
        "tls error with \(host): \(message) (certificate verification stays on: fix the certificate or CA bundle)"
    case .bodyTooLarge(let limit):
      return "response larger than \(limit) bytes"
    case .invalidRequest(let reason):
      return "invalid http request: \(reason)"
    case .cancelled:
      return "request cancelled"
    case .other(let code, let message):
      return "http request failed (curl error \(code)): \(message)"
    }
  }
}
