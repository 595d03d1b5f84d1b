import ArgumentParser
import Foundation
import RollbackCore

/// Errors the commands report before doing anything.
enum CLIError: Error, CustomStringConvertible {
  case usage(String)
  case runbook(String)

  var description: String {
    switch self {
    case .usage(let message), .runbook(let message): return message
    }
  }
}
