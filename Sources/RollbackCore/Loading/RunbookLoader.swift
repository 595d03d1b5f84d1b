import Foundation
import Yams

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why a runbook file could not be read; `description` is the message for the user.
public enum RunbookReadError: Error, Equatable, CustomStringConvertible {
  /// No file at the path.
  case notFound(path: String)
  /// The file exists but may not be read.
  case permissionDenied(path: String)
  /// The path is a directory.
  case directory(path: String)
  /// The path is a FIFO, socket or device, not a regular file.
  case notRegular(path: String, kind: String)
  /// The file is larger than ``RunbookLoader/maxSourceBytes``.
  case tooLarge(path: String, bytes: Int64)
  /// Another error from the system.
  case system(path: String, message: String)

  /// The message shown to the user.
  public var description: String {
    switch self {
    case .notFound(let path): return "cannot read runbook \(path): no such file"
    case .permissionDenied(let path): return "cannot read runbook \(path): permission denied"
    case .directory(let path):
      return "runbook \(path) is a directory, not a file; pass the runbook file itself with --runbook FILE"
    case .notRegular(let path, let kind):
      return
        "runbook \(path) is \(kind), not a regular file; pass the runbook file itself with --runbook FILE"
    case .tooLarge(let path, let bytes):
      return
        "\(path):1:1: error: file is larger than 8 MiB (\(bytes) bytes); a runbook is not — refused without reading it"
    case .system(let path, let message): return "cannot read runbook \(path): \(message)"
    }
  }
}

/// The outcome of reading a runbook: the model when it is usable, and every problem found.
public struct RunbookLoadResult: Sendable {
  /// The runbook, nil when it has errors.
  public var runbook: Runbook?
  /// Errors and warnings, ordered by place.
  public var diagnostics: [Diagnostic]
  /// The source text, for rendering diagnostics.
  public var source: String

  /// The errors only.
  public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
  /// The warnings only.
  public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
}

/// What the loader checks placeholders against.
public struct LoadOptions: Sendable {
  /// The process environment, for `${env.NAME}`.
  public var processEnvironment: [String: String]
  /// The runbook environment to resolve `${env.…}` in variables for; nil for the default one.
  public var selectedEnvironment: String?
  /// `--var NAME=VALUE` overrides.
  public var variableOverrides: [String: String]

  /// Creates options.
  public init(
    processEnvironment: [String: String] = [:], selectedEnvironment: String? = nil,
    variableOverrides: [String: String] = [:]
  ) {
    self.processEnvironment = processEnvironment
    self.selectedEnvironment = selectedEnvironment
    self.variableOverrides = variableOverrides
  }
}

/// Reads and validates runbook format version 1.
public enum RunbookLoader {
  /// More nodes than this (after alias expansion) is refused: it is not a runbook but a bomb.
  public static let nodeBudget = 200_000
  /// Nesting deeper than this is refused.
  public static let depthLimit = 64
  /// Files larger than this are refused.
  public static let maxSourceBytes = 8 * 1024 * 1024
  /// Lines longer than this are refused: the YAML parser's duplicate-key check hashes a
  /// `? KEY` key through a regular expression, a second or more for a key of several MiB.
  public static let maxLineBytes = 1024 * 1024

  static let topLevelKeys = [
    "version", "name", "description", "default_environment", "environments", "flags", "services", "signals",
    "decision", "decision_on_unknown", "levels", "scenarios", "notify", "templates", "contacts",
  ]
  static let commonStepKeys = [
    "id", "name", "note", "timeout", "retries", "retry_delay", "when", "on_failure", "drill", "on", "once",
  ]
  static let stepKinds = [
    "check", "assert", "wait", "flag", "restart", "run", "http", "sql", "notify", "confirm", "include",
    "rolling", "silence",
  ]
  static let kindExtras: [String: [String]] = [
    "wait": ["within", "interval", "consecutive"], "sql": ["mutates"],
  ]
  /// Every key a step may have, in a fixed order (did-you-mean hints depend on it).
  static let stepKeys =
    commonStepKeys + stepKinds + kindExtras.keys.sorted().flatMap { kindExtras[$0] ?? [] }

