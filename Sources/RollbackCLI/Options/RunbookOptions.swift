import ArgumentParser
import Foundation
import RollbackCore

/// Options every command shares: which runbook, which environment, how to print.
struct RunbookOptions: ParsableArguments {
  init() {}

  @Option(
    name: .long,
    help: ArgumentHelp(
      "The runbook file.",
      discussion: "Default: rollback.yaml in the current directory, else the single file in ./runbooks/.",
      valueName: "file"))
  var runbook: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "The environment to use (default: the runbook's default_environment).", valueName: "name"),
    completion: Completions.environments)
  var env: String?

  @Flag(name: .long, help: "Print one JSON document on stdout; human text goes to stderr.")
  var json = false

  @Flag(name: .long, help: "Print only failures, warnings and the summary.")
  var quiet = false

  @Flag(name: .long, help: "Also print each step's note and resolved detail.")
  var verbose = false

  @Option(
    name: .customLong("state-dir"),
    help: ArgumentHelp(
      "Where runs, the lock and backups are kept (default: .rollback/ beside the runbook; ROLLBACK_STATE_DIR overrides).",
      valueName: "dir"))
  var stateDir: String?

  /// Finds the runbook file the user means.
  func runbookPath(in directory: String = FileManager.default.currentDirectoryPath) throws -> String {
    if let runbook { return runbook }
    let manager = FileManager.default
    let local = (directory as NSString).appendingPathComponent("rollback.yaml")
    if manager.fileExists(atPath: local) { return "rollback.yaml" }
    let folder = (directory as NSString).appendingPathComponent("runbooks")
    let candidates = ((try? manager.contentsOfDirectory(atPath: folder)) ?? [])
      .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
    if candidates.count == 1, let only = candidates.first { return "runbooks/\(only)" }
    if candidates.isEmpty {
      throw CLIError.usage("no runbook found: pass --runbook FILE, or add rollback.yaml here")
    }
    throw CLIError.usage(
      "several runbooks in ./runbooks (\(candidates.joined(separator: ", "))); choose one with --runbook FILE"
    )
  }
}

/// Loads a runbook and prints its diagnostics.
struct LoadedRunbook {
  let path: String
  let result: RunbookLoadResult
  /// The `--env` given, if any.
  var environmentOption: String?

  static func load(
    _ options: RunbookOptions, overrides: [String: String] = [:], printWarnings: Bool = true
  ) throws -> LoadedRunbook {
    let path = try options.runbookPath()
    let data: Data
    do {
      data = try RunbookLoader.readFile(atPath: path)
    } catch .tooLarge(let path, let bytes) {
      throw CLIError.runbook(RunbookReadError.tooLarge(path: path, bytes: bytes).description)
    } catch {
      throw CLIError.usage(error.description)
    }
    guard let source = String(data: data, encoding: .utf8) else {
      let place = firstInvalidUTF8(in: data)
      throw CLIError.runbook(
        DiagnosticPrinter.error(
          file: path, line: place.line, column: place.column, "the file is not valid UTF-8 from here"))
    }
    let result = RunbookLoader.load(
      source: source, file: path,
      options: LoadOptions(
        processEnvironment: ProcessInfo.processInfo.environment, selectedEnvironment: options.env,
        variableOverrides: overrides))
    if result.runbook == nil, !source.allSatisfy(\.isWhitespace), !looksLikeRunbook(source) {
      // Perhaps a .env or a key file given by mistake: say so without echoing any of its lines.
      throw CLIError.runbook(
        DiagnosticPrinter.error(
          file: path,
          "not a runbook (no top-level version, name, environments or levels key); "
            + "its content is not shown, as it may hold secrets"))
    }
    let printer = DiagnosticPrinter(source: result.source, environmentOption: options.env)
    let errors = result.diagnostics.filter { $0.severity == .error }
    // A misspelt top-level key is the cause of the errors that follow from it: show it alone.
    let causes = errors.filter {
      $0.message.hasPrefix("unknown key '") && $0.message.contains(" in the runbook;")
    }
    if !causes.isEmpty {
      printer.print(causes)
      let more = errors.count - causes.count
      if more > 0 {
        Console.error(
          "note: \(more) more error\(more == 1 ? "" : "s") not shown: they may follow from the misspelt key; fix it and run again"
        )
      }
      return LoadedRunbook(path: path, result: result, environmentOption: options.env)
    }
    printer.print(result.diagnostics.filter { $0.severity == .error || printWarnings })
    return LoadedRunbook(path: path, result: result, environmentOption: options.env)
  }

  /// Whether the text has one of a runbook's top-level keys at the start of a line. Scans the
  /// bytes once (a runbook may be megabytes long).
  static func looksLikeRunbook(_ source: String) -> Bool {
    let keys = ["version", "name", "environments", "levels"].map { Array($0.utf8) }
    return Array(source.utf8).withUnsafeBufferPointer { bytes in
      var start = 0
      while start < bytes.count {
        for key in keys where start + key.count < bytes.count {
          var matches = true
          for offset in 0..<key.count where bytes[start + offset] != key[offset] {
            matches = false
            break
          }
          guard matches else { continue }
          var cursor = start + key.count
          while cursor < bytes.count, bytes[cursor] == 0x20 { cursor += 1 }
          if cursor < bytes.count, bytes[cursor] == 0x3A { return true }
        }
        // The next line (LF, or CR alone).
        while start < bytes.count, bytes[start] != 0x0A, bytes[start] != 0x0D { start += 1 }
        start += 1
      }
      return false
    }
  }

  /// The line and column (counted in characters from 1) of the first byte that is not UTF-8,
  /// with lines counted as YAML (and the diagnostics) count them: LF, CRLF, CR, NEL, LS, PS.
  static func firstInvalidUTF8(in data: Data) -> (line: Int, column: Int) {
    var iterator = data.makeIterator()
    var decoder = UTF8()
    var line = 1
    var column = 1
    var previousCR = false
    while true {
      switch decoder.decode(&iterator) {
      case .scalarValue(let scalar):
        switch scalar {
        case "\n" where previousCR:
          break
        case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}":
          line += 1
          column = 1
        default:
          column += 1
        }
        previousCR = scalar == "\r"
      case .emptyInput, .error: return (line, column)
      }
    }
  }

  /// The runbook, or exit 2 when it has errors.
  func runbook() throws -> Runbook {
    guard let runbook = result.runbook else {
      let count = result.errors.count
      let onCommandLine = result.errors.allSatisfy {
        DiagnosticPrinter.isCommandLineMistake($0, environment: environmentOption)
      }
      Console.error(
        onCommandLine
          ? "nothing was done" : "\(path): \(count) error\(count == 1 ? "" : "s"); nothing was done")
      throw ExitCode(.usage)
    }
    return runbook
  }
}

/// The resolver for the chosen environment, or exit 2 with the problems.
func makeResolver(
  _ runbook: Runbook, options: RunbookOptions, overrides: [String: String], resolveSecrets: Bool = false
) throws -> Resolver {
  do {
    return try Resolver.resolving(
      runbook: runbook, environmentName: options.env, processEnvironment: ProcessInfo.processInfo.environment,
      overrides: overrides, resolveSecrets: resolveSecrets)
  } catch {
    throw DiagnosticPrinter(environmentOption: options.env).fail(error.diagnostics)
  }
}
