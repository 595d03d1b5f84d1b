import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Durable, atomic replacement of small files (dotenv files), with backups.
///
/// A replace resolves symlinks to the real file, writes the new bytes to a temporary file in
/// the same directory (`.NAME.rollback-tmp-PID-RANDOM`, created `O_EXCL`, mode 0600), gives it
/// the original's owner and mode, `fsync`s it, renames it over the original and `fsync`s the
/// directory. Readers see the old bytes or the new bytes, never a mix; after a crash the file
/// holds one of the two. On any failure before the rename the temporary file is removed and
/// the original is untouched. `Data.write(options: .atomic)` is not used: on Linux it resets
/// the mode to 0644.
public enum AtomicFile {
  /// The marker in the name of every temporary file this type creates.
  public static let temporaryMarker = ".rollback-tmp-"

  /// What a successful replace did.
  public struct Replacement: Sendable, Equatable {
    /// The real path that was replaced (symlinks resolved).
    public let path: String
    /// The bytes the file held before.
    public let previous: [UInt8]
  }

  /// The absolute path of `path` with every symlink resolved.
  public static func resolve(_ path: String) throws(FileError) -> String {
    do {
      return try AtomicFilePOSIX.realPath(path)
    } catch {
      throw FileError.from(errno: error.code, path: path, operation: "resolve")
    }
  }

  /// The bytes of the file at `path` (following symlinks).
  public static func read(_ path: String) throws(FileError) -> [UInt8] {
    let descriptor = try openRegularFile(path)
    defer { close(descriptor.descriptor) }
    do {
      return try AtomicFilePOSIX.readAll(descriptor.descriptor)
    } catch {
      throw FileError.from(errno: error.code, path: path, operation: "read")
    }
  }

  /// Atomically and durably replaces the content of the existing file at `path` with `bytes`,
  /// keeping its mode and owner; a symlink stays a symlink and its target changes.
  ///
  /// - Parameter expected: when given, the replace is refused with `.changedMeanwhile` unless the
  ///   file still holds exactly these bytes (the ones the edit was computed from).
  /// - Returns: the real path and the bytes the file held before.
  @discardableResult
  public static func replace(_ path: String, with bytes: [UInt8], expecting expected: [UInt8]? = nil)
    throws(FileError) -> Replacement
  {
    let realPath = try resolve(path)
    let original = try openRegularFile(realPath, shownAs: path)
    let previous: [UInt8]
    let unchanged: Bool
    do {
      defer { close(original.descriptor) }
      if let expected {
        // Compared while reading; on success the file held exactly `expected`.
        unchanged = try AtomicFilePOSIX.contentEquals(original.descriptor, expected)
        previous = expected
      } else {
        previous = try AtomicFilePOSIX.readAll(original.descriptor)
        unchanged = true
      }
    } catch {
      throw FileError.from(errno: error.code, path: path, operation: "read")
    }
    if !unchanged { throw .changedMeanwhile(path: path) }
    try writeDurably(
      bytes, to: realPath, shownAs: path, mode: original.status.st_mode & 0o7777,
      owner: (original.status.st_uid, original.status.st_gid), replacing: true)
    return Replacement(path: realPath, previous: previous)
  }

  /// Durably creates a new file at `path` holding `bytes` with `mode`; fails with `EEXIST` when
  /// a file is already there (it is never overwritten). The directory must exist.
  public static func create(_ path: String, with bytes: [UInt8], mode: mode_t = 0o644) throws(FileError) {
    let directory = try resolve(AtomicFilePOSIX.directoryName(path))
    let realPath = AtomicFilePOSIX.join(directory, AtomicFilePOSIX.baseName(path))
    try writeDurably(bytes, to: realPath, shownAs: path, mode: mode, owner: nil, replacing: false)
  }

  /// Durably copies the current content of `path` into `directory` (created with mode 0700 if
  /// missing) as a new file of mode 0600, named after the real path and the time.
  ///
  /// - Returns: the path of the backup.
  @discardableResult
  public static func backup(path: String, to directory: String, at time: Date = Date()) throws(FileError)
    -> String
  {
    let realPath = try resolve(path)
    return try backup(contents: read(realPath), of: realPath, to: directory, at: time)
  }

