import Foundation
import RollbackCore

/// Changing a flag in dotenv files on one host: the same editor as locally (``DotEnvDocument``,
/// byte-preserving, same refusals), the bytes read and written through ``RemoteFileStore``.
public struct RemoteFlagEditor: Sendable {
  /// What a change did (or would do) on the host.
  public struct Result: Sendable {
    /// Per-file changes (the backup paths are local).
    public var changes: [FlagFileChange]
    /// Unified diffs of the files that change (for dry runs and reports).
    public var diffs: [String]
  }

  /// Why a change was refused or failed. Nothing on the host changed unless the file error
  /// says otherwise (``RemoteFileError/partial(host:path:restored:)``).
  public enum EditError: Error, Sendable, CustomStringConvertible {
    /// Reading or writing a file on the host.
    case file(RemoteFileError)
    /// The dotenv text cannot be edited safely.
    case dotenv(host: String, path: String, DotEnvError)
    /// The local backup could not be written (so nothing was written on the host).
    case backup(FileError)

    /// A lowercase message naming the host and file.
    public var description: String {
      switch self {
      case .file(let error): return error.description
      case .dotenv(let host, let path, let error):
        return "\(host): \(path): \(error.description); the file was not changed"
      case .backup(let error):
        return "cannot keep the backup locally: \(error.description); nothing was changed"
      }
    }
  }

  /// The host's file store.
  public let store: RemoteFileStore

  /// Creates an editor over a host's file store.
  public init(store: RemoteFileStore) {
    self.store = store
  }

  /// Sets `key` to `value` in every file, all or nothing: every file is read (one remote
  /// script for all) and edited before any is written; backups are stored locally first; then
  /// one remote script replaces the changed files, refusing if any changed since it was read.
  ///
  /// `known` holds contents already read (by the run's preflight) that stand for a read: when
  /// the host then refuses the write because a file changed since, every file is read again and
  /// the edit retried once.
  public func set(
    key: String, value: String, in files: [String], backups: FleetBackups?, dryRun: Bool,
    known: [String: RemoteFile] = [:]
  ) async throws(EditError) -> Result {
    do {
      return try await attempt(
        key: key, value: value, in: files, backups: backups, dryRun: dryRun, known: known)
    } catch .file(.changedMeanwhile) where !known.isEmpty {
      return try await attempt(
        key: key, value: value, in: files, backups: backups, dryRun: dryRun, known: [:])
    }
  }

  private func attempt(
    key: String, value: String, in files: [String], backups: FleetBackups?, dryRun: Bool,
    known: [String: RemoteFile]
  ) async throws(EditError) -> Result {
    let read = try await contents(of: files, known: known)
    let host = store.host.name
    var edits: [(file: RemoteFile, edit: DotEnvEdit)] = []
    for file in read {
      do {
        edits.append((file, try DotEnvDocument(bytes: file.bytes).setting(key: key, value: value)))
      } catch {
        throw .dotenv(host: host, path: file.path, error)
      }
    }
    var changes: [FlagFileChange] = []
    var diffs: [String] = []
    var writes: [(file: RemoteFile, bytes: [UInt8])] = []
    for (file, edit) in edits {
      var change = FlagFileChange(
        file: file.path, key: key, before: edit.oldValue, after: value, changed: !edit.isUnchanged,
        backup: nil)
      if change.changed {
        diffs.append(unifiedDiff(old: file.bytes, new: edit.bytes, path: "\(host):\(file.path)"))
        if !dryRun {
          if let backups {
            do { change.backup = try backups.store(file.bytes, of: file.realPath, host: host) } catch {
              throw .backup(error)
            }
          }
          writes.append((file, edit.bytes))
        }
      }
      changes.append(change)
    }
    do { try await store.replace(writes) } catch { throw .file(error) }
    return Result(changes: changes, diffs: diffs)
  }

  /// Each file's content, in order: from `known` when there, the others read in one script.
  private func contents(of files: [String], known: [String: RemoteFile]) async throws(EditError)
    -> [RemoteFile]
  {
    let missing = files.filter { known[$0] == nil }
    let results: [Swift.Result<RemoteFile, RemoteFileError>]
    do { results = try await store.readAll(missing) } catch { throw .file(error) }
    var read: [String: RemoteFile] = known
    for (path, result) in zip(missing, results) {
      switch result {
      case .success(let file): read[path] = file
      case .failure(let error): throw .file(error)
      }
    }
    return files.compactMap { read[$0] }
  }
}
