import Foundation

/// One HTTP header field.
public struct HTTPHeader: Sendable, Equatable {
  /// The field name, as sent or received (compare case-insensitively).
  public var name: String
  /// The field value, without surrounding whitespace.
  public var value: String

  /// Creates a header field.
  public init(name: String, value: String) {
    self.name = name
    self.value = value
  }
}

/// An HTTP request for ``HTTPClient``.
public struct HTTPRequest: Sendable {
  /// The default cap on the response body: 8 MiB.
  public static let defaultMaxBodyBytes = 8 * 1024 * 1024

  /// The method, for example `GET` or `POST`.
  public var method: String
  /// The absolute `http://` or `https://` URL.
  public var url: String
  /// Header fields, sent in this order.
  public var headers: [HTTPHeader]
  /// The request body, if any. A `POST` without a body sends `Content-Length: 0`.
  public var body: Data?
  /// The limit for the whole transfer, connect included.
  public var timeout: Duration
  /// The limit for establishing the connection (TCP and TLS).
  public var connectTimeout: Duration
  /// The largest response body accepted; larger responses fail with
  /// ``HTTPError/bodyTooLarge(limit:)``.
  public var maxBodyBytes: Int

  /// Creates a request. The connect timeout defaults to the smaller of the timeout and 5 s.
  public init(
    method: String = "GET",
    url: String,
    headers: [HTTPHeader] = [],
    body: Data? = nil,
    timeout: Duration = .seconds(10),
    connectTimeout: Duration? = nil,
    maxBodyBytes: Int = HTTPRequest.defaultMaxBodyBytes
  ) {
    self.method = method
    self.url = url
    self.headers = headers
    self.body = body
    self.timeout = timeout
    self.connectTimeout = connectTimeout ?? min(timeout, .seconds(5))
    self.maxBodyBytes = maxBodyBytes
  }
}

/// The response to an ``HTTPRequest``. Any status is a response, not an error.
public struct HTTPResponse: Sendable {
  /// The HTTP status code, for example 200 or 503.
  public var status: Int
  /// The header fields of the final response, in the order received.
  public var headers: [HTTPHeader]
  /// The response body (at most the request's `maxBodyBytes`).
  public var body: Data
  /// The time the whole transfer took, as measured by libcurl.
  public var totalTime: Duration

  /// Creates a response value.
  public init(status: Int, headers: [HTTPHeader], body: Data, totalTime: Duration) {
    self.status = status
    self.headers = headers
    self.body = body
    self.totalTime = totalTime
  }

  /// The value of the first header named `name` (case-insensitive), if any.
  public func header(_ name: String) -> String? {
    headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
  }

  /// The body decoded as UTF-8 (invalid bytes replaced).
  public var bodyText: String {
    String(decoding: body, as: UTF8.self)
  }

  /// Whether the status is in 200...299.
  public var isSuccess: Bool { (200..<300).contains(status) }
}
