import Foundation

/// Which of a child's output pipes a line came from.
public enum ProcessStream: String, Sendable, Equatable, CustomStringConvertible {
  /// The child's standard output.
  case stdout
  /// The child's standard error.
  case stderr

  /// `stdout` or `stderr`.
  public var description: String { rawValue }
}

/// What to run, where, with which environment, and how long it may take.
public struct ProcessSpec: Sendable, Equatable {
  /// How the program is given.
  public enum Program: Sendable, Equatable {
    /// An argument vector. The first element names the program: with a slash it is a path
    /// (relative to `cwd` when one is given), without one it is looked up in the `PATH` of
    /// the spec's environment.
    case argv([String])
    /// A command line for the shell, run as `/bin/sh -c COMMAND`.
    case shell(String)
  }

  /// The capture limit when none is given: 64 KiB of the output's tail.
  public static let defaultOutputCap = 64 * 1024

  /// The program and its arguments.
  public var program: Program
  /// The child's working directory; nil keeps rollback's own.
  public var cwd: String?
  /// The child's whole environment: nothing else is inherited. Secrets belong here, never in
  /// the argument vector.
  public var processEnvironment: [String: String]
  /// How long the child may run before its process group is torn down; nil waits forever.
  public var timeout: Duration?
  /// How long the process group has to exit after SIGTERM before it gets SIGKILL.
  public var grace: Duration
  /// How many bytes of the combined output the outcome keeps (the tail); at least 0.
  public var outputCap: Int
  /// A file the child reads as its standard input; nil gives it `/dev/null`.
  public var standardInput: String? = nil

  /// Creates a spec. The environment defaults to rollback's own.
  public init(
    program: Program,
    cwd: String? = nil,
    processEnvironment: [String: String] = ProcessInfo.processInfo.environment,
    timeout: Duration? = nil,
    grace: Duration = .seconds(3),
    outputCap: Int = ProcessSpec.defaultOutputCap
  ) {
    self.program = program
    self.cwd = cwd
    self.processEnvironment = processEnvironment
    self.timeout = timeout
    self.grace = grace
    self.outputCap = outputCap
  }
}