  /// Durably writes `contents` (the previous content of `path`) into `directory` as a new file
  /// of mode 0600 named `PATH_WITH_UNDERSCORES.YYYYMMDDTHHMMSSZ[.N].bak`; never overwrites one.
  ///
  /// - Parameter time: the time in the name (UTC).
  /// - Returns: the path of the backup.
  ///
  /// With `reusingIdentical`, a backup of `path` already in `directory` that holds exactly
  /// `contents` is returned instead of writing another: a step run again after a kill leaves
  /// one backup per file, not two.
  @discardableResult
  public static func backup(
    contents: [UInt8], of path: String, to directory: String, at time: Date = Date(),
    reusingIdentical: Bool = false
  )
    throws(FileError) -> String
  {
    do {
      try AtomicFilePOSIX.makeDirectories(directory, mode: 0o700)
    } catch {
      throw FileError.from(errno: error.code, path: directory, operation: "create the backup directory")
    }
    if reusingIdentical, let existing = identicalBackup(of: path, holding: contents, in: directory) {
      return existing
    }
    let stem = backupStem(for: path, at: time)
    for attempt in 0..<1000 {
      let name = attempt == 0 ? "\(stem).bak" : "\(stem).\(attempt).bak"
      let target = AtomicFilePOSIX.join(directory, name)
      do throws(FileError) {
        try writeDurably(contents, to: target, shownAs: target, mode: 0o600, owner: nil, replacing: false)
        return target
      } catch .other(_, EEXIST, _) {
        continue
      } catch {
        throw error
      }
    }
    throw .other(path: directory, errno: EEXIST, operation: "find a free backup name in")
  }

  /// Removes the temporary files (`.*.rollback-tmp-PID-*`) that killed runs left in
  /// `directory`: those whose process is gone, or that are older than an hour.
  ///
  /// - Returns: the paths removed.
  @discardableResult
  public static func cleanStrayTempFiles(in directory: String) throws(FileError) -> [String] {
    guard let listed = AtomicFilePOSIX.names(in: directory) else {
      throw FileError.last(path: directory, operation: "list")
    }
    let names = listed.filter { $0.hasPrefix(".") && $0.contains(temporaryMarker) }
    var removed: [String] = []
    let now = Date().timeIntervalSince1970
    for name in names {
      let path = AtomicFilePOSIX.join(directory, name)
      guard let info = AtomicFilePOSIX.linkStatus(path), AtomicFilePOSIX.isRegular(info.st_mode) else {
        continue
      }
      #if canImport(Glibc)
        let age = now - TimeInterval(info.st_mtim.tv_sec)
      #else
        let age = now - TimeInterval(info.st_mtimespec.tv_sec)
      #endif
      if let pid = temporaryFileOwner(name), AtomicFilePOSIX.processExists(pid), age < 3600 { continue }
      if unlink(path) == 0 {
        removed.append(path)
      } else if errno != ENOENT {
        throw FileError.last(path: path, operation: "remove the stray temporary file")
      }
    }
    return removed
  }

  /// True when `path` (symlinks resolved) exists and both it and its directory are writable by
  /// this process, as a preflight before a run changes anything.
  public static func isWritable(_ path: String) -> Bool {
    (try? checkWritable(path)) != nil
  }

  /// Throws the reason `path` cannot be replaced: missing, or it or its directory not writable.
  ///
  /// Checks with the effective identity (`faccessat(AT_EACCESS)`), the one `open` uses.
  public static func checkWritable(_ path: String) throws(FileError) {
    let realPath = try resolve(path)
    if faccessat(AT_FDCWD, realPath, W_OK, AT_EACCESS) != 0 {
      throw FileError.last(path: path, operation: "write")
    }
    let directory = AtomicFilePOSIX.directoryName(realPath)
    if faccessat(AT_FDCWD, directory, W_OK, AT_EACCESS) != 0 {
      throw FileError.last(path: path, operation: "create a temporary file beside")
    }
  }

  // MARK: - The durable write

  /// Writes `bytes` to a temporary file beside `target`, gives it `mode` and `owner`, syncs it,
  /// moves it to `target` (rename when `replacing`, else link, which refuses to overwrite) and
  /// syncs the directory. The temporary file never outlives a failure.
  private static func writeDurably(
    _ bytes: [UInt8], to target: String, shownAs shown: String, mode: mode_t, owner: (uid_t, gid_t)?,
    replacing: Bool
  ) throws(FileError) {
    let directory = AtomicFilePOSIX.directoryName(target)
    let (temporary, descriptor) = try createTemporaryFile(beside: target, shownAs: shown)
    var descriptorOpen = true
    do throws(FileError) {
      defer { if descriptorOpen { close(descriptor) } }
      try step(shown, "write") { () throws(AtomicFileErrno) in try AtomicFilePOSIX.writeAll(descriptor, bytes)
      }
      if let owner {
        let current = try step(shown, "inspect the temporary file for") { () throws(AtomicFileErrno) in
          try AtomicFilePOSIX.status(descriptor)
        }
        if current.st_uid != owner.0 || current.st_gid != owner.1 {
          try step(shown, "keep the owner of") { () throws(AtomicFileErrno) in
            if fchown(descriptor, owner.0, owner.1) != 0 { throw AtomicFileErrno(errno) }
          }
        }
      }
      try step(shown, "keep the mode of") { () throws(AtomicFileErrno) in
        if fchmod(descriptor, mode) != 0 { throw AtomicFileErrno(errno) }
      }
      try step(shown, "sync") { () throws(AtomicFileErrno) in try AtomicFilePOSIX.sync(descriptor) }
      descriptorOpen = false
      try step(shown, "write") { () throws(AtomicFileErrno) in
        if close(descriptor) != 0 { throw AtomicFileErrno(errno) }
      }
      if replacing {
        try step(shown, "rename the new content over") { () throws(AtomicFileErrno) in
          if rename(temporary, target) != 0 { throw AtomicFileErrno(errno) }
        }
      } else {
        try step(shown, "create") { () throws(AtomicFileErrno) in
          if link(temporary, target) != 0 { throw AtomicFileErrno(errno) }
        }
        unlink(temporary)
      }
    } catch {
      unlink(temporary)
      throw error
    }
    try step(shown, "sync the directory of") { () throws(AtomicFileErrno) in
      try AtomicFilePOSIX.syncDirectory(directory)
    }
  }

