#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Thin, typed wrappers over the POSIX calls the atomic file and the lock need.
enum Syscall {
  /// `open(2)` with `O_CLOEXEC`, retried on `EINTR`; the descriptor or `errno`.
  static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(AtomicFileErrno) -> Int32 {
    while true {
      #if canImport(Glibc)
        let descriptor = Glibc.open(path, flags | O_CLOEXEC, mode)
      #else
        let descriptor = Darwin.open(path, flags | O_CLOEXEC, mode)
      #endif
      if descriptor >= 0 { return descriptor }
      if errno != EINTR { throw AtomicFileErrno(errno) }
    }
  }

  /// Opens `path` without blocking (`O_NONBLOCK`, so a FIFO or a device never hangs the open),
  /// then keeps it only when `fstat` says it is a regular file, and puts the descriptor back in
  /// blocking mode. `noFollow` adds `O_NOFOLLOW` (a symlink as the last component fails with
  /// `ELOOP`). A file of another type fails with `EINVAL`, after nothing was read from it.
  static func openRegular(_ path: String, _ flags: Int32, mode: mode_t = 0, noFollow: Bool = false)
    throws(AtomicFileErrno) -> (descriptor: Int32, status: stat)
  {
    let descriptor = try open(
      path, flags | O_NONBLOCK | O_NOCTTY | (noFollow ? O_NOFOLLOW : 0), mode: mode)
    let info: stat
    do {
      info = try status(descriptor)
    } catch {
      close(descriptor)
      throw error
    }
    guard isRegular(info.st_mode) else {
      close(descriptor)
      throw AtomicFileErrno(EINVAL)
    }
    let current = fcntl(descriptor, F_GETFL)
    if current >= 0 { _ = fcntl(descriptor, F_SETFL, current & ~O_NONBLOCK) }
    return (descriptor, info)
  }

  /// The names of the extended attributes of a descriptor (`flistxattr`); empty when the file
  /// system has none (`ENOTSUP`).
  static func attributeNames(_ descriptor: Int32) throws(AtomicFileErrno) -> [String] {
    while true {
      let size = XAttr.list(descriptor, nil, 0)
      if size < 0 {
        if errno == ENOTSUP { return [] }
        throw AtomicFileErrno(errno)
      }
      if size == 0 { return [] }
      var buffer = [CChar](repeating: 0, count: size)
      let count = XAttr.list(descriptor, &buffer, buffer.count)
      if count < 0 {
        if errno == ERANGE { continue }
        throw AtomicFileErrno(errno)
      }
      return buffer[0..<count].split(separator: 0).map {
        String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      }
    }
  }

  /// The value of one extended attribute of a descriptor (`fgetxattr`).
  static func attribute(_ descriptor: Int32, _ name: String) throws(AtomicFileErrno) -> [UInt8] {
    while true {
      let size = XAttr.get(descriptor, name, nil, 0)
      if size < 0 { throw AtomicFileErrno(errno) }
      var buffer = [UInt8](repeating: 0, count: size)
      let count = buffer.withUnsafeMutableBytes { XAttr.get(descriptor, name, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == ERANGE { continue }
        throw AtomicFileErrno(errno)
      }
      return Array(buffer[0..<count])
    }
  }

  /// Sets one extended attribute of a descriptor (`fsetxattr`).
  static func setAttribute(_ descriptor: Int32, _ name: String, _ value: [UInt8]) throws(AtomicFileErrno) {
    let result = value.withUnsafeBytes { XAttr.set(descriptor, name, $0.baseAddress, $0.count, 0) }
    if result != 0 { throw AtomicFileErrno(errno) }
  }

  /// Reads a descriptor to its end.
  ///
  /// The buffer is sized from `fstat` (plus one byte, so that a file that did not change ends
  /// with the second read); a file that grew meanwhile is read on to its end all the same.
  static func readAll(_ descriptor: Int32) throws(AtomicFileErrno) -> [UInt8] {
    var size = 0
    if let info = try? status(descriptor), info.st_size > 0 { size = Int(info.st_size) }
    var failure: Int32 = 0
    var atEnd = false
    var result = [UInt8](unsafeUninitializedCapacity: size + 1) { buffer, initialized in
      initialized = 0
      guard let base = buffer.baseAddress else { return }
      while initialized < buffer.count {
        let count = read(descriptor, base + initialized, buffer.count - initialized)
        if count == 0 {
          atEnd = true
          return
        }
        if count < 0 {
          if errno == EINTR { continue }
          failure = errno
          return
        }
        initialized += count
      }
    }
    if failure != 0 { throw AtomicFileErrno(failure) }
    guard !atEnd else { return result }
    // The file grew after fstat: read the rest.
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count == 0 { return result }
      if count < 0 {
        if errno == EINTR { continue }
        throw AtomicFileErrno(errno)
      }
      result.append(contentsOf: chunk[0..<count])
    }
  }

