import Foundation
import RollbackCore

extension Executor {
  func flagEditor(_ name: String) -> FlagEditor? {
    guard let flag = request.runbook.flags[name] else { return nil }
    return FlagEditor(flag: flag, files: flag.files.map { resolve($0).value })
  }
}
