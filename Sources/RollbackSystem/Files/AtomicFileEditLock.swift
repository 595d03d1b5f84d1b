import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The lock that serialises edits of the same file by any number of `rollback` processes,
/// whatever their runbook or state directory: an exclusive `flock` on the directory that holds
/// the file (symlinks resolved). A replace changes the file's inode, so a lock on the file
/// itself would not be shared by the next editor; the directory stays, and locking it needs no
/// file of ours beside the user's. The kernel drops the lock when its holder dies.
public final class AtomicFileEditLock: @unchecked Sendable {
  private let state = NSLock()
  private var descriptors: [Int32]

  private init(descriptors: [Int32]) {
    self.descriptors = descriptors
  }

  deinit { release() }

  /// Takes the edit lock of every directory that holds one of `paths` (each file's real
  /// directory; for a missing file, its directory), in a fixed order so that two editors of
  /// the same files never wait for each other. Waits at most `timeout`, and stops waiting when
  /// the current task is cancelled.
  public static func acquire(for paths: [String], timeout: TimeInterval = 10) throws(FileError)
    -> AtomicFileEditLock
  {
    var opened: [(key: [UInt64], descriptor: Int32, path: String)] = []
    func closeAll() { for entry in opened { close(entry.descriptor) } }
    for path in paths {
      let directory: String
      if let real = try? AtomicFile.resolve(path) {
        directory = Syscall.directoryName(real)
      } else {
        do {
          directory = try AtomicFile.resolve(Syscall.directoryName(path))
        } catch .notFound {
          continue  // Nothing to edit there: reading the file says so.
        } catch {
          closeAll()
          throw error
        }
      }
      let descriptor: Int32
      let info: stat
      do {
        descriptor = try Syscall.open(directory, O_RDONLY | O_DIRECTORY)
        info = try Syscall.status(descriptor)
      } catch {
        closeAll()
        throw FileError.from(errno: error.code, path: directory, operation: "lock for editing")
      }
      let key = [UInt64(info.st_dev), UInt64(info.st_ino)]
      if opened.contains(where: { $0.key == key }) {
        close(descriptor)
        continue
      }
      opened.append((key, descriptor, directory))
    }
    opened.sort { $0.key.lexicographicallyPrecedes($1.key) }
    let deadline = Date().addingTimeInterval(timeout)
    for entry in opened {
      while flock(entry.descriptor, LOCK_EX | LOCK_NB) != 0 {
        let code = errno
        guard code == EWOULDBLOCK || code == EAGAIN || code == EINTR else {
          closeAll()
          throw FileError.from(errno: code, path: entry.path, operation: "lock for editing")
        }
        if Task.isCancelled {
          closeAll()
          throw .other(path: entry.path, errno: EINTR, operation: "wait for the edit lock of")
        }
        if Date() >= deadline {
          closeAll()
          throw .refused(
            path: entry.path,
            reason: "another process has been editing files in this directory for \(Int(timeout)) s; retry")
        }
        usleep(2_000)
      }
    }
    return AtomicFileEditLock(descriptors: opened.map(\.descriptor))
  }

  /// Releases every lock; calling it again does nothing.
  public func release() {
    state.lock()
    defer { state.unlock() }
    for descriptor in descriptors {
      flock(descriptor, LOCK_UN)
      close(descriptor)
    }
    descriptors = []
  }
}