  /// Reads a runbook file's bytes. The size and the kind of file are checked on the open
  /// descriptor before any byte is read: a directory, FIFO or device is refused (a FIFO is
  /// opened without blocking), and so is a file over ``maxSourceBytes``, without reading it.
  public static func readFile(atPath path: String) throws(RunbookReadError) -> Data {
    let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    if descriptor < 0 {
      let code = errno
      switch code {
      case ENOENT, ENOTDIR: throw (.notFound(path: path))
      case EACCES, EPERM: throw (.permissionDenied(path: path))
      case EISDIR: throw (.directory(path: path))
      default: throw (.system(path: path, message: String(cString: strerror(code))))
      }
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
      throw (.system(path: path, message: String(cString: strerror(errno))))
    }
    switch info.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw (.directory(path: path))
    case S_IFIFO: throw (.notRegular(path: path, kind: "a FIFO (named pipe)"))
    case S_IFSOCK: throw (.notRegular(path: path, kind: "a socket"))
    case S_IFCHR, S_IFBLK: throw (.notRegular(path: path, kind: "a device"))
    default: throw (.notRegular(path: path, kind: "not a file"))
    }
    let size = Int64(info.st_size)
    guard size <= Int64(maxSourceBytes) else { throw (.tooLarge(path: path, bytes: size)) }
    // A regular file never blocks; clear O_NONBLOCK anyway so that reads are plain.
    let flags = fcntl(descriptor, F_GETFL)
    if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) }
    // Read in chunks until the end; a file that grew past the limit after fstat is still refused.
    var data = Data(capacity: Int(size))
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      let count = chunk.withUnsafeMutableBytes { buffer -> Int in
        guard let base = buffer.baseAddress else { return 0 }
        return read(descriptor, base, buffer.count)
      }
      if count < 0 {
        if errno == EINTR { continue }
        throw (.system(path: path, message: String(cString: strerror(errno))))
      }
      if count == 0 { break }
      data.append(contentsOf: chunk[0..<count])
      if data.count > maxSourceBytes { throw (.tooLarge(path: path, bytes: Int64(data.count))) }
    }
    return data
  }

  /// Parses and checks `source`; `file` names it in diagnostics.
  public static func load(source: String, file: String, options: LoadOptions = LoadOptions())
    -> RunbookLoadResult
  {
    var reader = YAMLReader(file: file)
    guard let root = compose(source, file: file, reader: &reader) else {
      return result(nil, source: source, bag: reader.bag)
    }
    var builder = RunbookBuilder(reader: reader, options: options)
    var runbook = builder.build(root).map { withFlagFilesAnchored($0, file: file) }
    reader = builder.reader
    if let built = runbook {
      var validator = RunbookValidator(runbook: built, options: options, bag: reader.bag)
      validator.validate()
      reader.bag = validator.bag
      runbook = validator.runbook
    }
    return result(runbook, source: source, bag: reader.bag)
  }

  /// The result: the diagnostics sorted and kept inside the file, no runbook when any is an error.
  static func result(_ runbook: Runbook?, source: String, bag: DiagnosticBag) -> RunbookLoadResult {
    var sorted = bag.sorted
    if !sorted.isEmpty {
      // Every place named is in the file (see Diagnostic.clamped(toLines:)).
      let lengths = Diagnostic.lineLengths(of: source)
      sorted = sorted.map { $0.clamped(toLines: lengths) }
    }
    let hasErrors = sorted.contains { $0.severity == .error }
    return RunbookLoadResult(runbook: hasErrors ? nil : runbook, diagnostics: sorted, source: source)
  }

  /// The YAML node tree of `source`, or nil with the reason in `reader`'s diagnostics (too large,
  /// a line too long, empty, not YAML, nested too deep).
  static func compose(_ source: String, file: String, reader: inout YAMLReader) -> Node? {
    guard source.utf8.count <= maxSourceBytes else {
      reader.bag.error(
        SourceLocation(file: file, line: 1, column: 1), "file is larger than 8 MiB; a runbook is not")
      return nil
    }
    if let long = longLine(source) {
      reader.bag.error(
        SourceLocation(file: file, line: long, column: 1),
        "line \(long) is longer than 1 MiB; a runbook never needs that")
      return nil
    }
    let root: Node
    do {
      // The basic resolver tags every scalar as a string: the builder reads scalars by their
      // text, and Yams' default resolver matches each scalar against ICU regular expressions
      // (a third of a validate's time).
      guard let composed = try Yams.compose(yaml: source, .basic) else {
        reader.bag.error(
          SourceLocation(file: file, line: 1, column: 1),
          "the file is empty; a runbook starts with 'version: 1'")
        return nil
      }
      root = composed
    } catch let error as YamlError {
      let (mark, message) = describe(error)
      reader.bag.error(SourceLocation(file: file, line: mark.line, column: mark.column), message)
      return nil
    } catch {
      reader.bag.error(SourceLocation(file: file, line: 1, column: 1), "cannot parse YAML: \(error)")
      return nil
    }
    if let problem = sizeProblem(root) {
      reader.bag.error(reader.location(problem.node), problem.message)
      return nil
    }
    return root
  }

  /// The runbook with each flag's relative `files:` made relative to the runbook's directory.
  static func withFlagFilesAnchored(_ runbook: Runbook, file: String) -> Runbook {
    var built = runbook
    let directory = runbookDirectory(file)
    for name in built.flags.keys {
      guard var flag = built.flags[name] else { continue }
      for index in flag.files.indices { flag.files[index].relativeTo = directory }
      built.flags[name] = flag
    }
    return built
  }

  /// The absolute directory of the runbook at `file` (relative paths taken against the
  /// current directory now, so that a later change of directory does not move them).
  public static func runbookDirectory(_ file: String) -> String {
    var directory = (file as NSString).deletingLastPathComponent
    if !directory.hasPrefix("/") {
      let here = FileManager.default.currentDirectoryPath
      directory = directory.isEmpty ? here : (here as NSString).appendingPathComponent(directory)
    }
    return (directory as NSString).standardizingPath
  }

  static func describe(_ error: YamlError) -> ((line: Int, column: Int), String) {
    let origin = (line: 1, column: 1)
    switch error {
    case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      var message = "invalid YAML: \(problem)"
      if let context {
        message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
      }
      return ((mark.line, mark.column), message)
    case .reader(let problem, _, _, _):
      return (origin, "cannot read the file as UTF-8 YAML: \(problem)")
    case .duplicatedKeysInMapping(let duplicates, let context):
      let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
      return (
        (context.mark.line, context.mark.column),
        "duplicate key \(names) in a mapping; each key may appear once"
      )
    case .dataCouldNotBeDecoded:
      return (origin, "the file is not valid UTF-8")
    default:
      return (origin, "invalid YAML: \(error)")
    }
  }

  /// The number of the first line longer than `maxLineBytes`, if any.
  static func longLine(_ source: String) -> Int? {
    var text = source
    return text.withUTF8 { bytes -> Int? in
      var line = 1
      var length = 0
      var previousCR = false
      for byte in bytes {
        switch byte {
        case 10:
          if !previousCR { line += 1 }
          length = 0
          previousCR = false
        case 13:
          line += 1
          length = 0
          previousCR = true
        default:
          length += 1
          previousCR = false
          if length > maxLineBytes { return line }
        }
      }
      return nil
    }
  }

  /// Refuses documents that expand past the node budget (alias bombs) or nest too deep.
  static func sizeProblem(_ root: Node) -> (node: Node, message: String)? {
    var count = 0
    var stack: [(Node, Int)] = [(root, 1)]
    while let (node, depth) = stack.popLast() {
      count += 1
      if count > nodeBudget {
        return (
          root,
          "the document expands to more than \(nodeBudget) nodes (aliases that repeat aliases?); refusing to read it"
        )
      }
      if depth > depthLimit {
        return (node, "nesting deeper than \(depthLimit) levels; a runbook never needs that")
      }
      switch node {
      case .mapping(let mapping):
        for (key, value) in mapping {
          stack.append((key, depth + 1))
          stack.append((value, depth + 1))
        }
      case .sequence(let sequence):
        for item in sequence { stack.append((item, depth + 1)) }
      case .scalar, .alias:
        break
      }
    }
    return nil
  }
}
