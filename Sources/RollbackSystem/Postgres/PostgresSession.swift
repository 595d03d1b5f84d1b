import CLibPQ
import Foundation

/// The connection parameters for one libpq call, derived from a DSN and the timeouts.
///
/// The DSN goes in as `dbname` with `expand_dbname=1`, so both `postgresql://` URLs and
/// `key=value` strings work and values are never re-parsed. Parameters after it override
/// the DSN's: the timeouts and the application name are always ours.
struct PostgresConnectionParameters {
  let keywords: [String]
  let values: [String]
  /// Strings to mask in any libpq message: the password (decoded and as written).
  let secrets: [String]

  /// Parses `dsn` (without connecting) and adds the timeouts.
  ///
  /// - Parameters:
  ///   - connectTimeout: whole seconds, at least 1 (libpq waits at least 2 s anyway).
  ///   - statementTimeout: milliseconds for `-c statement_timeout`, or nil for none.
  ///   - readOnly: every transaction of the session is read-only
  ///     (`default_transaction_read_only`), so a statement that writes fails (SQLSTATE 25006).
  init(
    dsn: String, connectTimeout: Duration, statementTimeout: Duration?, applicationName: String,
    readOnly: Bool = false
  ) throws(PostgresError) {
    var errorMessage: UnsafeMutablePointer<CChar>?
    guard let parsed = PQconninfoParse(dsn, &errorMessage) else {
      var reason = "libpq could not parse it"
      if let errorMessage {
        reason = PostgresConnectionParameters.withoutQuotedText(String(cString: errorMessage))
        PQfreemem(errorMessage)
      }
      throw .invalidConnectionString(reason: reason)
    }
    defer { PQconninfoFree(parsed) }

    var password: String?
    var options: String?
    var option = parsed
    while let keyword = option.pointee.keyword {
      if let value = option.pointee.val {
        switch String(cString: keyword) {
        case "password": password = String(cString: value)
        case "options": options = String(cString: value)
        default: break
        }
      }
      option += 1
    }

    var secrets = Redaction.secretsInURL(dsn)
    if let password { secrets.append(password) }
    if let fromEnvironment = ProcessInfo.processInfo.environment["PGPASSWORD"] {
      secrets.append(fromEnvironment)
    }
    if dsn.contains("=") || dsn.contains("://") { secrets.append(dsn) }
    self.secrets = secrets.filter { !$0.isEmpty }

    var keywords = ["dbname", "connect_timeout", "application_name"]
    var values = [dsn, String(connectTimeout.secondsRoundedUp(atLeast: 1)), applicationName]
    var settings: [String] = []
    if let statementTimeout {
      settings.append("-c statement_timeout=\(max(1, statementTimeout.millisecondsRoundedUp))")
    }
    if readOnly { settings.append("-c default_transaction_read_only=on") }
    if !settings.isEmpty {
      keywords.append("options")
      values.append(([options] + settings).compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " "))
    }
    self.keywords = keywords
    self.values = values
  }

  /// Calls `body` with NULL-terminated C arrays of the keywords and values.
  func withCArrays<Result>(
    _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Result
  ) -> Result {
    withCStringArray(keywords) { keywordArray in
      withCStringArray(values) { valueArray in
        body(keywordArray, valueArray)
      }
    }
  }

  /// libpq's parse errors quote the offending part of the DSN, which may be a password.
  static func withoutQuotedText(_ message: String) -> String {
    var result = ""
    var inQuote = false
    for character in message {
      if character == "\"" {
        if !inQuote { result += "\"…\"" }
        inQuote.toggle()
      } else if !inQuote {
        result.append(character)
      }
    }
    return PostgresSession.oneLine(result)
  }
}

/// Calls `body` with a NULL-terminated array of C strings (a nil element stays NULL).
func withCStringArray<Result>(
  _ strings: [String?],
  _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> Result
) -> Result {
  let copies = strings.map { $0.flatMap { strdup($0) } }
  defer { copies.forEach { free($0) } }
  let pointers = copies.map { UnsafePointer($0) } + [nil]
  return pointers.withUnsafeBufferPointer { buffer in body(buffer.baseAddress) }
}

/// One libpq connection used from one thread: connect, run one statement, finish.
final class PostgresSession {
  private let connection: OpaquePointer
  private let secrets: [String]

  /// How long past the statement timeout the client waits before declaring the server
  /// stalled. The server cancels at the statement timeout; this covers a dead peer.
  static let grace: Duration = .seconds(2)

  private init(connection: OpaquePointer, secrets: [String]) {
    self.connection = connection
    self.secrets = secrets
  }

