import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// Shell completions read from the runbook and the state directory the command line names:
/// level numbers, scenario names, environments, flag names, step ids and run ids.
enum Completions {
  /// The value after `option` on the command line being completed, if any.
  static func value(of option: String, in words: [String]) -> String? {
    for (index, word) in words.enumerated() {
      if word == option, index + 1 < words.count { return words[index + 1] }
      if word.hasPrefix(option + "=") { return String(word.dropFirst(option.count + 1)) }
    }
    return nil
  }

  /// The runbook named by `--runbook`, else the default one; nil when none loads.
  static func runbook(_ words: [String], selectEnvironment: Bool = true) -> (path: String, runbook: Runbook)?
  {
    var options = RunbookOptions()
    options.runbook = value(of: "--runbook", in: words)
    guard let path = try? options.runbookPath(), let data = FileManager.default.contents(atPath: path),
      let source = String(data: data, encoding: .utf8)
    else { return nil }
    let result = RunbookLoader.load(
      source: source, file: path,
      options: LoadOptions(
        processEnvironment: ProcessInfo.processInfo.environment,
        selectedEnvironment: selectEnvironment ? value(of: "--env", in: words) : nil,
        variableOverrides: [:]))
    return result.runbook.map { (path, $0) }
  }

  static func matching(_ candidates: [String], _ prefix: String) -> [String] {
    candidates.filter { $0.hasPrefix(prefix) }
  }

  /// `--level`: the runbook's level numbers.
  static let levels = CompletionKind.custom { words, _, prefix in
    matching(runbook(words)?.runbook.levels.map { String($0.number) } ?? [], prefix)
  }

  /// `--scenario`: the runbook's scenario names.
  static let scenarios = CompletionKind.custom { words, _, prefix in
    matching(runbook(words)?.runbook.scenarios.map(\.name) ?? [], prefix)
  }

  /// `--env`: the runbook's environments.
  static let environments = CompletionKind.custom { words, _, prefix in
    matching(runbook(words, selectEnvironment: false)?.runbook.environments.map(\.name) ?? [], prefix)
  }

  /// `--from`: the step ids of the level or scenario given, else of every level and scenario.
  static let steps = CompletionKind.custom { words, _, prefix in
    guard let (_, runbook) = runbook(words) else { return [] }
    let target: IncludeTarget? =
      value(of: "--level", in: words).flatMap(Int.init).map { .level($0) }
      ?? value(of: "--scenario", in: words).map { .scenario($0) }
    if let target,
      let resolver = try? Resolver.resolving(
        runbook: runbook, environmentName: value(of: "--env", in: words),
        processEnvironment: ProcessInfo.processInfo.environment, overrides: [:], resolveSecrets: false),
      let plan = try? resolver.plan(of: target)
    {
      return matching(plan.steps.map(\.id), prefix)
    }
    let all = (runbook.levels.flatMap(\.steps) + runbook.scenarios.flatMap(\.steps)).map(\.id)
    var seen = Set<String>()
    return matching(all.filter { seen.insert($0).inserted }, prefix)
  }

  /// `rollback flag`'s flag name: the runbook's flags.
  static let flags = CompletionKind.custom { words, _, prefix in
    matching((runbook(words)?.runbook.flags.keys).map { $0.sorted() } ?? [], prefix)
  }

  /// A run id: the runs in the state directory, newest first.
  static let runIDs = CompletionKind.custom { words, _, prefix in
    var options = RunbookOptions()
    options.runbook = value(of: "--runbook", in: words)
    options.stateDir = value(of: "--state-dir", in: words)
    guard let state = try? stateDirectory(options, runbookPath: try options.runbookPath()) else { return [] }
    return matching(JournalReader.runIDs(stateDirectory: state).reversed(), prefix)
  }
}
