import CCurl
import Foundation

/// Sends HTTP requests over libcurl, one easy handle per request, each on its own
/// thread (see ``BlockingExecutor``).
///
/// Safe defaults, not configurable: only `http` and `https` (redirects are not
/// followed), TLS verification on, no signals (`CURLOPT_NOSIGNAL`), SIGPIPE ignored,
/// a capped response body and a timeout on every request. An HTTP error status is a
/// response, not an error.
public struct HTTPClient: Sendable {
  /// Creates a client. It holds no state; copies are cheap.
  public init() {}

  /// Sends `request` and returns the response, whatever its status.
  ///
  /// - Throws: ``HTTPError`` when no response arrives: refused, timed out, unresolved,
  ///   TLS failure, body over the cap, invalid request, cancelled.
  public func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
    try await BlockingExecutor.run(name: "rollback.curl") { (flag) throws(HTTPError) -> HTTPResponse in
      try CurlTransfer.perform(request, cancellation: flag)
    }
  }
}

/// `curl_global_init` and the SIGPIPE disposition, done once per process.
private let curlGlobalInitResult: CURLcode = {
  signal(SIGPIPE, SIG_IGN)
  return rollback_curl_global_init_default()
}()

/// The mutable state of one transfer, reached from libcurl's callbacks. Only the
/// transfer's own thread touches it.
private final class CurlTransferState {
  let maxBodyBytes: Int
  let cancellation: CancellationFlag
  var body = Data()
  var headers: [HTTPHeader] = []
  var exceededBodyCap = false

  init(maxBodyBytes: Int, cancellation: CancellationFlag) {
    self.maxBodyBytes = maxBodyBytes
    self.cancellation = cancellation
  }
}

/// The synchronous libcurl transfer behind ``HTTPClient``.
private enum CurlTransfer {
  /// The most header fields kept from one response.
  static let maxHeaderFields = 200

  static func perform(_ request: HTTPRequest, cancellation: CancellationFlag) throws(HTTPError)
    -> HTTPResponse
  {
    try validate(request)
    guard curlGlobalInitResult == CURLE_OK else {
      throw .other(code: Int(curlGlobalInitResult.rawValue), message: "libcurl failed to initialise")
    }
    guard let handle = curl_easy_init() else {
      throw .other(code: Int(CURLE_FAILED_INIT.rawValue), message: "libcurl could not create a handle")
    }
    defer { curl_easy_cleanup(handle) }

    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    defer { errorBuffer.deallocate() }

    var headerList: UnsafeMutablePointer<curl_slist>?
    defer { curl_slist_free_all(headerList) }
    for header in request.headers {
      headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
    }
    // No `Expect: 100-continue` round trip for bodies.
    headerList = curl_slist_append(headerList, "Expect:")

    let state = CurlTransferState(maxBodyBytes: request.maxBodyBytes, cancellation: cancellation)
    let context = Unmanaged.passUnretained(state).toOpaque()

    try configure(
      handle, request: request, errorBuffer: errorBuffer, headerList: headerList, context: context)

    let code = withExtendedLifetime(state) { curl_easy_perform(handle) }
    guard code == CURLE_OK else {
      throw error(for: code, handle: handle, request: request, state: state, errorBuffer: errorBuffer)
    }

    var status = 0
    _ = rollback_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
    var totalSeconds = 0.0
    _ = rollback_curl_easy_getinfo_double(handle, CURLINFO_TOTAL_TIME, &totalSeconds)
    return HTTPResponse(
      status: status,
      headers: state.headers,
      body: state.body,
      totalTime: .microseconds(Int64(totalSeconds * 1_000_000))
    )
  }

