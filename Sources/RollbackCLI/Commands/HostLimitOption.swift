import Foundation
import RollbackCore
import RollbackSystem

/// `--hosts PATTERN[,PATTERN]` on `execute` and `drill` (and the pattern a run journalled, on `resume`).
enum HostLimitOption {
  /// The hosts `pattern` selects in the run's environment (nil without a pattern); a usage
  /// error when the environment has no hosts or a pattern matches no host or group.
  static func select(
    _ pattern: String?, runbook: Runbook, options: RunbookOptions, overrides: [String: String]
  ) throws -> HostLimit? {
    guard let pattern else { return nil }
    let resolver = try makeResolver(runbook, options: options, overrides: overrides)
    let inventory = resolver.environment.inventory
    guard !inventory.isEmpty else {
      throw CLIError.usage(
        "--hosts limits host-scoped steps, and environment '\(resolver.environment.name)' declares no "
          + "hosts; nothing was run")
    }
    switch inventory.select(pattern) {
    case .success(let selected):
      guard !selected.isEmpty else {
        throw CLIError.usage("--hosts \(pattern) leaves no host to run on; nothing was run")
      }
      return HostLimit(pattern: pattern, hosts: Set(selected.map(\.name)))
    case .failure(let error):
      throw CLIError.usage("\(error.description); nothing was run")
    }
  }
}
