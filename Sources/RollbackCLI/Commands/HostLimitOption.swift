import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `--hosts PATTERN[,PATTERN]` on `plan`, `execute` and `drill`.
struct HostLimitOption: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "Limit host-scoped steps to matching hosts: globs on host and group names, comma-separated; !PATTERN excludes.",
      valueName: "pattern[,pattern]"))
  var hosts: String?

  /// The hosts the pattern selects in the run's environment (nil without `--hosts`); a usage
  /// error when the environment has no hosts or a pattern matches no host or group.
  func select(runbook: Runbook, options: RunbookOptions, overrides: [String: String]) throws -> HostLimit? {
    guard let pattern = hosts else { return nil }
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
