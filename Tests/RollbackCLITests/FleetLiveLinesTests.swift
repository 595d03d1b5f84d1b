import Foundation
import Testing

extension OnTheTestFleet {
  @Suite("a live line per running host on a terminal, none on a pipe", .serialized)
  struct FleetLiveLinesTests {
    /// `rollback ARGS` on a pseudo-terminal (util-linux `script`); everything it wrote.
    func onTerminal(_ arguments: [String]) throws -> String {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
      let command = ([CLI.binary] + arguments).map { "'" + $0 + "'" }.joined(separator: " ")
      process.arguments = ["-qec", command, "/dev/null"]
      var environment = ProcessInfo.processInfo.environment
      environment["TERM"] = "xterm"
      environment["NO_COLOR"] = "1"
      process.environment = environment
      let output = Pipe()
      process.standardOutput = output
      process.standardInput = FileHandle.nullDevice
      try process.run()
      let data = output.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      return String(decoding: data, as: UTF8.self)
    }

    @Test("while a batch runs, a terminal shows one updating line per running host with its step")
    func liveLinePerHost() throws {
      let fleet = try CLIFleet.current()
      try fleet.flagOn()
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let directory = try CLI.temporaryDirectory()
      defer { CLI.removeTemporaryDirectory(directory) }
      let runbook = directory.appendingPathComponent("rollback.yaml")
      let settle = "\n            - {id: settle, run: [sleep, \"2\"]}"
      try fleet.runbook(batches: "[1, \"100%\"]", extraStep: settle).write(
        to: runbook, atomically: true, encoding: .utf8)
      let (first, second, third) = (fleet.hosts[0], fleet.hosts[1], fleet.hosts[2])

      let shown = try onTerminal([
        "execute", "--level", "3", "--yes", "--runbook", runbook.path, "--state-dir",
        directory.appendingPathComponent("state-tty").path,
      ])
      #expect(shown.contains("▸ \(first)  roll.settle  "), "\(shown)")
      // Batch 2's block: a line for each of its two hosts, the block erased line by line.
      let block = "▸ \(second)  roll.settle  "
      let pair = shown.components(separatedBy: block).dropFirst().contains { after in
        after.prefix(40).contains("\n    ▸ \(third)  roll.settle  ")
      }
      #expect(pair, "\(shown)")
      #expect(shown.contains("\u{1B}[1A\u{1B}[2K"), "the two-line block is never erased as a block")
      #expect(shown.contains("batch 2/2: \(second) \(third) ✓✓"), "\(shown)")

      fleet.restore(saved)
      try fleet.flagOn()
      let piped = try CLI.run([
        "execute", "--level", "3", "--yes", "--runbook", runbook.path, "--state-dir",
        directory.appendingPathComponent("state-pipe").path,
      ])
      #expect(piped.status == 0, "\(piped.stdout)\(piped.stderr)")
      #expect(!(piped.stdout + piped.stderr).contains("▸ "), "\(piped.stdout)")
      #expect(piped.stdout.contains("batch 2/2: \(second) \(third) ✓✓"), "\(piped.stdout)")
    }
  }
}
