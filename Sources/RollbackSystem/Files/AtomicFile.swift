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
///
/// Only regular files are edited (opened `O_NONBLOCK` and checked with `fstat`, so a FIFO is
/// refused instead of hanging), never one with more than one hard link (the other names would
/// keep the old content). Extended attributes (POSIX ACLs, `user.*`, `security.*`) are copied
/// to the replacement, or the edit is refused before the rename. A symlink is followed only
/// when root, this user or the owner of its target owns it (the kernel's `protected_symlinks`
/// rule). The content is compared with the expected bytes again just before the rename, and
/// the old inode after it, so that another writer's change is refused, never lost.
///
/// Where Linux allows, the original is held with a read lease (``FileLease``) from before it is
/// read until the edit is done, and the new file takes its place by exchanging the two names
/// (``NameExchange``): the original then comes out under the temporary name, where it is checked
/// once more (same inode, same bytes, lease unbroken: nobody replaced it, wrote it or opened it
/// for writing) before it goes; otherwise the names are exchanged back and the edit is refused,
/// the other writer's file in place (README, Decisions, names the residual limit).
public enum AtomicFile {
  /// The marker in the name of every temporary file this type creates.
  public static let temporaryMarker = ".rollback-tmp-"

  /// The extended attribute a temporary file carries from its creation until just before it is
  /// moved into place: its own inode number. A copy or a look-alike never matches, so the
  /// cleanup of stray temporary files removes only files this type made.
  static let temporaryProofAttribute = "user.rollback.temporary"

  /// What a successful replace did.
  public struct Replacement: Sendable, Equatable {
    /// The real path that was replaced (symlinks resolved).
    public let path: String
    /// The bytes the file held before.
    public let previous: [UInt8]
  }

  /// The absolute path of `path` with every symlink resolved.
  ///
  /// A symlink on the way is followed only when its owner is root, this process's effective
  /// user, or the owner of what it points to; any other is refused (`.refused`), so that root
  /// never writes where a less privileged user's link points.
  public static func resolve(_ path: String) throws(FileError) -> String {
    try checkSymlinks(path)
    do {
      return try Syscall.realPath(path)
    } catch {
      throw FileError.from(errno: error.code, path: path, operation: "resolve")
    }
  }

  /// Walks `path` component by component and refuses a symlink whose owner is neither root,
  /// the effective user nor the owner of its target. A missing component ends the walk (the
  /// open that follows reports it).
  static func checkSymlinks(_ path: String) throws(FileError) {
    var pending = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    var current: String
    if path.hasPrefix("/") {
      current = "/"
    } else {
      let cwd = FileManager.default.currentDirectoryPath
      guard cwd.hasPrefix("/") else { return }
      current = cwd
    }
    var hops = 0
    let me = geteuid()
    while !pending.isEmpty {
      let name = pending.removeFirst()
      if name == "." { continue }
      if name == ".." {
        current = Syscall.directoryName(current)
        continue
      }
      let next = Syscall.join(current, name)
      guard let info = Syscall.linkStatus(next) else { return }
      guard info.st_mode & S_IFMT == S_IFLNK else {
        current = next
        continue
      }
      hops += 1
      if hops > 40 { throw FileError.from(errno: ELOOP, path: path, operation: "resolve") }
      guard let target = Syscall.fileStatus(next) else { return }
      if info.st_uid != 0, info.st_uid != me, info.st_uid != target.st_uid {
        throw .refused(
          path: path,
          reason:
            "the symlink \(next) belongs to uid \(info.st_uid), neither root nor the owner of its "
            + "target (uid \(target.st_uid)); only such links are followed")
      }
      guard let destination = Syscall.readLink(next) else { return }
      if destination.hasPrefix("/") { current = "/" }
      pending =
        destination.split(separator: "/", omittingEmptySubsequences: true).map(String.init) + pending
    }
  }

