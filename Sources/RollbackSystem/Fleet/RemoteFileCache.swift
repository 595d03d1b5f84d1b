import Foundation

/// The flag files a fleet run's preflight read, kept so that the first edit of each file on each
/// host needs no second read: the edit uses the kept content once (it is removed when taken),
/// and the host's compare-and-swap on its hash still refuses a file that changed since; the edit
/// then reads the file again and retries once (``RemoteFlagEditor``).
public final class RemoteFileCache: Sendable {
  private let files = LockedBox<[String: [String: RemoteFile]]>([:])

  /// An empty cache.
  public init() {}

  /// Keeps `file` (read on `host`) for the next edit of its path there.
  public func keep(_ file: RemoteFile, host: String) {
    files.update { $0[host, default: [:]][file.path] = file }
  }

  /// The kept content of each of `paths` on `host` that has one, removed from the cache.
  public func take(_ paths: [String], host: String) -> [String: RemoteFile] {
    files.update { kept in
      var taken: [String: RemoteFile] = [:]
      for path in paths {
        if let file = kept[host]?.removeValue(forKey: path) { taken[path] = file }
      }
      return taken
    }
  }
}
