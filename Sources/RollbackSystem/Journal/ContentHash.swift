import Foundation
import RollbackCore

#if canImport(Glibc)
  import Glibc
#endif

/// A content hash of a runbook, to notice that it changed between a run and its resume (FNV-1a, 64 bit).
public enum ContentHash {
  /// The hash as 16 hex digits.
  public static func of(_ bytes: some Sequence<UInt8>) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01b3
    }
    return String(format: "%016llx", hash)
  }
}
