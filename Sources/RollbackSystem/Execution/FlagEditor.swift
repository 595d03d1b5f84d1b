import Foundation
import RollbackCore

/// Changing feature flags in dotenv files: shared by flag steps and `rollback flag`.
public struct FlagEditor: Sendable {
  /// What one flag change did (or would do) to each file.
  public struct Result: Sendable {
    /// Per-file changes.
    public var changes: [FlagFileChange]
    /// Unified diffs, for dry runs.
    public var diffs: [String]
    /// A one-line summary.
    public var summary: String
  }

  /// Problems changing a flag.
  public enum EditError: Error, Sendable, CustomStringConvertible {
    /// A file is missing and the flag does not allow creating it.
    case missing(String)
    /// The dotenv text cannot be edited safely.
    case dotenv(String, DotEnvError)
    /// The file could not be read or written.
    case file(FileError)
    /// The current rollout percentage cannot be read.
    case badPercent(String, String)
    /// A file could not be written after others were: those were put back as they were
    /// (`restored`), or could not be (`unrestored`; their backups hold the old content).
    case partial(FileError, restored: [String], unrestored: [String])
    /// A change on another host failed; the text names the host and file.
    case remote(String)

    /// A lowercase description naming the file.
    public var description: String {
      switch self {
      case .missing(let path): return "\(path) does not exist (set create: true on the flag to create it)"
      case .dotenv(let path, let error): return "\(path): \(error.description); the file was not changed"
      case .file(let error): return error.description
      case .badPercent(let path, let value): return "\(path): rollout percentage '\(value)' is not a number"
      case .remote(let text): return text
      case .partial(let error, let restored, let unrestored):
        var text = error.description
        if !restored.isEmpty {
          text +=
            "; \(restored.joined(separator: ", ")) had already been changed and \(restored.count == 1 ? "was" : "were") put back as before"
        }
        if !unrestored.isEmpty {
          text +=
            "; \(unrestored.joined(separator: ", ")) had already been changed and could NOT be put back (see the backups)"
        }
        return text
      }
    }
  }

  /// The runbook flag whose files are edited.
  public let flag: FeatureFlag
  /// Its files, resolved.
  public let files: [String]

  /// Creates an editor for a flag's resolved files.
  public init(flag: FeatureFlag, files: [String]) {
    self.flag = flag
    self.files = files
  }

  /// The key a change writes and the value it writes, given the current values.
  func target(for change: FlagChange, current: [String: String?]) throws(EditError) -> (
    key: String, value: String
  ) {
    switch change {
    case .enable: return (flag.key, flag.enabled)
    case .disable: return (flag.key, flag.disabled)
    case .percent(let value): return (flag.percentKey ?? flag.key, String(value))
    case .stepDown:
      let key = flag.percentKey ?? flag.key
      var highest = 0
      for (path, value) in current {
        guard let value else { continue }
        guard let number = Int(value.trimmingCharacters(in: .whitespaces)) else {
          throw .badPercent(path, value)
        }
        highest = max(highest, number)
      }
      let next = flag.stages.filter { $0 < highest }.max() ?? flag.stages.min() ?? 0
      return (key, String(next))
    }
  }

  /// Current values of a key in every file (nil when absent or the file is missing).
  public func values(of key: String) -> [(file: String, value: String?)] {
    files.map { path in
      guard let bytes = try? AtomicFile.read(path) else { return (path, nil) }
      return (path, (try? DotEnvDocument(bytes: bytes).value(of: key)) ?? nil)
    }
  }

