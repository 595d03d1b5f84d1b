import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A read lease (`fcntl(F_SETLEASE, F_RDLCK)`, Linux) on a file while it is replaced.
///
/// The kernel grants it only while no process has the file open for writing, and breaks it as
/// soon as one opens the file for writing or truncates it; that opener then waits inside `open`
/// until the lease is released. An edit that still holds its unbroken lease at the moment it
/// swaps the new content in therefore knows that nobody can write into the old inode afterwards:
/// no descriptor open for writing exists, and every later opener finds the new inode.
///
/// Leases need the file's owner (or `CAP_LEASE`) and a file system that has them; where one
/// cannot be taken the edit goes on without it (see README, Decisions).
enum FileLease {
  /// `F_SETLEASE` and `F_GETLEASE`, which the Glibc module does not export.
  private static let setLease: Int32 = 1024
  private static let getLease: Int32 = 1025

  /// A handler for `SIGIO` that does nothing: a broken lease is noticed with ``isIntact(_:)``,
  /// and the default action of `SIGIO` would end the process. A handler (unlike `SIG_IGN`) is
  /// reset by `exec`, so child processes keep the default.
  private static let quietSignal: Bool = {
    #if os(Linux)
      // signal(2) fails only for an invalid signal number.
      _ = signal(SIGIO, { _ in })
      return true
    #else
      return false
    #endif
  }()

  /// Takes a read lease on `descriptor` (opened read-only), waiting up to `patience` while
  /// another process has the file open for writing.
  ///
  /// - Returns: false where no lease could be had (not Linux, not the owner, a file system
  ///   without leases, or the file stayed open for writing).
  static func take(_ descriptor: Int32, patience: Duration = .milliseconds(300)) -> Bool {
    #if os(Linux)
      guard quietSignal else { return false }
      let clock = ContinuousClock()
      let deadline = clock.now + patience
      while true {
        if fcntl(descriptor, setLease, Int32(F_RDLCK)) == 0 { return true }
        guard errno == EAGAIN, clock.now < deadline else { return false }
        usleep(2000)
      }
    #else
      return false
    #endif
  }

  /// True while the read lease on `descriptor` is held and nobody has broken it.
  static func isIntact(_ descriptor: Int32) -> Bool {
    #if os(Linux)
      return fcntl(descriptor, getLease) == Int32(F_RDLCK)
    #else
      return false
    #endif
  }
}

/// `renameat2(RENAME_EXCHANGE)`, looked up in the C library (the Glibc module does not export
/// it): swaps two names atomically, so that the one that held the new content afterwards names
/// whatever was in place an instant before, to be checked (and swapped back).
enum NameExchange {
  private typealias Function =
    @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32

  private static let function: Function? = {
    guard let handle = dlopen(nil, RTLD_NOW), let found = dlsym(handle, "renameat2") else { return nil }
    return unsafeBitCast(found, to: Function.self)
  }()

  /// `RENAME_EXCHANGE`.
  private static let exchangeFlag: UInt32 = 2

  /// Swaps `first` and `second`: 0, or the `errno` (`ENOSYS` where the call is missing).
  static func swap(_ first: String, _ second: String) -> Int32 {
    guard let function else { return ENOSYS }
    return function(AT_FDCWD, first, AT_FDCWD, second, exchangeFlag) == 0 ? 0 : errno
  }

  /// True when `code` means that this system or file system cannot exchange names, so a plain
  /// rename must do.
  static func isUnsupported(_ code: Int32) -> Bool {
    code == ENOSYS || code == EINVAL || code == ENOTSUP || code == EOPNOTSUPP
  }
}
