import Foundation
import Testing

extension OnTheTestFleet {
  @Suite("a rolling level over the five hosts of the test fleet", .serialized)
  struct FleetFiveHostTests: FleetSuite {
    let workspace: FleetWorkspace

    init() throws { workspace = try FleetWorkspace(count: 5) }

    @Test(
      "canary, then 50%, then the rest: every host's files flipped byte for byte (CRLF kept), each restarted once"
    )
    func rollingOverFive() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      try write(fleet.runbook(batches: "[1, \"50%\", \"100%\"]"))
      var spawns: [String: Int] = [:]
      for name in fleet.hosts { spawns[name] = try fleet.spawns(name) }
      let result = try CLI.run(["execute", "--level", "3", "--yes"] + common())
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      let h = fleet.hosts
      #expect(result.stdout.contains("batch 1/3: \(h[0]) ✓"), "\(result.stdout)")
      #expect(result.stdout.contains("batch 2/3: \(h[1]) \(h[2]) ✓✓"), "\(result.stdout)")
      #expect(result.stdout.contains("batch 3/3: \(h[3]) \(h[4]) ✓✓"), "\(result.stdout)")
      for (path, data) in saved {
        let expected = String(decoding: data, as: UTF8.self).replacingOccurrences(
          of: "NEXT_PUBLIC_USE_BACKEND_API=true", with: "NEXT_PUBLIC_USE_BACKEND_API=false")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(expected.utf8), "\(path)")
      }
      #expect(
        String(decoding: try envLocal(h[2]), as: UTF8.self).contains("NEXT_PUBLIC_USE_BACKEND_API=false\r\n"))
      for name in h {
        #expect(try fleet.spawns(name) == (spawns[name] ?? 0) + 1, "\(name) restarted more or less than once")
      }
    }

    @Test(
      "a host killed mid-pipeline (its sshd and sessions) fails per max_fail; the summary names it and how to go on"
    )
    func hostKilledMidPipeline() throws {
      let saved = try fleet.snapshot()
      defer { fleet.restore(saved) }
      let settle = "\n            - {id: settle, run: [sleep, \"4\"]}"
      try write(fleet.runbook(batches: "[1, 3, \"100%\"]", extraStep: settle))
      let h = fleet.hosts
      let victim = h[1]
      let spawned = try fleet.spawns(victim)
      let untouched = try [h[3], h[4]].map { try envLocal($0) }
      let process = Process()
      process.executableURL = URL(fileURLWithPath: CLI.binary)
      process.arguments = ["execute", "--level", "3", "--yes"] + common()
      let out = Pipe()
      let err = Pipe()
      process.standardOutput = out
      process.standardError = err
      try process.run()
      // The victim has written its flag and restarted its service: it now runs `settle`. Kill it there.
      let deadline = Date().addingTimeInterval(60)
      while (try? fleet.spawns(victim)) == spawned, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
      Thread.sleep(forTimeInterval: 1)
      try fleet.ctl("stop-sshd", victim)
      defer { _ = try? fleet.ctl("start-sshd", victim) }
      let stdout = out.fileHandleForReading.readDataToEndOfFile()
      let stderr = err.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      let said = String(decoding: stdout + stderr, as: UTF8.self)
      #expect(process.terminationStatus == 1, "\(said)")
      #expect(said.contains("failed: \(victim); untouched: \(h[3]) \(h[4])"), "\(said)")
      let runs = try FileManager.default.contentsOfDirectory(
        atPath: directory.appendingPathComponent("state/runs").path)
      let runID = try #require(runs.first { $0.hasSuffix(".jsonl") }).replacingOccurrences(
        of: ".jsonl", with: "")
      #expect(said.contains("rollback resume \(runID)"), "\(said)")
      // The host running beside it finished its pipeline; the next batch never started.
      #expect(
        String(decoding: try envLocal(h[2]), as: UTF8.self).contains("NEXT_PUBLIC_USE_BACKEND_API=false"))
      #expect(try [h[3], h[4]].map { try envLocal($0) } == untouched)
    }
  }
}
