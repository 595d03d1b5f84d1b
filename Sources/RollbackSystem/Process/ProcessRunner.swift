#if canImport(Glibc)
  import Glibc
#endif

/// Runs child processes for runbook steps: output streamed live and captured, a timeout
/// that takes the whole process group down, and the exit status as a value.
///
/// Each child leads a new session and process group, reads stdin from `/dev/null` and
/// writes stdout and stderr into pipes that a dedicated thread reads with `poll` while the
/// child runs. On timeout or task cancellation the group gets SIGTERM, then SIGKILL after
/// the spec's grace, so grandchildren (`sh -c 'server &'`) die too; the child is always
/// reaped, so no zombie is left. A process that starts its own session escapes the group;
/// on timeout or cancellation it is found through `/proc` (rollback is a child subreaper,
/// so it is reparented to rollback) and ended too (see ``ProcessStrays``).
public struct ProcessRunner: Sendable {
  /// The `PATH` used when the environment has none (what `execvp` falls back to, plus
  /// `/usr/local/bin`).
  public static let defaultSearchPath = "/usr/local/bin:/usr/bin:/bin"

  /// Creates a runner.
  public init() {}

  /// Starts the spec's program and waits for it to end, passing every output line to
  /// `onOutput` as it arrives.
  ///
  /// The callback runs on the runner's reading thread, one line at a time (without its
  /// newline) in arrival order per stream; it should print and return quickly. Awaiting
  /// never blocks Swift's cooperative pool.
  ///
  /// - Returns: how the process ended. A non-zero exit, a signal, a timeout or a
  ///   cancellation of the awaiting task is an outcome, not an error.
  /// - Throws: ``ProcessError`` only when the process could not be started; then nothing ran.
  public func run(
    _ spec: ProcessSpec,
    onOutput: @escaping @Sendable (ProcessStream, String) -> Void = { _, _ in }
  ) async throws(ProcessError) -> ProcessOutcome {
    try await BlockingExecutor.run(name: "rollback.proc") { (cancellation) throws(ProcessError) in
      let (path, arguments) = try Self.prepare(spec)
      if cancellation.isCancelled {
        return ProcessOutcome(exitCode: nil, cancelled: true)
      }
      let started = ContinuousClock.now
      // Registered before another thread's sweep can take a child that exits at once for
      // an adopted zombie and reap it (its exit status would be lost).
      let child = try ProcessStrays.launchDriven { () throws(ProcessError) in
        try ProcessSpawn.launch(
          path: path, arguments: arguments, processEnvironment: spec.processEnvironment, cwd: spec.cwd,
          standardInput: spec.standardInput)
      }
      let supervisor = ProcessSupervisor(
        child: child, spec: spec, started: started, cancellation: cancellation, onOutput: onOutput)
      return supervisor.supervise()
    }
  }

  /// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`), once: what a step
  /// starts outside its process group and leaves behind is reparented here rather than to
  /// init, so a timed-out step's strays are found and ended, and adopted processes that
  /// exit are reaped after each run. For a process whose only children are those this
  /// runner starts (the `rollback` command), not for one that also uses `Foundation.Process`.
  public static func adoptOrphans() {
    ProcessStrays.becomeSubreaper()
  }

  /// The path of the executable `name` would run, or nil when there is none.
  ///
  /// A name with a slash is checked as given; any other name is looked up in `path` (a
  /// colon-separated `PATH`; nil means ``defaultSearchPath``), skipping empty entries. Relative
  /// paths are taken from `cwd` when given, as a run does. Only executable regular files count.
  /// The same lookup ``run(_:onOutput:)`` makes: preflight uses it to check a runbook's commands.
  public static func resolveExecutable(_ name: String, path: String?, cwd: String? = nil) -> String? {
    candidates(for: name, path: path, cwd: cwd).first(where: isExecutableFile)
  }

  /// Checks the working directory and resolves the program; returns the path to execute
  /// and the argument vector.
  static func prepare(_ spec: ProcessSpec) throws(ProcessError) -> (path: String, arguments: [String]) {
    if let cwd = spec.cwd, !isDirectory(cwd) {
      throw .cwdMissing(path: cwd)
    }
    let arguments: [String]
    switch spec.program {
    case .argv(let argv): arguments = argv
    case .shell(let command): arguments = ["/bin/sh", "-c", command]
    }
    guard let name = arguments.first, !name.isEmpty else { throw .executableNotFound(name: "") }
    let candidates = candidates(for: name, path: spec.processEnvironment["PATH"], cwd: spec.cwd)
    if let found = candidates.first(where: isExecutableFile) {
      return (found, arguments)
    }
    if let present = candidates.first(where: isRegularFile) {
      throw .notExecutable(path: present)
    }
    throw .executableNotFound(name: name)
  }

  /// Where `name` may live, in search order. Relative paths are taken from `cwd` when given.
  private static func candidates(for name: String, path: String?, cwd: String?) -> [String] {
    if name.contains("/") {
      return [absolute(name, from: cwd)]
    }
    let entries = (path ?? defaultSearchPath).split(separator: ":", omittingEmptySubsequences: true)
    return entries.map { absolute(String($0), from: cwd) + "/" + name }
  }

  private static func absolute(_ path: String, from cwd: String?) -> String {
    guard let cwd, !path.hasPrefix("/") else { return path }
    return cwd.hasSuffix("/") ? cwd + path : cwd + "/" + path
  }

  private static func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode
  }

  private static func isRegularFile(_ path: String) -> Bool {
    guard let mode = fileMode(path) else { return false }
    return mode & S_IFMT == S_IFREG
  }

  private static func isExecutableFile(_ path: String) -> Bool {
    isRegularFile(path) && access(path, X_OK) == 0
  }

  private static func isDirectory(_ path: String) -> Bool {
    guard let mode = fileMode(path) else { return false }
    return mode & S_IFMT == S_IFDIR
  }
}
