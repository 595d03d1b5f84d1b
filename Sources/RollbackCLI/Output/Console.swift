import ArgumentParser
import Foundation
import RollbackCore

/// Writes human text to stderr.
enum Console {
  static func error(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
  }

  /// Human output: stdout normally, stderr when stdout carries JSON. Unbuffered, safe from any thread.
  static func human(_ text: String, json: Bool) {
    if json {
      error(text)
    } else {
      output(text)
    }
  }

  /// Writes a line to stdout at once.
  static func output(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
  }
}
