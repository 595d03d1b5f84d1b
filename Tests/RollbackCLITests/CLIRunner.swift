import Foundation
import Testing

/// What a run of the built `rollback` binary printed.
struct CLIResult {
  let status: Int32
  let stdout: String
  let stderr: String
}

/// Runs the built `rollback` executable like a user would.
enum CLI {
  /// The package root (two levels above this file's folder).
  static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  /// The `rollback` binary next to the test bundle, or `ROLLBACK_BIN`.
  static var binary: String {
    if let path = ProcessInfo.processInfo.environment["ROLLBACK_BIN"] { return path }
    let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let candidates = [
      bundleDir.appendingPathComponent("rollback").path,
      bundleDir.deletingLastPathComponent().appendingPathComponent("rollback").path,
      packageRoot.appendingPathComponent(".build/debug/rollback").path,
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[2]
  }

  /// Runs `rollback ARGS` in `directory` (default: the package root) with extra environment.
  static func run(
    _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:], stdin: String? = nil
  ) throws -> CLIResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    process.currentDirectoryURL = directory ?? packageRoot
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (key, value) in environment { env[key] = value }
    process.environment = env
    return try capture(process, stdin: stdin)
  }

  /// Runs `process` (its executable, arguments, directory and environment set) and collects
  /// what it prints. Stdout and stderr are read at the same time, and stdin is written from
  /// another thread: a child that fills one pipe (64 KiB) while the runner waits on the
  /// other would otherwise never finish. After `timeout` the child is killed (SIGKILL), so a
  /// hang fails the test instead of stopping the suite.
  static func capture(
    _ process: Process, stdin: String? = nil, timeout: TimeInterval = 600
  ) throws -> CLIResult {
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    let group = DispatchGroup()
    let outData = PipeContents()
    let errData = PipeContents()
    outData.read(out.fileHandleForReading, in: group)
    errData.read(err.fileHandleForReading, in: group)
    let writer = input.fileHandleForWriting
    let bytes = Data((stdin ?? "").utf8)
    // A child that exits before reading its input closes the pipe: the write then fails with
    // EPIPE instead of SIGPIPE ending the whole test process.
    signal(SIGPIPE, SIG_IGN)
    DispatchQueue.global().async(group: group) {
      if !bytes.isEmpty { try? writer.write(contentsOf: bytes) }
      try? writer.close()
    }
    if group.wait(timeout: .now() + timeout) == .timedOut {
      kill(process.processIdentifier, SIGKILL)
      group.wait()
    }
    process.waitUntilExit()
    return CLIResult(
      status: process.terminationStatus, stdout: String(decoding: outData.data, as: UTF8.self),
      stderr: String(decoding: errData.data, as: UTF8.self))
  }

  /// A fresh temporary directory (`$TMPDIR/rollback-cli-UUID`), removed when the test process
  /// ends (see ``TemporaryDirectories``) or earlier with ``removeTemporaryDirectory(_:)``.
  static func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "rollback-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    TemporaryDirectories.shared.register(url)
    return url
  }

  /// Removes a directory made by ``temporaryDirectory()`` now (the end of the process would).
  static func removeTemporaryDirectory(_ url: URL) {
    TemporaryDirectories.shared.remove(url)
  }
}

/// Every directory ``CLI/temporaryDirectory()`` made in this process, removed when the process
/// exits (`atexit`). Tests run in parallel and many return their directory from a helper or keep
/// it in a suite's fixture, where no scope of their own ends at the right time: the end of the
/// process is the one moment when no test can still use one.
final class TemporaryDirectories: @unchecked Sendable {
  /// The one registry of this process.
  static let shared = TemporaryDirectories()

  private let lock = NSLock()
  private var paths: Set<String> = []

  private init() {
    atexit { TemporaryDirectories.shared.removeAll() }
  }

  /// Remembers `url` for removal at exit.
  func register(_ url: URL) {
    lock.withLock { _ = paths.insert(url.path) }
  }

  /// Removes `url` now and forgets it.
  func remove(_ url: URL) {
    lock.withLock { _ = paths.remove(url.path) }
    try? FileManager.default.removeItem(at: url)
  }

  /// Removes every directory still registered.
  func removeAll() {
    let pending = lock.withLock {
      let all = paths
      paths.removeAll()
      return all
    }
    for path in pending { try? FileManager.default.removeItem(atPath: path) }
  }
}

extension CLI {
  /// Runs `command` with `sh -c` in `directory`, with the built binary first on PATH.
  static func pasted(_ command: String, in directory: URL) throws -> (status: Int32, output: String) {
    let shell = Process()
    shell.executableURL = URL(fileURLWithPath: "/bin/sh")
    shell.arguments = ["-c", command]
    shell.currentDirectoryURL = directory
    var environment = ProcessInfo.processInfo.environment
    environment["PATH"] =
      (CLI.binary as NSString).deletingLastPathComponent + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
    environment["NO_COLOR"] = "1"
    shell.environment = environment
    let output = Pipe()
    shell.standardOutput = output
    shell.standardError = output
    try shell.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    shell.waitUntilExit()
    return (shell.terminationStatus, text)
  }
}

/// The bytes read from one pipe until its end, on a thread of its own.
final class PipeContents: @unchecked Sendable {
  private let lock = NSLock()
  private var bytes = Data()

  /// What was read.
  var data: Data {
    lock.lock()
    defer { lock.unlock() }
    return bytes
  }

  /// Reads `handle` to its end on a global queue, inside `group`.
  func read(_ handle: FileHandle, in group: DispatchGroup) {
    DispatchQueue.global().async(group: group) {
      let read = handle.readDataToEndOfFile()
      self.lock.lock()
      self.bytes = read
      self.lock.unlock()
    }
  }
}
