import Foundation
import RollbackCore

/// What a run does to one host: run its commands and edit its flag files.
///
/// This is the seam for remote hosts. ``LocalHost`` acts on this machine; an implementation for
/// a remote host (over ssh) supplies the same operations there, and the executor is given one
/// per host. Nothing in a step runner touches processes or flag files except through this.
public protocol HostEffects: Sendable {
  /// Runs a command (with its timeout in the spec), passing each output line as it comes.
  func run(command spec: ProcessSpec, onOutput: @escaping @Sendable (ProcessStream, String) -> Void)
    async throws(ProcessError) -> ProcessOutcome
  /// Reads a flag file's bytes.
  func readFlagFile(_ path: String) async throws(FileError) -> [UInt8]
  /// Applies a flag change to every one of the editor's files, all or nothing, with backups in
  /// `backupDirectory`; with `dryRun` nothing is written.
  func applyFlag(_ editor: FlagEditor, _ change: FlagChange, backupDirectory: String, dryRun: Bool)
    async throws(FlagEditor.EditError) -> FlagEditor.Result
}

/// This machine: processes through ``ProcessRunner``, files through ``AtomicFile``.
public struct LocalHost: HostEffects {
  /// Creates the local host.
  public init() {}

  /// Runs a local process.
  public func run(command spec: ProcessSpec, onOutput: @escaping @Sendable (ProcessStream, String) -> Void)
    async throws(ProcessError) -> ProcessOutcome
  {
    try await ProcessRunner().run(spec, onOutput: onOutput)
  }

  /// Reads a local file.
  public func readFlagFile(_ path: String) throws(FileError) -> [UInt8] { try AtomicFile.read(path) }

  /// Edits local dotenv files; a run killed mid-backup left a temporary file, which is removed first.
  public func applyFlag(_ editor: FlagEditor, _ change: FlagChange, backupDirectory: String, dryRun: Bool)
    throws(FlagEditor.EditError) -> FlagEditor.Result
  {
    if !dryRun { _ = try? AtomicFile.cleanStrayTempFiles(in: backupDirectory) }
    return try editor.apply(change, backupDirectory: backupDirectory, dryRun: dryRun, reuseBackups: true)
  }
}

/// The time a run measures and waits in.
public protocol ExecutionClock: Sendable {
  /// Now.
  var now: ContinuousClock.Instant { get }
  /// Waits; throws when the task is cancelled.
  func sleep(for duration: Duration) async throws
}

/// The real clock.
public struct LiveClock: ExecutionClock {
  /// Creates the real clock.
  public init() {}
  /// Now.
  public var now: ContinuousClock.Instant { ContinuousClock.now }
  /// Sleeps for real.
  public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// Everything the executor touches outside its own memory, injected once.
///
/// ``live`` is the real thing; tests give fakes that fail on any call they did not expect.
/// Processes and flag files go through ``host`` (one host today; the fleet gives one per host).
public struct ExecutionEffects: Sendable {
  /// Commands and flag files.
  public var host: any HostEffects
  /// Sends an HTTP request (http steps, health polls, Slack).
  public var http: @Sendable (HTTPRequest) async throws(HTTPError) -> HTTPResponse
  /// Runs one SQL statement.
  public var postgres: @Sendable (PostgresStatement) async throws(PostgresError) -> PostgresQueryResult
  /// Makes the signal reader for the run's environment (Prometheus, Postgres).
  public var signalReader: @Sendable (Resolver, [String: String]) -> any SignalReader
  /// Time and waiting.
  public var clock: any ExecutionClock
  /// Asks a person whether to go on.
  public var confirmer: Executor.Confirmer
  /// Makes the on-call integrations (PagerDuty, Alertmanager, Grafana) for the runbook's
  /// `notify:` settings and the process environment.
  public var oncall: @Sendable (NotifySettings, [String: String]) -> any OnCallEffects

  /// Creates a context from its parts; the on-call integrations are the live clients unless given.
  public init(
    host: any HostEffects, http: @escaping @Sendable (HTTPRequest) async throws(HTTPError) -> HTTPResponse,
    postgres: @escaping @Sendable (PostgresStatement) async throws(PostgresError) -> PostgresQueryResult,
    signalReader: @escaping @Sendable (Resolver, [String: String]) -> any SignalReader,
    clock: any ExecutionClock, confirmer: Executor.Confirmer,
    oncall: @escaping @Sendable (NotifySettings, [String: String]) -> any OnCallEffects = {
      OnCallClients.make($0, processEnvironment: $1)
    }
  ) {
    self.oncall = oncall
    self.host = host
    self.http = http
    self.postgres = postgres
    self.signalReader = signalReader
    self.clock = clock
    self.confirmer = confirmer
  }

  /// This machine, the network, the database, the real clock and the terminal.
  public static let live = ExecutionEffects(
    host: LocalHost(),
    http: { (request) throws(HTTPError) in try await HTTPClient().send(request) },
    postgres: { (statement) throws(PostgresError) in
      try await PostgresClient().execute(
        dsn: statement.dsn, query: statement.query, parameters: statement.parameters,
        readOnly: statement.readOnly, timeout: statement.timeout, maxRows: statement.maxRows)
    },
    signalReader: { resolver, processEnvironment in
      LiveSignalReader(resolver: resolver, processEnvironment: processEnvironment)
    },
    clock: LiveClock(), confirmer: .terminal)
}

/// One SQL statement a step runs.
public struct PostgresStatement: Sendable {
  /// The connection string (a secret: never printed).
  public var dsn: String
  /// The query, with `$n` placeholders.
  public var query: String
  /// The placeholders' values.
  public var parameters: [String?]
  /// Refuse writes.
  public var readOnly: Bool
  /// Connect and statement timeout.
  public var timeout: Duration
  /// Rows kept.
  public var maxRows: Int

  /// Creates a statement.
  public init(
    dsn: String, query: String, parameters: [String?], readOnly: Bool, timeout: Duration, maxRows: Int
  ) {
    self.dsn = dsn
    self.query = query
    self.parameters = parameters
    self.readOnly = readOnly
    self.timeout = timeout
    self.maxRows = maxRows
  }
}