  /// Rejects requests libcurl should never see: other schemes, odd methods, header
  /// injection.
  private static func validate(_ request: HTTPRequest) throws(HTTPError) {
    let lowered = request.url.lowercased()
    guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://") else {
      throw .invalidRequest(
        reason: "url \(Redaction.urls(in: request.url)) must start with http:// or https://")
    }
    let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    guard !request.method.isEmpty, request.method.allSatisfy({ tokenCharacters.contains($0) }) else {
      throw .invalidRequest(reason: "http method \"\(request.method)\" is not a valid token")
    }
    for header in request.headers {
      guard !header.name.isEmpty, header.name.allSatisfy({ tokenCharacters.contains($0) }) else {
        throw .invalidRequest(reason: "header name \"\(header.name)\" is not a valid token")
      }
      // Unicode scalars, not Characters: "\r\n" is a single Character.
      guard !header.value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
        throw .invalidRequest(reason: "header \(header.name) contains a line break")
      }
    }
    guard request.maxBodyBytes >= 0 else {
      throw .invalidRequest(reason: "maxBodyBytes must not be negative")
    }
  }

  /// Applies every option for `request` to `handle`.
  private static func configure(
    _ handle: UnsafeMutableRawPointer,
    request: HTTPRequest,
    errorBuffer: UnsafeMutablePointer<CChar>,
    headerList: UnsafeMutablePointer<curl_slist>?,
    context: UnsafeMutableRawPointer
  ) throws(HTTPError) {
    try configureTransfer(handle, request: request, errorBuffer: errorBuffer, headerList: headerList)
    try configureMethod(handle, request: request)
    try configureCallbacks(handle, context: context)
  }

  /// The URL, the protocols allowed, the timeouts, the body cap and the headers.
  private static func configureTransfer(
    _ handle: UnsafeMutableRawPointer,
    request: HTTPRequest,
    errorBuffer: UnsafeMutablePointer<CChar>,
    headerList: UnsafeMutablePointer<curl_slist>?
  ) throws(HTTPError) {
    let timeoutMilliseconds = max(1, request.timeout.millisecondsRoundedUp)
    let connectMilliseconds = max(1, min(timeoutMilliseconds, request.connectTimeout.millisecondsRoundedUp))

    try check(rollback_curl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer), "ERRORBUFFER")
    try check(rollback_curl_easy_setopt_string(handle, CURLOPT_URL, request.url), "URL")
    try check(rollback_curl_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"), "PROTOCOLS_STR")
    try check(
      rollback_curl_easy_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"),
      "REDIR_PROTOCOLS_STR")
    try check(rollback_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
    try check(rollback_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds), "TIMEOUT_MS")
    try check(
      rollback_curl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectMilliseconds),
      "CONNECTTIMEOUT_MS")
    try check(
      rollback_curl_easy_setopt_off_t(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxBodyBytes)),
      "MAXFILESIZE_LARGE")
    try check(rollback_curl_easy_setopt_string(handle, CURLOPT_USERAGENT, "rollback"), "USERAGENT")
    try check(rollback_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList), "HTTPHEADER")
  }

  /// The callbacks that collect the body (up to its cap) and the headers, and stop a cancelled
  /// transfer; `context` is the transfer's ``CurlTransferState``.
  private static func configureCallbacks(_ handle: UnsafeMutableRawPointer, context: UnsafeMutableRawPointer)
    throws(HTTPError)
  {
    try check(
      rollback_curl_easy_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
        guard let context else { return 0 }
        let state = Unmanaged<CurlTransferState>.fromOpaque(context).takeUnretainedValue()
        let (length, overflow) = size.multipliedReportingOverflow(by: count)
        guard !overflow, state.body.count <= state.maxBodyBytes - length else {
          state.exceededBodyCap = true
          return 0
        }
        if let data, length > 0 {
          state.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: length)
        }
        return length
      },
      "WRITEFUNCTION")
    try check(rollback_curl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, context), "WRITEDATA")

    try check(
      rollback_curl_easy_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
        let length = size &* count
        guard let context, let data else { return length }
        let state = Unmanaged<CurlTransferState>.fromOpaque(context).takeUnretainedValue()
        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
          .trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
          // A new response (after a 100 Continue or a proxy CONNECT) starts over.
          state.headers.removeAll()
        } else if let colon = line.firstIndex(of: ":"), state.headers.count < CurlTransfer.maxHeaderFields {
          state.headers.append(
            HTTPHeader(
              name: String(line[..<colon]),
              value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return length
      },
      "HEADERFUNCTION")
    try check(rollback_curl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, context), "HEADERDATA")

    try check(
      rollback_curl_easy_setopt_xferinfo_callback(handle, CURLOPT_XFERINFOFUNCTION) { context, _, _, _, _ in
        guard let context else { return 0 }
        let state = Unmanaged<CurlTransferState>.fromOpaque(context).takeUnretainedValue()
        return state.cancellation.isCancelled ? 1 : 0
      },
      "XFERINFOFUNCTION")
    try check(rollback_curl_easy_setopt_pointer(handle, CURLOPT_XFERINFODATA, context), "XFERINFODATA")
    try check(rollback_curl_easy_setopt_long(handle, CURLOPT_NOPROGRESS, 0), "NOPROGRESS")
  }

  /// Sets the method and the body. libcurl copies the body (`COPYPOSTFIELDS`).
  private static func configureMethod(_ handle: UnsafeMutableRawPointer, request: HTTPRequest)
    throws(HTTPError)
  {
    let method = request.method.uppercased()
    if request.body != nil || method == "POST" {
      // A trailing zero keeps the buffer non-empty; the size excludes it.
      var bytes = [UInt8](request.body ?? Data())
      let size = bytes.count
      bytes.append(0)
      try check(
        rollback_curl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(size)),
        "POSTFIELDSIZE")
      let code = bytes.withUnsafeMutableBytes { buffer in
        rollback_curl_easy_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, buffer.baseAddress)
      }
      try check(code, "COPYPOSTFIELDS")
      if method != "POST" {
        try check(
          rollback_curl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method), "CUSTOMREQUEST")
      }
    } else if method == "GET" {
      try check(rollback_curl_easy_setopt_long(handle, CURLOPT_HTTPGET, 1), "HTTPGET")
    } else if method == "HEAD" {
      try check(rollback_curl_easy_setopt_long(handle, CURLOPT_NOBODY, 1), "NOBODY")
    } else {
      try check(
        rollback_curl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method), "CUSTOMREQUEST")
    }
  }

  /// Throws when a `curl_easy_setopt` call failed (an option this libcurl lacks).
  private static func check(_ code: CURLcode, _ option: String) throws(HTTPError) {
    guard code == CURLE_OK else {
      throw .other(
        code: Int(code.rawValue),
        message:
          "libcurl rejected option \(option): \(String(cString: curl_easy_strerror(code)).lowercased())")
    }
  }

  /// Maps a failed transfer to an ``HTTPError``.
  private static func error(
    for code: CURLcode,
    handle: UnsafeMutableRawPointer,
    request: HTTPRequest,
    state: CurlTransferState,
    errorBuffer: UnsafeMutablePointer<CChar>
  ) -> HTTPError {
    let redactedURL = Redaction.urls(in: request.url)
    let host = URLComponents(string: request.url)?.host ?? Redaction.endpoint(of: request.url)
    let secrets = Redaction.secretsInURL(request.url)
    var message = String(cString: errorBuffer)
    if message.isEmpty { message = String(cString: curl_easy_strerror(code)) }
    message = Redaction.text(message, secrets: secrets)
    if let first = message.first { message = first.lowercased() + message.dropFirst() }

    switch code {
    case CURLE_COULDNT_CONNECT:
      return .connectionRefused(url: redactedURL)
    case CURLE_OPERATION_TIMEDOUT:
      var connectSeconds = 0.0
      _ = rollback_curl_easy_getinfo_double(handle, CURLINFO_CONNECT_TIME, &connectSeconds)
      let connectPhase = connectSeconds == 0 && request.connectTimeout < request.timeout
      return .timeout(after: connectPhase ? request.connectTimeout : request.timeout)
    case CURLE_COULDNT_RESOLVE_HOST:
      return .couldNotResolve(host: host)
    case CURLE_WRITE_ERROR where state.exceededBodyCap, CURLE_FILESIZE_EXCEEDED:
      return .bodyTooLarge(limit: request.maxBodyBytes)
    case CURLE_ABORTED_BY_CALLBACK where state.cancellation.isCancelled:
      return .cancelled
    case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
      return .invalidRequest(reason: "url \(redactedURL): \(message)")
    case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
      CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
      CURLE_SSL_INVALIDCERTSTATUS,
      CURLE_SSL_CLIENTCERT, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
      CURLE_SSL_ENGINE_INITFAILED,
      CURLE_SSL_CRL_BADFILE, CURLE_SSL_SHUTDOWN_FAILED:
      return .tls(host: host, message: message)
    default:
      return .other(code: Int(code.rawValue), message: message)
    }
  }
}