  deinit {
    PQfinish(connection)
  }

  /// `PQpingParams` with the given parameters.
  static func ping(_ parameters: PostgresConnectionParameters) -> PostgresPingResult {
    let outcome = parameters.withCArrays { keywords, values in PQpingParams(keywords, values, 1) }
    switch outcome {
    case PQPING_OK: return .ok
    case PQPING_REJECT: return .reject
    case PQPING_NO_RESPONSE: return .noResponse
    default: return .noAttempt
    }
  }

  /// Connects without blocking (`PQconnectStartParams` and `PQconnectPoll`), giving up
  /// when `connectTimeout` has passed in total, however many hosts the DSN lists (libpq's
  /// own `connect_timeout` applies to each host in turn).
  static func connect(_ parameters: PostgresConnectionParameters, connectTimeout: Duration)
    throws(PostgresError)
    -> PostgresSession
  {
    let started = ContinuousClock.now
    let deadline = BlockingDeadline(after: connectTimeout)
    let connection = parameters.withCArrays { keywords, values in PQconnectStartParams(keywords, values, 1) }
    guard let connection else {
      throw .connectionFailed(message: "libpq could not allocate a connection")
    }
    func failed() -> PostgresError {
      let message = redacted(errorText(of: connection), secrets: parameters.secrets)
      PQfinish(connection)
      // A quick failure may be a server that is starting or stopping; only PQping can
      // tell (it reads SQLSTATE 57P03). A failure that used the whole timeout is not that.
      if ContinuousClock.now - started < connectTimeout, ping(parameters) == .reject {
        return .serverStartingOrStopping
      }
      return .connectionFailed(message: message.isEmpty ? "unknown libpq error" : message)
    }
    guard PQstatus(connection) != CONNECTION_BAD else { throw failed() }
    var state = PGRES_POLLING_WRITING
    while true {
      switch state {
      case PGRES_POLLING_OK:
        return PostgresSession(connection: connection, secrets: parameters.secrets)
      case PGRES_POLLING_FAILED:
        throw failed()
      default:
        let socket = PQsocket(connection)
        guard socket >= 0 else { throw failed() }
        var ready: Int32 = 0
        while ready == 0 {
          if deadline.hasExpired {
            PQfinish(connection)
            throw .connectionFailed(message: "timeout expired after \(connectTimeout.compactText)")
          }
          var descriptor = pollfd(
            fd: socket, events: Int16(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), revents: 0)
          ready = poll(&descriptor, 1, deadline.remainingMilliseconds())
          if ready < 0 && errno != EINTR {
            PQfinish(connection)
            throw .connectionFailed(message: "poll failed: \(String(cString: strerror(errno)))")
          }
          if ready < 0 { ready = 0 }
        }
        state = PQconnectPoll(connection)
      }
    }
  }

  /// Sends one statement with text parameters and reads its result row by row
  /// (`PQsetSingleRowMode`), keeping at most `maxRows` rows in memory, at most
  /// `statementTimeout` plus ``grace``, checking `cancellation` while it waits.
  ///
  /// With `firstRowOnly`, the statement is cancelled on the server once the first row
  /// has arrived and the rest is drained without being kept: a probe that matches
  /// millions of rows costs one row of memory.
  func execute(
    _ query: String,
    parameters: [String?],
    statementTimeout: Duration,
    maxRows: Int,
    firstRowOnly: Bool = false,
    cancellation: CancellationFlag
  ) throws(PostgresError) -> PostgresQueryResult {
    let deadline = BlockingDeadline(after: statementTimeout + Self.grace)
    try send(query, parameters: parameters)
    // Send everything (small statements go out at once; large ones need the socket).
    while true {
      let flushed = PQflush(connection)
      if flushed == 0 { break }
      if flushed < 0 { throw connectionLost() }
      try wait(
        forWriting: true, deadline: deadline, statementTimeout: statementTimeout, cancellation: cancellation)
      guard PQconsumeInput(connection) == 1 else { throw connectionLost() }
    }

    var read = ResultRead()
    while true {
      while PQisBusy(connection) == 1 {
        try wait(
          forWriting: false, deadline: deadline, statementTimeout: statementTimeout,
          cancellation: cancellation)
        guard PQconsumeInput(connection) == 1 else { throw connectionLost() }
      }
      guard let result = PQgetResult(connection) else { break }
      defer { PQclear(result) }
      try take(result, into: &read, maxRows: maxRows, firstRowOnly: firstRowOnly, statementTimeout)
    }
    if let failure = read.failure { throw failure }
    guard read.finished || read.abandoned else { throw connectionLost() }
    return read.collected
  }