  /// Applies a change to every file: nothing is written unless every file can be edited.
  ///
  /// Backups of the previous content go to `backupDirectory`; with `dryRun` nothing is written.
  /// With `reuseBackups` (a run's own backup directory), a file whose identical backup is already
  /// there gets no second one.
  public func apply(
    _ change: FlagChange, backupDirectory: String, dryRun: Bool, reuseBackups: Bool = false
  ) throws(EditError) -> Result {
    // Held from the first read to the last rename: another rollback editing the same files
    // (another runbook, another state directory) waits, so neither change is lost.
    var editLock: AtomicFileEditLock?
    if !dryRun {
      do { editLock = try AtomicFileEditLock.acquire(for: files) } catch { throw .file(error) }
    }
    defer { editLock?.release() }
    let documents = try readDocuments()
    let (key, value) = try target(for: change, current: try currentValues(documents, change: change))
    var edits: [(path: String, old: [UInt8]?, edit: DotEnvEdit)] = []
    for (path, bytes) in documents {
      do {
        edits.append((path, bytes, try DotEnvDocument(bytes: bytes ?? []).setting(key: key, value: value)))
      } catch {
        throw .dotenv(path, error)
      }
    }
    if !dryRun {
      // Every file that will change must be writable before the first is written.
      for (path, old, edit) in edits where old != nil && !edit.isUnchanged {
        do { try AtomicFile.checkWritable(path) } catch { throw .file(error) }
      }
    }
    let (changes, diffs) = try write(
      edits, key: key, value: value, backupDirectory: backupDirectory, dryRun: dryRun,
      reuseBackups: reuseBackups)
    let changed = changes.filter(\.changed)
    let befores = Set(changes.map { $0.before ?? "(unset)" }).sorted().joined(separator: "/")
    let summary: String
    if changed.isEmpty {
      summary =
        "\(key) already \(value) in \(changes.count) file\(changes.count == 1 ? "" : "s"); nothing written"
    } else {
      let verb = dryRun ? "would change" : "changed"
      summary =
        "\(key) \(befores) -> \(value) (\(verb) \(changed.count) of \(changes.count) file\(changes.count == 1 ? "" : "s"))"
    }
    return Result(changes: changes, diffs: diffs, summary: summary)
  }

  /// Every file's bytes; nil for a missing file the flag may create.
  func readDocuments() throws(EditError) -> [(path: String, bytes: [UInt8]?)] {
    var documents: [(path: String, bytes: [UInt8]?)] = []
    for path in files {
      do {
        documents.append((path, try AtomicFile.read(path)))
      } catch {
        if case .notFound = error, flag.create {
          documents.append((path, nil))
        } else if case .notFound = error {
          throw .missing(path)
        } else {
          throw .file(error)
        }
      }
    }
    return documents
  }

  /// The current rollout values, which a step down needs.
  func currentValues(_ documents: [(path: String, bytes: [UInt8]?)], change: FlagChange) throws(EditError)
    -> [String: String?]
  {
    var current: [String: String?] = [:]
    guard change == .stepDown else { return current }
    let key = flag.percentKey ?? flag.key
    for (path, bytes) in documents {
      guard let bytes else { continue }
      do { current[path] = try DotEnvDocument(bytes: bytes).value(of: key) } catch {
        throw .dotenv(path, error)
      }
    }
    return current
  }

  /// Writes each edit (with its backup), or describes it in a dry run; a failure puts back what
  /// this call already wrote.
  func write(
    _ edits: [(path: String, old: [UInt8]?, edit: DotEnvEdit)], key: String, value: String,
    backupDirectory: String, dryRun: Bool, reuseBackups: Bool
  ) throws(EditError) -> (changes: [FlagFileChange], diffs: [String]) {
    var changes: [FlagFileChange] = []
    var diffs: [String] = []
    // What this call wrote, so that a failure on a later file puts the earlier ones back: a
    // flag is never left on in one file and off in another.
    var written: [(path: String, old: [UInt8]?, new: [UInt8])] = []
    for (path, old, edit) in edits {
      var change = FlagFileChange(
        file: path, key: key, before: edit.oldValue, after: value, changed: !edit.isUnchanged || old == nil,
        backup: nil)
      if dryRun {
        if change.changed { diffs.append(unifiedDiff(old: old ?? [], new: edit.bytes, path: path)) }
      } else if change.changed {
        do {
          if let old {
            change.backup = try AtomicFile.backup(
              contents: old, of: path, to: backupDirectory, reusingIdentical: reuseBackups)
            try AtomicFile.replace(path, with: edit.bytes, expecting: old)
          } else {
            try AtomicFile.create(path, with: edit.bytes)
          }
          written.append((path, old, edit.bytes))
        } catch {
          guard !written.isEmpty else { throw .file(error) }
          throw Self.putBack(written, after: error)
        }
      }
      changes.append(change)
    }
    return (changes, diffs)
  }

  /// Puts back the files written before `error`, newest first: a flag is never left on in one
  /// file and off in another.
  static func putBack(_ written: [(path: String, old: [UInt8]?, new: [UInt8])], after error: FileError)
    -> EditError
  {
    var restored: [String] = []
    var unrestored: [String] = []
    for file in written.reversed() {
      do {
        if let previous = file.old {
          try AtomicFile.replace(file.path, with: previous, expecting: file.new)
        } else if (try? AtomicFile.read(file.path)) == file.new, unlink(file.path) != 0 {
          throw FileError.last(path: file.path, operation: "remove")
        }
        restored.append(file.path)
      } catch {
        unrestored.append(file.path)
      }
    }
    return .partial(error, restored: restored.reversed(), unrestored: unrestored.reversed())
  }

}
