import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A request as the loopback server received it.
struct HTTPLoopbackRequest: Sendable {
  var method: String
  var path: String
  var headers: [String: String]
  var body: Data

  /// The first header value named `name`, case-insensitively.
  func header(_ name: String) -> String? {
    headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
  }
}

/// What the loopback server does with one request.
enum HTTPLoopbackReply: Sendable {
  /// Answers with a status, headers and body (`Content-Length` set unless
  /// `omitLength`, in which case the body runs until the connection closes).
  case respond(status: Int, headers: [String: String] = [:], body: Data = Data(), omitLength: Bool = false)
  /// Reads the request and never answers, keeping the connection open until `stop()`.
  case hang
}

/// A tiny HTTP/1.1 server on 127.0.0.1 with a free port, for tests that need a server
/// the test controls. One connection at a time per accept loop iteration; each request
/// is handled on its own thread so a hanging reply never blocks the next one.
final class HTTPLoopbackServer: @unchecked Sendable {
  let port: Int
  private let listener: Int32
  private let handler: @Sendable (HTTPLoopbackRequest) -> HTTPLoopbackReply
  private let lock = NSLock()
  private var openConnections: [Int32] = []
  private var received: [HTTPLoopbackRequest] = []
  private var stopped = false

  /// The URL of the server's root, for example `http://127.0.0.1:40123`.
  var baseURL: String { "http://127.0.0.1:\(port)" }

  /// Every request received so far, in order.
  var requests: [HTTPLoopbackRequest] {
    lock.lock()
    defer { lock.unlock() }
    return received
  }

  init(handler: @escaping @Sendable (HTTPLoopbackRequest) -> HTTPLoopbackReply) throws {
    self.handler = handler
    let (descriptor, port) = try Self.openListener()
    listener = descriptor
    self.port = port
    let thread = Thread { [self] in acceptLoop() }
    thread.name = "loopback-http-accept"
    thread.start()
  }

  /// Convenience: every request gets the same reply.
  convenience init(reply: HTTPLoopbackReply) throws {
    try self.init { _ in reply }
  }

  /// Shuts the listener and every open connection down (hanging clients see EOF). The
  /// threads that own the descriptors close them, so a number is never reused under them.
  func stop() {
    lock.lock()
    defer { lock.unlock() }
    guard !stopped else { return }
    stopped = true
    shutdown(listener, Int32(SHUT_RDWR))
    for connection in openConnections {
      shutdown(connection, Int32(SHUT_RDWR))
    }
  }

  private func acceptLoop() {
    while true {
      let connection = accept(listener, nil, nil)
      if connection < 0 {
        if errno == EINTR { continue }
        close(listener)
        return
      }
      lock.lock()
      if stopped {
        lock.unlock()
        close(connection)
        continue
      }
      openConnections.append(connection)
      lock.unlock()
      let worker = Thread { [self] in
        serve(connection)
        lock.lock()
        openConnections.removeAll { $0 == connection }
        lock.unlock()
        close(connection)
      }
      worker.start()
    }
  }

  private func serve(_ connection: Int32) {
    guard let request = Self.readRequest(from: connection) else { return }
    lock.lock()
    received.append(request)
    lock.unlock()
    switch handler(request) {
    case .hang:
      // Wait for the client to give up or for stop(); either ends the read.
      var byte: UInt8 = 0
      while read(connection, &byte, 1) > 0 {}
    case .respond(let status, let headers, let body, let omitLength):
      var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nConnection: close\r\n"
      for (name, value) in headers { head += "\(name): \(value)\r\n" }
      if !omitLength { head += "Content-Length: \(body.count)\r\n" }
      head += "\r\n"
      var bytes = Data(head.utf8)
      bytes.append(body)
      Self.writeAll(bytes, to: connection)
      shutdown(connection, Int32(SHUT_WR))
      // Drain until the client closes, so it reads the whole response before our close.
      var byte: UInt8 = 0
      while read(connection, &byte, 1) > 0 {}
    }
  }

  /// A listening socket on 127.0.0.1 with a kernel-chosen port.
  static func openListener(listening: Bool = true) throws -> (Int32, Int) {
    #if canImport(Glibc)
      let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
      let descriptor = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard descriptor >= 0 else { throw HTTPLoopbackError.socket("socket", errno) }
    var yes: Int32 = 1
    if listening {
      setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, !listening || listen(descriptor, 64) == 0 else {
      close(descriptor)
      throw HTTPLoopbackError.socket("bind/listen", errno)
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    guard named == 0 else {
      close(descriptor)
      throw HTTPLoopbackError.socket("getsockname", errno)
    }
    return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
  }

  /// Reads the head and a `Content-Length` body. Nil when the peer closed early.
  private static func readRequest(from connection: Int32) -> HTTPLoopbackRequest? {
    var buffer = Data()
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    let separator = Data("\r\n\r\n".utf8)
    var headEnd: Range<Data.Index>?
    while headEnd == nil {
      let count = read(connection, &chunk, chunk.count)
      if count <= 0 { return nil }
      buffer.append(contentsOf: chunk[0..<count])
      headEnd = buffer.range(of: separator)
    }
    guard let headEnd else { return nil }
    let head = String(decoding: buffer[..<headEnd.lowerBound], as: UTF8.self)
    var lines = head.components(separatedBy: "\r\n")
    let requestLine = lines.removeFirst().split(separator: " ")
    var headers: [String: String] = [:]
    for line in lines {
      guard let colon = line.firstIndex(of: ":") else { continue }
      headers[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    let length =
      headers.first { $0.key.caseInsensitiveCompare("Content-Length") == .orderedSame }.flatMap {
        Int($0.value)
      }
      ?? 0
    var body = Data(buffer[headEnd.upperBound...])
    while body.count < length {
      let count = read(connection, &chunk, chunk.count)
      if count <= 0 { break }
      body.append(contentsOf: chunk[0..<count])
    }
    return HTTPLoopbackRequest(
      method: requestLine.first.map(String.init) ?? "",
      path: requestLine.count > 1 ? String(requestLine[1]) : "",
      headers: headers,
      body: body)
  }

  private static func writeAll(_ data: Data, to connection: Int32) {
    data.withUnsafeBytes { raw in
      guard let base = raw.baseAddress else { return }
      var offset = 0
      while offset < raw.count {
        let written = send(connection, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
        if written <= 0 { return }
        offset += written
      }
    }
  }

  private static func reason(_ status: Int) -> String {
    switch status {
    case 200: return "OK"
    case 400: return "Bad Request"
    case 404: return "Not Found"
    case 422: return "Unprocessable Entity"
    case 500: return "Internal Server Error"
    case 503: return "Service Unavailable"
    default: return "Status"
    }
  }
}

/// A socket call failed while setting up a test server.
struct HTTPLoopbackError: Error, CustomStringConvertible {
  let call: String
  let code: Int32

  static func socket(_ call: String, _ code: Int32) -> HTTPLoopbackError {
    HTTPLoopbackError(call: call, code: code)
  }

  var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
}

/// A TCP port on 127.0.0.1 that refuses connections.
///
/// The port stays bound (without listening) for the life of the test process, so no other
/// test's server can take it between the moment it is chosen and the moment it is dialled.
func closedLoopbackPort() throws -> Int {
  let (_, port) = try HTTPLoopbackServer.openListener(listening: false)
  return port
}
