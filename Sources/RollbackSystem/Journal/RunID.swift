import Foundation
import RollbackCore

#if canImport(Glibc)
  import Glibc
#endif

/// Run identifiers: `20260202T101500Z-3f2a`, sortable by time.
public enum RunID {
  /// A new id for now.
  public static func make(at date: Date = Date()) -> String {
    "\(Timestamp.compact(date))-\(String(format: "%04x", UInt16.random(in: 0...UInt16.max)))"
  }
}