  /// True when what is left to read from the descriptor is exactly `expected`: read in chunks
  /// and compared as it comes (`memcmp`), without holding a second copy of the file.
  static func contentEquals(_ descriptor: Int32, _ expected: [UInt8]) throws(AtomicFileErrno) -> Bool {
    var chunk = [UInt8](repeating: 0, count: 128 * 1024)
    var offset = 0
    while true {
      let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count == 0 { return offset == expected.count }
      if count < 0 {
        if errno == EINTR { continue }
        throw AtomicFileErrno(errno)
      }
      guard count <= expected.count - offset else { return false }
      let same = chunk.withUnsafeBytes { got in
        expected.withUnsafeBytes { wanted in
          guard let got = got.baseAddress, let wanted = wanted.baseAddress else { return false }
          return memcmp(got, wanted + offset, count) == 0
        }
      }
      guard same else { return false }
      offset += count
    }
  }

  /// The names in `directory` (with `.` and `..`), nil when it cannot be listed (`errno` set).
  static func names(in directory: String) -> [String]? {
    guard let stream = opendir(directory) else { return nil }
    defer { closedir(stream) }
    var names: [String] = []
    while let entry = readdir(stream) {
      names.append(
        withUnsafeBytes(of: entry.pointee.d_name) { raw in
          String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        })
    }
    return names
  }

  /// Reads up to `limit` bytes from offset 0 without moving the file offset.
  static func readFromStart(_ descriptor: Int32, limit: Int) throws(AtomicFileErrno) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: limit)
    var total = 0
    while total < limit {
      let count = buffer.withUnsafeMutableBytes {
        pread(descriptor, $0.baseAddress.map { $0 + total }, limit - total, off_t(total))
      }
      if count == 0 { break }
      if count < 0 {
        if errno == EINTR { continue }
        throw AtomicFileErrno(errno)
      }
      total += count
    }
    return Array(buffer[0..<total])
  }

  /// Writes every byte, retrying short writes and `EINTR`.
  static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) throws(AtomicFileErrno) {
    var written = 0
    while written < bytes.count {
      let count = bytes.withUnsafeBytes {
        write(descriptor, $0.baseAddress.map { $0 + written }, bytes.count - written)
      }
      if count < 0 {
        if errno == EINTR { continue }
        throw AtomicFileErrno(errno)
      }
      written += count
    }
  }

  /// `fsync(2)`, retried on `EINTR`.
  static func sync(_ descriptor: Int32) throws(AtomicFileErrno) {
    while fsync(descriptor) != 0 {
      if errno != EINTR { throw AtomicFileErrno(errno) }
    }
  }

  /// Syncs a directory so that a rename or a new name in it survives a crash.
  /// File systems that cannot sync a directory (`EINVAL`) are accepted as they are.
  static func syncDirectory(_ path: String) throws(AtomicFileErrno) {
    let descriptor = try open(path, O_RDONLY | O_DIRECTORY)
    defer { close(descriptor) }
    do {
      try sync(descriptor)
    } catch  where error.code == EINVAL {
      return
    }
  }

  /// `fstat(2)`.
  static func status(_ descriptor: Int32) throws(AtomicFileErrno) -> stat {
    var info = stat()
    guard fstat(descriptor, &info) == 0 else { throw AtomicFileErrno(errno) }
    return info
  }

  /// `lstat(2)`, or `nil` when the path does not exist or cannot be examined.
  static func linkStatus(_ path: String) -> stat? {
    var info = stat()
    return lstat(path, &info) == 0 ? info : nil
  }

  /// `stat(2)` (following symlinks), or `nil` when the path does not exist or cannot be examined.
  static func fileStatus(_ path: String) -> stat? {
    var info = stat()
    return stat(path, &info) == 0 ? info : nil
  }

  /// True for a regular file's mode.
  static func isRegular(_ mode: mode_t) -> Bool { mode & S_IFMT == S_IFREG }

  /// True for a directory's mode.
  static func isDirectory(_ mode: mode_t) -> Bool { mode & S_IFMT == S_IFDIR }

  /// `realpath(3)`: the absolute path with every symlink resolved.
  static func realPath(_ path: String) throws(AtomicFileErrno) -> String {
    guard let resolved = realpath(path, nil) else { throw AtomicFileErrno(errno) }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  /// `readlink(2)`: what the symlink at `path` points to, or nil.
  static func readLink(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count >= 0 else { return nil }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Creates `path` and its missing parents with `mode`; an existing directory is fine. The
  /// parent of each directory created is synced, so the new name survives a crash.
  static func makeDirectories(_ path: String, mode: mode_t) throws(AtomicFileErrno) {
    if let info = fileStatus(path) {
      guard isDirectory(info.st_mode) else { throw AtomicFileErrno(ENOTDIR) }
      return
    }
    let parent = directoryName(path)
    if parent != path, fileStatus(parent) == nil {
      try makeDirectories(parent, mode: mode)
    }
    if mkdir(path, mode) != 0 {
      if errno == EEXIST { return }
      throw AtomicFileErrno(errno)
    }
    do {
      try syncDirectory(parent)
    } catch  where error.code == EACCES {
      // A parent this process may write into but not read cannot be opened to sync.
    }
  }

  /// The directory part of a path (`/a/b` → `/a`, `b` → `.`, `/b` → `/`).
  static func directoryName(_ path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return "." }
    if slash == trimmed.startIndex { return "/" }
    return String(trimmed[..<slash])
  }

  /// The last component of a path.
  static func baseName(_ path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
    return String(trimmed[trimmed.index(after: slash)...])
  }

  /// Joins a directory and a name.
  static func join(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
  }

  /// True when a process with this pid exists on this host (it may belong to another user).
  static func processExists(_ pid: Int32) -> Bool {
    guard pid > 0 else { return false }
    return kill(pid, 0) == 0 || errno == EPERM
  }

  /// This machine's host name.
  static func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown-host" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// The effective user's name, else `$USER`, else `uid N`.
  static func userName() -> String {
    let uid = geteuid()
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>? = nil
    var buffer = [CChar](repeating: 0, count: 4096)
    if getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name {
      return String(cString: name)
    }
    if let user = getenv("USER") { return String(cString: user) }
    return "uid \(uid)"
  }
}