  /// The bytes of the file at `path` (following only trusted symlinks, as ``resolve(_:)``).
  public static func read(_ path: String) throws(FileError) -> [UInt8] {
    try checkSymlinks(path)
    let descriptor = try openRegularFile(path)
    defer { close(descriptor.descriptor) }
    do {
      return try Syscall.readAll(descriptor.descriptor)
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
    try replace(path, with: bytes, expecting: expected, beforeSwap: nil)
  }

  /// ``replace(_:with:expecting:)`` with `beforeSwap` called with the original's descriptor just
  /// before the new file takes its place (after the last check): tests make another writer act
  /// in that window.
  static func replace(
    _ path: String, with bytes: [UInt8], expecting expected: [UInt8]?, beforeSwap: ((Int32) -> Void)?
  ) throws(FileError) -> Replacement {
    let realPath = try resolve(path)
    let original = try openRegularFile(realPath, shownAs: path)
    // Closing the descriptor releases the lease: a writer waiting in `open` goes on then.
    defer { close(original.descriptor) }
    let leased = FileLease.take(original.descriptor)
    if original.status.st_nlink > 1 {
      throw .refused(
        path: path,
        reason:
          "it has \(original.status.st_nlink) hard links, and replacing it would leave the other names "
          + "with the old content; edit the file through a single name (or a symlink)")
    }
    let previous: [UInt8]
    let unchanged: Bool
    do {
      if let expected {
        // Compared while reading; on success the file held exactly `expected`.
        unchanged = try Syscall.contentEquals(original.descriptor, expected)
        previous = expected
      } else {
        previous = try Syscall.readAll(original.descriptor)
        unchanged = true
      }
    } catch {
      throw FileError.from(errno: error.code, path: path, operation: "read")
    }
    if !unchanged { throw .changedMeanwhile(path: path) }
    let attributes = try attributesToKeep(original.descriptor, shownAs: path)
    try writeDurably(
      bytes, to: realPath, shownAs: path, mode: original.status.st_mode & 0o7777,
      owner: (original.status.st_uid, original.status.st_gid), attributes: attributes,
      placement: .replace(
        Original(
          descriptor: original.descriptor, status: original.status, content: previous, leased: leased,
          beforeSwap: beforeSwap)))
    return Replacement(path: realPath, previous: previous)
  }

  /// Durably creates a new file at `path` holding `bytes` with `mode`; fails with `EEXIST` when
  /// a file is already there (it is never overwritten). The directory must exist.
  public static func create(_ path: String, with bytes: [UInt8], mode: mode_t = 0o644) throws(FileError) {
    let directory = try resolve(Syscall.directoryName(path))
    let realPath = Syscall.join(directory, Syscall.baseName(path))
    try writeDurably(
      bytes, to: realPath, shownAs: path, mode: mode, owner: nil, attributes: [], placement: .create)
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
      try Syscall.makeDirectories(directory, mode: 0o700)
    } catch {
      throw FileError.from(errno: error.code, path: directory, operation: "create the backup directory")
    }
    if reusingIdentical, let existing = identicalBackup(of: path, holding: contents, in: directory) {
      return existing
    }
    let stem = backupStem(for: path, at: time)
    for attempt in 0..<1000 {
      let name = attempt == 0 ? "\(stem).bak" : "\(stem).\(attempt).bak"
      let target = Syscall.join(directory, name)
      do throws(FileError) {
        try writeDurably(
          contents, to: target, shownAs: target, mode: 0o600, owner: nil, attributes: [], placement: .create)
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
  /// `directory`: those whose process is gone, or that are older than an hour. Only a file that
  /// proves it was made here is removed: a regular file owned by this user whose
  /// `user.rollback.temporary` attribute holds its own inode number. Look-alikes are kept.
  ///
  /// - Returns: the paths removed.
  @discardableResult
  public static func cleanStrayTempFiles(in directory: String) throws(FileError) -> [String] {
    guard let listed = Syscall.names(in: directory) else {
      throw FileError.last(path: directory, operation: "list")
    }
    let names = listed.filter { $0.hasPrefix(".") && $0.contains(temporaryMarker) }
    var removed: [String] = []
    let now = Date().timeIntervalSince1970
    for name in names {
      let path = Syscall.join(directory, name)
      guard let info = Syscall.linkStatus(path), Syscall.isRegular(info.st_mode),
        info.st_uid == geteuid(), isProvenTemporary(path, info)
      else {
        continue
      }
      #if canImport(Glibc)
        let age = now - TimeInterval(info.st_mtim.tv_sec)
        let changed = TimeInterval(info.st_ctim.tv_sec)
      #else
        let age = now - TimeInterval(info.st_mtimespec.tv_sec)
        let changed = TimeInterval(info.st_ctimespec.tv_sec)
      #endif
      if let pid = temporaryFileOwner(name), ownerLives(pid, changedAt: changed), age < 3600 { continue }
      if unlink(path) == 0 {
        removed.append(path)
      } else if errno != ENOENT {
        throw FileError.last(path: path, operation: "remove the stray temporary file")
      }
    }
    return removed
  }

  /// True when process `pid` lives and may have made a file last changed (`ctime`) at `changed`:
  /// it started no later than that. A process that started afterwards only reuses the pid of the
  /// run that made the file (pids wrap at `pid_max`, 32768 by default), and that run is gone.
  static func ownerLives(_ pid: Int32, changedAt changed: TimeInterval) -> Bool {
    guard Syscall.processExists(pid) else { return false }
    guard let started = try? ProcessStartTime.read(pid: pid) else { return true }
    // The start time may read up to a second early (whole-second boot time); a ctime is whole
    // seconds here: a second of slack either way keeps a live owner's file.
    return started.timeIntervalSince1970 <= changed + 2
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
    let directory = Syscall.directoryName(realPath)
    if faccessat(AT_FDCWD, directory, W_OK, AT_EACCESS) != 0 {
      throw FileError.last(path: path, operation: "create a temporary file beside")
    }
  }

  /// True when the file at `path` carries the proof this type gives its temporary files.
  static func isProvenTemporary(_ path: String, _ info: stat) -> Bool {
    guard
      let opened = try? Syscall.openRegular(path, O_RDONLY, noFollow: true)
    else { return false }
    defer { close(opened.descriptor) }
    guard opened.status.st_ino == info.st_ino, opened.status.st_dev == info.st_dev,
      let proof = try? Syscall.attribute(opened.descriptor, temporaryProofAttribute)
    else { return false }
    return proof == Array(String(info.st_ino).utf8)
  }

  // MARK: - The durable write

  /// How the temporary file takes its place.
  enum Placement {
    /// A new name (`link`, never overwriting).
    case create
    /// Over the original, checked unchanged just before the rename and after it.
    case replace(Original)
    /// Over whatever is there (putting another writer's content back).
    case restore
  }

  /// The file a replace reads and must find unchanged just before (and after) its rename.
  struct Original {
    let descriptor: Int32
    let status: stat
    let content: [UInt8]
    /// Whether a read lease on `descriptor` was taken (``FileLease``).
    let leased: Bool
    /// Called just before the swap (tests).
    let beforeSwap: ((Int32) -> Void)?

    /// True while nobody has opened the original for writing since its lease was taken (always
    /// true without a lease: nothing can tell then).
    var unopened: Bool { !leased || FileLease.isIntact(descriptor) }
  }

  /// The extended attributes of the original to copy to its replacement (the temporary file's
  /// proof excluded).
  private static func attributesToKeep(_ descriptor: Int32, shownAs shown: String) throws(FileError)
    -> [(name: String, value: [UInt8])]
  {
    var result: [(name: String, value: [UInt8])] = []
    let names = try step(shown, "list the extended attributes of") { () throws(AtomicFileErrno) in
      try Syscall.attributeNames(descriptor)
    }
    for name in names where name != temporaryProofAttribute {
      let value = try step(shown, "read the extended attribute \(name) of") { () throws(AtomicFileErrno) in
        try Syscall.attribute(descriptor, name)
      }
      result.append((name, value))
    }
    return result
  }

  /// Gives the temporary file exactly the original's extended attributes; refuses (nothing is
  /// written) when one cannot be set.
  private static func copyAttributes(
    _ attributes: [(name: String, value: [UInt8])], to descriptor: Int32, shownAs shown: String
  ) throws(FileError) {
    let wanted = Set(attributes.map(\.name))
    // A default ACL of the directory gives the new file an ACL the original may not have.
    for name in (try? Syscall.attributeNames(descriptor)) ?? []
    where !wanted.contains(name) && name != temporaryProofAttribute {
      XAttr.remove(descriptor, name)
    }
    for (name, value) in attributes {
      do {
        try Syscall.setAttribute(descriptor, name, value)
      } catch {
        throw .refused(
          path: shown,
          reason:
            "its extended attribute \(name) cannot be kept on the replacement "
            + "(\(String(cString: strerror(error.code))))")
      }
    }
  }

  /// Refuses unless `target` is still the original's inode holding the original's content.
  private static func checkUnchanged(_ original: Original, at target: String, shownAs shown: String)
    throws(FileError)
  {
    guard let now = Syscall.linkStatus(target), now.st_ino == original.status.st_ino,
      now.st_dev == original.status.st_dev
    else { throw .changedMeanwhile(path: shown) }
    guard original.unopened, stillHolds(original) else { throw .changedMeanwhile(path: shown) }
  }

  /// True when `path` names the file `descriptor` is open on.
  private static func names(_ path: String, _ descriptor: Int32) -> Bool {
    guard let named = Syscall.linkStatus(path), let open = try? Syscall.status(descriptor) else {
      return false
    }
    return named.st_ino == open.st_ino && named.st_dev == open.st_dev
  }

  /// True when the original's inode still holds its content (read from the start).
  private static func stillHolds(_ original: Original) -> Bool {
    guard lseek(original.descriptor, 0, SEEK_SET) == 0 else { return false }
    return (try? Syscall.contentEquals(original.descriptor, original.content)) ?? false
  }

  /// Writes `bytes` to a temporary file beside `target`, gives it `mode`, `owner` and
  /// `attributes`, syncs it, moves it to `target` (rename when replacing an original, checked
  /// unchanged just before; else link, which refuses to overwrite) and syncs the directory. The
  /// temporary file never outlives a failure. When the original's inode was written in place
  /// during the rename, that writer's content is put back and the replace fails.
  ///
  /// Where the file system allows it the temporary file is anonymous (`O_TMPFILE`) until it is
  /// complete and synced, so a kill while writing leaves nothing behind; it gets its name (with
  /// its proof already set) only for the rename.
  private static func writeDurably(
    _ bytes: [UInt8], to target: String, shownAs shown: String, mode: mode_t, owner: (uid_t, gid_t)?,
    attributes: [(name: String, value: [UInt8])], placement: Placement
  ) throws(FileError) {
    let original: Original?
    if case .replace(let replaced) = placement { original = replaced } else { original = nil }
    let directory = Syscall.directoryName(target)
    var temporary: String?
    let descriptor: Int32
    if let anonymous = openAnonymousFile(in: directory) {
      descriptor = anonymous
    } else {
      let created = try createTemporaryFile(beside: target, shownAs: shown)
      (temporary, descriptor) = (created.path, created.descriptor)
    }
    // Open until after the move: the proof comes off the final name only then.
    defer { close(descriptor) }
    // Where names were exchanged: the original's name after the swap, until it is confirmed.
    var displaced: String?
    do throws(FileError) {
      try fill(descriptor, with: bytes, shownAs: shown, mode: mode, owner: owner, attributes: attributes)
      if temporary == nil {
        if case .create = placement {
          // Straight to its name: link fails when the name exists.
          try step(shown, "create") { () throws(AtomicFileErrno) in
            try linkAnonymous(descriptor, to: target)
          }
        } else {
          temporary = try nameAnonymous(descriptor, beside: target, shownAs: shown)
        }
      }
      if let named = temporary {
        displaced = try move(named, to: target, shownAs: shown, placement: placement, original: original)
      }
      XAttr.remove(descriptor, temporaryProofAttribute)
    } catch {
      // Ours only: a failed swap back may have left another writer's file under that name.
      if let temporary, names(temporary, descriptor) { unlink(temporary) }
      throw error
    }
    try step(shown, "sync the directory of") { () throws(AtomicFileErrno) in
      try Syscall.syncDirectory(directory)
    }
    guard let original else { return }
    let untouched = original.unopened && stillHolds(original)
    if let displaced {
      if untouched {
        unlink(displaced)
        return
      }
      // Someone wrote into the original or opened it for writing since the last check: it goes
      // back in place (a writer waiting in `open` writes there once the lease is released).
      if NameExchange.swap(displaced, target) == 0 {
        XAttr.remove(original.descriptor, temporaryProofAttribute)
        if names(displaced, descriptor) { unlink(displaced) }
        try? Syscall.syncDirectory(directory)
        throw .changedMeanwhile(path: shown)
      }
    } else if untouched {
      return
    }
    // Someone wrote into the old inode between the last check and the rename: their bytes
    // go back in place of ours, and the edit is reported as not done.
    guard lseek(original.descriptor, 0, SEEK_SET) == 0,
      let theirs = try? Syscall.readAll(original.descriptor)
    else { throw .changedMeanwhile(path: shown) }
    try? writeDurably(
      theirs, to: target, shownAs: shown, mode: mode, owner: owner, attributes: attributes,
      placement: .restore)
    if let displaced { unlink(displaced) }
    throw .changedMeanwhile(path: shown)
  }

  /// Writes `bytes` to the temporary file, gives it `mode`, `owner` and `attributes`, and syncs it.
  private static func fill(
    _ descriptor: Int32, with bytes: [UInt8], shownAs shown: String, mode: mode_t, owner: (uid_t, gid_t)?,
    attributes: [(name: String, value: [UInt8])]
  ) throws(FileError) {
    try step(shown, "write") { () throws(AtomicFileErrno) in try Syscall.writeAll(descriptor, bytes)
    }
    if let owner {
      let current = try step(shown, "inspect the temporary file for") { () throws(AtomicFileErrno) in
        try Syscall.status(descriptor)
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
    // After the mode: setting an ACL sets the group bits to its mask, as on the original.
    try copyAttributes(attributes, to: descriptor, shownAs: shown)
    try step(shown, "sync") { () throws(AtomicFileErrno) in try Syscall.sync(descriptor) }
  }

  /// Moves the named temporary file to `target`: link when creating (which refuses to overwrite),
  /// else over the original, checked unchanged just before (``swapIn(_:over:shownAs:original:)``).
  ///
  /// - Returns: the name the original now has, where the names were exchanged.
  private static func move(
    _ named: String, to target: String, shownAs shown: String, placement: Placement, original: Original?
  ) throws(FileError) -> String? {
    if case .create = placement {
      try step(shown, "create") { () throws(AtomicFileErrno) in
        if link(named, target) != 0 { throw AtomicFileErrno(errno) }
      }
      unlink(named)
      return nil
    }
    if let original { return try swapIn(named, over: target, shownAs: shown, original: original) }
    try step(shown, "rename the new content over") { () throws(AtomicFileErrno) in
      if rename(named, target) != 0 { throw AtomicFileErrno(errno) }
    }
    return nil
  }

  /// Puts the temporary file `named` in place of the original at `target`, checked unchanged just
  /// before. Where the file system exchanges names, the original comes out under `named`; when
  /// what comes out is not the original (another writer renamed its file in between), that file
  /// goes back in place and the edit is refused. Else a plain rename.
  ///
  /// - Returns: `named` (now the original's name) after an exchange, nil after a rename.
  private static func swapIn(_ named: String, over target: String, shownAs shown: String, original: Original)
    throws(FileError) -> String?
  {
    try checkUnchanged(original, at: target, shownAs: shown)
    // The proof goes on before the swap: a kill right after it leaves the original under the
    // temporary name, and only a proven file is removed by the stray cleanup. Unless the
    // original comes out under that name, the proof comes off again.
    try? Syscall.setAttribute(
      original.descriptor, temporaryProofAttribute, Array(String(original.status.st_ino).utf8))
    var displacedOriginal = false
    defer { if !displacedOriginal { XAttr.remove(original.descriptor, temporaryProofAttribute) } }
    original.beforeSwap?(original.descriptor)
    let swapped = NameExchange.swap(named, target)
    if NameExchange.isUnsupported(swapped) {
      try step(shown, "rename the new content over") { () throws(AtomicFileErrno) in
        if rename(named, target) != 0 { throw AtomicFileErrno(errno) }
      }
      return nil
    }
    guard swapped == 0 else {
      throw FileError.from(errno: swapped, path: shown, operation: "rename the new content over")
    }
    if let out = Syscall.linkStatus(named), out.st_ino == original.status.st_ino,
      out.st_dev == original.status.st_dev
    {
      // Under a temporary name until it is confirmed: a kill now leaves it for the stray cleanup.
      displacedOriginal = true
      return named
    }
    // Theirs goes back; what comes out again is ours, removed by the caller with the temporary.
    if NameExchange.swap(named, target) != 0 {
      throw FileError.last(path: shown, operation: "put back the file another writer put in place of")
    }
    throw .changedMeanwhile(path: shown)
  }

  /// `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`), which the Glibc module does not export.
  private static let temporaryFileFlag: Int32 = 0o20_000_000 | O_DIRECTORY

  /// An anonymous file (`O_TMPFILE`, mode 0600) in `directory` carrying its proof, or nil where
  /// the file system (or a missing `/proc`, needed to name it later) does not allow one.
  static func openAnonymousFile(in directory: String) -> Int32? {
    guard access("/proc/self/fd", X_OK) == 0,
      let descriptor = try? Syscall.open(directory, temporaryFileFlag | O_WRONLY, mode: 0o600)
    else { return nil }
    if let info = try? Syscall.status(descriptor) {
      try? Syscall.setAttribute(descriptor, temporaryProofAttribute, Array(String(info.st_ino).utf8))
    }
    return descriptor
  }

  /// Gives an anonymous file the name `path` (`linkat` through `/proc/self/fd`).
  private static func linkAnonymous(_ descriptor: Int32, to path: String) throws(AtomicFileErrno) {
    if linkat(AT_FDCWD, "/proc/self/fd/\(descriptor)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0 {
      throw AtomicFileErrno(errno)
    }
  }

  /// Names an anonymous file `.NAME.rollback-tmp-PID-RANDOM` beside `target`.
  private static func nameAnonymous(_ descriptor: Int32, beside target: String, shownAs shown: String)
    throws(FileError) -> String
  {
    var lastError = AtomicFileErrno(EEXIST)
    for _ in 0..<16 {
      let path = temporaryName(beside: target)
      do {
        try linkAnonymous(descriptor, to: path)
        return path
      } catch {
        lastError = error
        if error.code != EEXIST { break }
      }
    }
    throw FileError.from(errno: lastError.code, path: shown, operation: "create a temporary file beside")
  }

  /// A fresh `.NAME.rollback-tmp-PID-RANDOM` path beside `target`.
  private static func temporaryName(beside target: String) -> String {
    let directory = Syscall.directoryName(target)
    var base = Syscall.baseName(target)
    if base.utf8.count > 200 { base = String(decoding: base.utf8.prefix(200), as: UTF8.self) }
    let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    return Syscall.join(directory, ".\(base)\(temporaryMarker)\(getpid())-\(suffix)")
  }

  /// Creates `.NAME.rollback-tmp-PID-RANDOM` beside `target` (`O_EXCL`, mode 0600), with its
  /// proof (`user.rollback.temporary`, its inode number) where the file system keeps one.
  static func createTemporaryFile(beside target: String, shownAs shown: String) throws(FileError)
    -> (path: String, descriptor: Int32)
  {
    var lastError = AtomicFileErrno(EEXIST)
    for _ in 0..<16 {
      let path = temporaryName(beside: target)
      do {
        let descriptor = try Syscall.open(
          path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, mode: 0o600)
        if let info = try? Syscall.status(descriptor) {
          try? Syscall.setAttribute(
            descriptor, temporaryProofAttribute, Array(String(info.st_ino).utf8))
        }
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
    // The type is checked before opening (a FIFO is refused by name), and again on the
    // descriptor, opened without blocking, in case it was swapped meanwhile.
    if let info = Syscall.fileStatus(path), !Syscall.isRegular(info.st_mode) {
      throw .refused(path: name, reason: "it is \(kind(of: info.st_mode)), not a regular file")
    }
    do {
      return try Syscall.openRegular(path, O_RDONLY)
    } catch  where error.code == EINVAL {
      let mode = Syscall.fileStatus(path)?.st_mode ?? 0
      throw .refused(path: name, reason: "it is \(kind(of: mode)), not a regular file")
    } catch {
      throw FileError.from(errno: error.code, path: name, operation: "open")
    }
  }

  /// "a FIFO", "a directory", … for a file type.
  static func kind(of mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFIFO: return "a FIFO (named pipe)"
    case S_IFDIR: return "a directory"
    case S_IFSOCK: return "a socket"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFLNK: return "a symlink"
    default: return "not a regular file"
    }
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
    for name in Syscall.names(in: directory) ?? [] {
      guard name.hasPrefix(prefix), name.hasSuffix(".bak") else { continue }
      let candidate = Syscall.join(directory, name)
      if let info = Syscall.linkStatus(candidate), Syscall.isRegular(info.st_mode),
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
    return "\(flat).\(Timestamp.compact(time))"
  }

  /// The pid in `.NAME.rollback-tmp-PID-RANDOM`, if it is there.
  static func temporaryFileOwner(_ name: String) -> Int32? {
    guard let marker = name.range(of: temporaryMarker, options: .backwards) else { return nil }
    let rest = name[marker.upperBound...]
    guard let dash = rest.firstIndex(of: "-") else { return nil }
    return Int32(rest[..<dash])
  }
}