  /// What has been read of a statement's results so far.
  private struct ResultRead {
    var collected = PostgresQueryResult(
      columns: [], rows: [], totalRowCount: 0, commandTag: "", affectedRows: nil)
    var sawRows = false
    var failure: PostgresError?
    var finished = false
    var abandoned = false
  }

  /// Sends `query` with its text parameters, in single-row mode, without blocking.
  private func send(_ query: String, parameters: [String?]) throws(PostgresError) {
    guard PQsetnonblocking(connection, 1) == 0 else { throw connectionLost() }
    let sent = withCStringArray(parameters) { values in
      PQsendQueryParams(connection, query, Int32(clamping: parameters.count), nil, values, nil, nil, 0)
    }
    guard sent == 1 else { throw connectionLost() }
    _ = PQsetSingleRowMode(connection)
  }

  /// Reads one result of the statement into `read`: rows (at most `maxRows` kept), the end, or
  /// an error; a streaming mode such as COPY throws.
  private func take(
    _ result: OpaquePointer, into read: inout ResultRead, maxRows: Int, firstRowOnly: Bool,
    _ statementTimeout: Duration
  ) throws(PostgresError) {
    let status = PQresultStatus(result)
    switch status {
    case PGRES_SINGLE_TUPLE, PGRES_TUPLES_OK, PGRES_COMMAND_OK:
      guard read.failure == nil, !read.abandoned, !read.finished else { return }
      takeRows(result, status: status, into: &read, maxRows: maxRows, firstRowOnly: firstRowOnly)
    case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR:
      // After an abandoned read the error is the cancel asked for; the row is kept.
      if read.failure == nil, !read.abandoned { read.failure = self.failure(of: result, statementTimeout) }
    case PGRES_EMPTY_QUERY:
      if read.failure == nil { read.failure = .queryFailed(sqlstate: "42601", message: "the query is empty") }
    default:
      // COPY and other streaming modes are not for a probe; the connection is
      // dropped by deinit, which ends them.
      throw .queryFailed(
        sqlstate: "0A000", message: "\(String(cString: PQresStatus(status)).lowercased()) is not supported")
    }
  }

  /// Keeps the rows of a row-bearing result; with `firstRowOnly`, the first row cancels the
  /// statement on the server.
  private func takeRows(
    _ result: OpaquePointer, status: ExecStatusType, into read: inout ResultRead, maxRows: Int,
    firstRowOnly: Bool
  ) {
    if !read.sawRows {
      read.collected.columns = Self.columns(of: result)
      read.sawRows = true
    }
    let count = Int(PQntuples(result))
    for row in 0..<count where read.collected.rows.count < maxRows {
      read.collected.rows.append(Self.row(row, of: result))
    }
    read.collected.totalRowCount += count
    if status == PGRES_SINGLE_TUPLE {
      if firstRowOnly {
        // The first row is all a probe reads: stop the statement and drain the rest.
        read.abandoned = true
        read.collected.commandTag = "SELECT \(read.collected.totalRowCount)"
        requestServerCancel()
      }
    } else {
      read.finished = true
      read.collected.commandTag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
      read.collected.affectedRows = PQcmdTuples(result).flatMap { Int(String(cString: $0)) }
    }
  }

  /// Waits until the socket is readable (or writable), the deadline passes, or the
  /// caller cancels.
  private func wait(
    forWriting: Bool,
    deadline: BlockingDeadline,
    statementTimeout: Duration,
    cancellation: CancellationFlag
  ) throws(PostgresError) {
    let socket = PQsocket(connection)
    guard socket >= 0 else { throw connectionLost() }
    while true {
      if cancellation.isCancelled {
        cancelRunningStatement()
        throw .cancelled
      }
      if deadline.hasExpired { throw .serverNotResponding(after: statementTimeout + Self.grace) }
      var descriptor = pollfd(
        fd: socket, events: Int16(forWriting ? POLLIN | POLLOUT : POLLIN), revents: 0)
      let ready = poll(&descriptor, 1, deadline.remainingMilliseconds())
      if ready > 0 { return }
      if ready < 0 && errno != EINTR { throw connectionLost() }
    }
  }

  /// Asks the server to stop the running statement (`PQcancel`), so a cancelled
  /// statement does not run on (and commit) after the client gave up. `PQcancel` opens
  /// its own connection and has no timeout, so it runs on a helper thread and this waits
  /// at most ``cancelWait`` for it.
  private func requestServerCancel() {
    guard let cancel = PQgetCancel(connection) else { return }
    let request = PostgresCancelRequest(cancel)
    let finished = DispatchSemaphore(value: 0)
    let thread = Thread {
      request.send()
      finished.signal()
    }
    thread.start()
    _ = finished.wait(timeout: .now() + .milliseconds(Self.cancelWait.millisecondsRoundedUp))
  }