/// The `*xattr(2)` calls, which the Glibc module does not export (`sys/xattr.h`), looked up in
/// the C library. A missing one behaves as a file system without extended attributes.
enum XAttr {
  private typealias List = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int
  private typealias Get = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
  private typealias Set = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
  private typealias Remove = @convention(c) (Int32, UnsafePointer<CChar>) -> Int32

  private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
    guard let handle = dlopen(nil, RTLD_NOW), let found = dlsym(handle, name) else { return nil }
    return unsafeBitCast(found, to: type)
  }

  private static let listFunction = symbol("flistxattr", as: List.self)
  private static let getFunction = symbol("fgetxattr", as: Get.self)
  private static let setFunction = symbol("fsetxattr", as: Set.self)
  private static let removeFunction = symbol("fremovexattr", as: Remove.self)

  /// `flistxattr(2)`.
  static func list(_ descriptor: Int32, _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int {
    guard let listFunction else {
      errno = ENOTSUP
      return -1
    }
    return listFunction(descriptor, buffer, size)
  }

  /// `fgetxattr(2)`.
  static func get(_ descriptor: Int32, _ name: String, _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int
  {
    guard let getFunction else {
      errno = ENOTSUP
      return -1
    }
    return getFunction(descriptor, name, value, size)
  }

  /// `fsetxattr(2)` (flags 0: create or replace).
  static func set(
    _ descriptor: Int32, _ name: String, _ value: UnsafeRawPointer?, _ size: Int, _ flags: Int32
  )
    -> Int32
  {
    guard let setFunction else {
      errno = ENOTSUP
      return -1
    }
    return setFunction(descriptor, name, value, size, flags)
  }

  /// `fremovexattr(2)`.
  @discardableResult
  static func remove(_ descriptor: Int32, _ name: String) -> Int32 {
    guard let removeFunction else {
      errno = ENOTSUP
      return -1
    }
    return removeFunction(descriptor, name)
  }
}

/// An `errno` value thrown by the wrappers.
struct AtomicFileErrno: Error, Equatable {
  let code: Int32

  init(_ code: Int32) {
    self.code = code
  }
}