  /// Creates `.NAME.rollback-tmp-PID-RANDOM` beside `target` (`O_EXCL`, mode 0600).
  private static func createTemporaryFile(beside target: String, shownAs shown: String) throws(FileError)
    -> (path: String, descriptor: Int32)
  {
    let directory = AtomicFilePOSIX.directoryName(target)
    var base = AtomicFilePOSIX.baseName(target)
    if base.utf8.count > 200 { base = String(decoding: base.utf8.prefix(200), as: UTF8.self) }
    var lastError = AtomicFileErrno(EEXIST)
    for _ in 0..<16 {
      let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
      let path = AtomicFilePOSIX.join(directory, ".\(base)\(temporaryMarker)\(getpid())-\(suffix)")
      do {
        let descriptor = try AtomicFilePOSIX.open(path, O_CREAT | O_EXCL | O_WRONLY, mode: 0o600)
        return (path, descriptor)
      } catch {
        lastError = error
        if error.code != EEXIST { break }
      }
    }
    throw FileError.from(errno: lastError.code, path: shown, operation: "create a temporary file beside")
  }

  /// Opens an existing regular file for reading.
  private static func openRegularFile(_ path: String, shownAs shown: String? = nil) throws(FileError)
    -> (descriptor: Int32, status: stat)
  {
    let name = shown ?? path
    let descriptor = try step(name, "open") { () throws(AtomicFileErrno) in
      try AtomicFilePOSIX.open(path, O_RDONLY)
    }
    let status: stat
    do {
      status = try AtomicFilePOSIX.status(descriptor)
    } catch {
      close(descriptor)
      throw FileError.from(errno: error.code, path: name, operation: "inspect")
    }
    guard AtomicFilePOSIX.isRegular(status.st_mode) else {
      close(descriptor)
      throw FileError.other(path: name, errno: EINVAL, operation: "edit (not a regular file)")
    }
    return (descriptor, status)
  }

  /// Runs one system call wrapper, turning its `errno` into a `FileError` about `path`.
  private static func step<T>(
    _ path: String, _ operation: String, _ body: () throws(AtomicFileErrno) -> T
  ) throws(FileError) -> T {
    do {
      return try body()
    } catch {
      throw FileError.from(errno: error.code, path: path, operation: operation)
    }
  }

  /// A backup of `path` in `directory` whose bytes are `contents`, if there is one.
  static func identicalBackup(of path: String, holding contents: [UInt8], in directory: String) -> String? {
    let prefix = backupName(for: path) + "."
    for name in AtomicFilePOSIX.names(in: directory) ?? [] {
      guard name.hasPrefix(prefix), name.hasSuffix(".bak") else { continue }
      let candidate = AtomicFilePOSIX.join(directory, name)
      if let info = AtomicFilePOSIX.linkStatus(candidate), AtomicFilePOSIX.isRegular(info.st_mode),
        Int(info.st_size) == contents.count, (try? read(candidate)) == contents
      {
        return candidate
      }
    }
    return nil
  }

  /// `path` flattened into one file name (slashes to underscores, at most 180 bytes).
  static func backupName(for path: String) -> String {
    let flat = path.split(separator: "/").joined(separator: "_")
    return flat.utf8.count > 180 ? String(decoding: flat.utf8.suffix(180), as: UTF8.self) : flat
  }

  /// `PATH_WITH_UNDERSCORES.YYYYMMDDTHHMMSSZ` for a backup of `path`.
  static func backupStem(for path: String, at time: Date) -> String {
    let flat = backupName(for: path)
    var seconds = time_t(time.timeIntervalSince1970.rounded(.down))
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let stamp =
      "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
      + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    return "\(flat).\(stamp)"
  }

  /// The pid in `.NAME.rollback-tmp-PID-RANDOM`, if it is there.
  static func temporaryFileOwner(_ name: String) -> Int32? {
    guard let marker = name.range(of: temporaryMarker, options: .backwards) else { return nil }
    let rest = name[marker.upperBound...]
    guard let dash = rest.firstIndex(of: "-") else { return nil }
    return Int32(rest[..<dash])
  }
}