  /// The longest a cancelled call waits for the server to acknowledge the cancel.
  static let cancelWait: Duration = .seconds(1)

  /// Cancels the statement in flight and waits (at most ``cancelWait``) until the server
  /// has ended it. A cancel that reaches the backend before it has read the statement is
  /// ignored by the server, so while the statement still runs the cancel is sent again
  /// every ``cancelRetry``.
  private func cancelRunningStatement() {
    let until = BlockingDeadline(after: Self.cancelWait)
    requestServerCancel()
    var resendAt = BlockingDeadline(after: Self.cancelRetry)
    while !until.hasExpired {
      let socket = PQsocket(connection)
      guard socket >= 0 else { return }
      var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
      let ready = poll(
        &descriptor, 1, Swift.min(until.remainingMilliseconds(), resendAt.remainingMilliseconds()))
      if ready < 0 && errno != EINTR { return }
      if ready > 0 {
        guard PQconsumeInput(connection) == 1 else { return }
        while PQisBusy(connection) == 0 {
          // nil: the statement has ended and the connection is idle again.
          guard let result = PQgetResult(connection) else { return }
          PQclear(result)
        }
      }
      if resendAt.hasExpired {
        requestServerCancel()
        resendAt = BlockingDeadline(after: Self.cancelRetry)
      }
    }
  }

  /// How long a cancelled statement may keep running before the cancel is sent again.
  static let cancelRetry: Duration = .milliseconds(200)

  /// The column names of a result.
  private static func columns(of result: OpaquePointer) -> [String] {
    (0..<Int(PQnfields(result))).map { column in
      PQfname(result, Int32(column)).map { String(cString: $0) } ?? ""
    }
  }

  /// One row of a result, as text (nil for NULL).
  private static func row(_ row: Int, of result: OpaquePointer) -> [String?] {
    (0..<Int(PQnfields(result))).map { column -> String? in
      if PQgetisnull(result, Int32(row), Int32(column)) == 1 { return nil }
      return PQgetvalue(result, Int32(row), Int32(column)).map { String(cString: $0) }
    }
  }

  /// The error of a failed result: statement timeout or the server's message.
  private func failure(of result: OpaquePointer, _ statementTimeout: Duration) -> PostgresError {
    let sqlstate = field(result, rollback_pg_diag_sqlstate) ?? "XX000"
    if sqlstate == "57014" { return .statementTimeout(after: statementTimeout) }
    var message =
      field(result, rollback_pg_diag_message_primary) ?? PQresultErrorMessage(result).map {
        String(cString: $0)
      } ?? ""
    if let detail = field(result, rollback_pg_diag_message_detail) { message += " (\(detail))" }
    if let hint = field(result, rollback_pg_diag_message_hint) { message += "; hint: \(hint)" }
    return .queryFailed(sqlstate: sqlstate, message: Self.redacted(message, secrets: secrets))
  }

  private func field(_ result: OpaquePointer, _ code: Int32) -> String? {
    PQresultErrorField(result, code).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
  }

  /// The connection broke while a statement was in flight.
  private func connectionLost() -> PostgresError {
    let message = Self.redacted(Self.errorText(of: connection), secrets: secrets)
    return .connectionFailed(
      message: message.isEmpty ? "the connection was lost" : "connection lost: \(message)")
  }

  private static func errorText(of connection: OpaquePointer) -> String {
    PQerrorMessage(connection).map { String(cString: $0) } ?? ""
  }

  /// libpq text on one line with secrets masked.
  static func redacted(_ message: String, secrets: [String]) -> String {
    oneLine(Redaction.text(message, secrets: secrets))
  }

  /// Collapses whitespace runs (libpq messages have newlines and double spaces).
  static func oneLine(_ text: String) -> String {
    text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
  }
}

/// A `PGcancel` handed to the thread that sends it. It is independent of the `PGconn`
/// (libpq allows `PQcancel` from any thread) and is freed once sent.
private final class PostgresCancelRequest: @unchecked Sendable {
  private let cancel: OpaquePointer

  init(_ cancel: OpaquePointer) {
    self.cancel = cancel
  }

  /// Sends the cancel request and frees it. Call once.
  func send() {
    var errorBuffer = [CChar](repeating: 0, count: 256)
    _ = PQcancel(cancel, &errorBuffer, Int32(errorBuffer.count))
    PQfreeCancel(cancel)
  }
}
