import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `rollback restore RUN_ID [FILE]…`: puts back what a run changed in flag files, from its backups.
struct RestoreCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "restore",
    abstract: "Put back the flag files a run changed, from the backups it took in STATE/backups.",
    discussion: """
      Reads the run's journal for the files its flag steps changed and the backup of each (the
      content before the run's first change), and writes those bytes back atomically (temporary
      file, fsync, rename; mode and owner kept). Without FILE every file the run changed is
      restored. Holds STATE/lock while writing and appends a `restored` event to the run's own
      journal. Restarting the services that read the files is up to you (rollback execute or the
      process manager).
      """)

  @OptionGroup var options: RunbookOptions

  @Argument(help: ArgumentHelp("The run whose changes to undo (see rollback history).", valueName: "run-id"))
  var runID: String

  @Argument(help: ArgumentHelp("Only these files (as the run names them); default: all.", valueName: "file"))
  var files: [String] = []

  @Flag(name: .long, help: "Show what would be restored; write nothing.")
  var dryRun = false

  /// One file to put back.
  struct Entry {
    var file: String
    var backup: String
  }

  func run() async throws {
    let state = try stateDirectory(options, runbookPath: try options.runbookPath())
    guard runID.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), !runID.hasPrefix(".") else {
      throw CLIError.usage("'\(runID)' is not a run id (see rollback history)")
    }
    let journal = JournalReader.path(stateDirectory: state, runID: runID)
    guard FileManager.default.fileExists(atPath: journal) else {
      throw CLIError.usage("no run \(runID) in \(state) (see rollback history)")
    }
    let entries = try chosen(from: try changedFiles(journal: journal))
    guard !entries.isEmpty else {
      Console.human("run \(runID) changed no flag file: nothing to restore", json: options.json)
      if options.json {
        Console.output(JSONValue.object([("run_id", .string(runID)), ("files", .array([]))]).pretty())
      }
      return
    }
    let contents = try backups(of: entries)
    let lock = try StateLock.take(state, runID: "restore-\(runID)", dryRun: dryRun)
    defer { lock?.release() }
    let results = zip(entries, contents).map { restore($0, to: $1) }
    if !dryRun { journalRestore(results, in: journal) }
    if options.json {
      Console.output(
        JSONValue.object([
          ("run_id", .string(runID)), ("dry_run", .bool(dryRun)), ("files", .array(results.map(\.json))),
        ]).pretty())
    }
    if results.contains(where: { $0.status == "failed" }) { throw ExitCode(.failed) }
  }

  /// The files the run changed, each with its first backup (its content before the run).
  func changedFiles(journal: String) throws -> [Entry] {
    let events: [JournalEvent]
    do {
      events = try JournalReader.events(at: journal, kinds: [JournalEvent.Kind.stepFinished])
    } catch {
      throw CLIError.usage("cannot read the journal of run \(runID): \(error.description)")
    }
    var entries: [Entry] = []
    // A host's changes (`host` set) are files on that host, not here: never restored locally.
    for case .stepFinished(let step) in events where step.host == nil {
      for change in step.flagChanges {
        guard let file = change.file, let backup = change.backup, change.changed == true,
          !entries.contains(where: { $0.file == file })
        else { continue }
        entries.append(Entry(file: file, backup: backup))
      }
    }
    return entries
  }

  /// The entries for the FILE arguments (all without any); a file the run did not change is a
  /// usage error naming the ones it did.
  func chosen(from entries: [Entry]) throws -> [Entry] {
    guard !files.isEmpty else { return entries }
    let unknown = files.filter { wanted in !entries.contains { Self.same($0.file, wanted) } }
    if !unknown.isEmpty {
      let known = entries.map(\.file).joined(separator: ", ")
      throw CLIError.usage(
        "run \(runID) did not change \(unknown.joined(separator: ", ")); it changed: \(known.isEmpty ? "no file" : known)"
      )
    }
    return entries.filter { entry in files.contains { Self.same(entry.file, $0) } }
  }

  /// Every backup, read before any file is written: a missing backup changes nothing.
  func backups(of entries: [Entry]) throws -> [[UInt8]] {
    var contents: [[UInt8]] = []
    for entry in entries {
      do {
        contents.append(try AtomicFile.read(entry.backup))
      } catch {
        throw CLIError.usage(
          "cannot read the backup of \(entry.file) (\(entry.backup)): \(error.description)")
      }
    }
    return contents
  }

  /// Puts one file back (or says what it would do), printing the outcome.
  func restore(_ entry: Entry, to bytes: [UInt8]) -> RestoredEvent.File {
    var status: String
    var problem: String?
    do {
      let current = try AtomicFile.read(entry.file)
      if current == bytes {
        status = "unchanged"
      } else if dryRun {
        status = "would-restore"
      } else {
        try AtomicFile.replace(entry.file, with: bytes, expecting: current)
        status = "restored"
      }
    } catch {
      status = "failed"
      problem = error.description
    }
    let line: String
    switch status {
    case "restored": line = "restored \(entry.file) from \(entry.backup)"
    case "would-restore": line = "would restore \(entry.file) from \(entry.backup)"
    case "unchanged": line = "\(entry.file) already holds its backup's bytes; left as is"
    default: line = "error: cannot restore \(entry.file): \(problem ?? "")"
    }
    if status == "failed" { Console.error(line) } else { Console.human(line, json: options.json) }
    return RestoredEvent.File(file: entry.file, backup: entry.backup, status: status, error: problem)
  }

  /// Appends the restore to the run's journal; a failure to is a warning (the files are back).
  func journalRestore(_ results: [RestoredEvent.File], in journal: String) {
    do {
      let writer = try JournalWriter(path: journal, redact: { $0 })
      try writer.append(
        .restored(
          RestoredEvent(
            at: Timestamp.iso(Date()),
            user: ProcessInfo.processInfo.environment["USER"] ?? String(getuid()),
            files: results)))
    } catch {
      Console.error("warning: could not journal the restore in \(journal): \(error.description)")
    }
  }

  /// Whether two spellings name the same file (as given, or both resolved to absolute paths).
  static func same(_ recorded: String, _ given: String) -> Bool {
    if recorded == given { return true }
    func absolute(_ path: String) -> String {
      let full =
        path.hasPrefix("/")
        ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
      return (full as NSString).standardizingPath
    }
    return absolute(recorded) == absolute(given)
  }
}
