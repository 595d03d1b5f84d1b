import ArgumentParser
import Foundation
import RollbackCore
import RollbackSystem

/// `rollback history`: past runs.
struct HistoryCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "history",
    abstract: "Past runs: id, level or scenario, environment, outcome, duration, target.",
    usage: "rollback history [--limit <n>] [<options>]")

  @OptionGroup var options: RunbookOptions

  @Option(name: .long, help: "Show at most this many runs, newest first (default: all).")
  var limit: Int?

  func run() async throws {
    let state = try RunStore.state(options)
    let ids = JournalReader.runIDs(stateDirectory: state).reversed().map { $0 }
    let runbook = RunStore.runbookFilter(options)
    var runs: [RunSummary] = []
    var index = 0
    while index < ids.count {
      if let limit, runs.count >= max(0, limit) {
        // Runs of the same second as the last one taken may have started after it.
        guard let last = runs.last, ids[index].hasPrefix(String(last.runID.prefix(17))) else { break }
      }
      if let run = RunStore.summaries(state: state, runIDs: [ids[index]]).first,
        RunStore.belongs(run, to: runbook)
      {
        runs.append(run)
      }
      index += 1
    }
    runs = RunStore.newestFirst(runs)
    if let limit { runs = Array(runs.prefix(max(0, limit))) }
    if options.json {
      HistoryRendering.json(runs) { FileHandle.standardOutput.write(Data($0)) }
      Console.output("")
      return
    }
    if runs.isEmpty {
      Console.output("no runs in \(state)/runs")
      return
    }
    var text = ""
    // A HOSTS column only when some run acted on hosts: other histories keep their columns.
    let withHosts = runs.contains { !$0.hosts.isEmpty }
    let lines =
      withHosts
      ? HistoryRendering.table(
        runs.map(HistoryRendering.cellsWithHosts),
        header: HistoryRendering.header + [HistoryRendering.hostsHeader])
      : HistoryRendering.table(runs.map(HistoryRendering.cells))
    for line in lines {
      text += line + "\n"
      if text.utf8.count >= 65_536 {
        FileHandle.standardOutput.write(Data(text.utf8))
        text = ""
      }
    }
    FileHandle.standardOutput.write(Data(text.utf8))
  }
}
