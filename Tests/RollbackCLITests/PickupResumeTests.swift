import Foundation
import Testing

/// Proof of pickup when the flag was written by a run killed before its restart, and the
/// restart is run by `resume`: the proof compares against the write the journal recorded.
extension SharedAppTests.PickupProofTests {
  @Test("killed (SIGKILL) after the flag write, before the restart: resume restarts and proves pickup")
  func resumeProvesJournalledWrite() async throws {
    let harness = try Harness.current()
    try harness.resetApp()
    defer { try? harness.resetApp() }
    let pidBefore = try #require(harness.health()["pid"] as? Int)
    let text = runbook(
      harness, restart: "[supervisorctl, -c, \"${conf}\", restart, frontend]", flagFiles: Harness.flagFiles
    )
    .replacingOccurrences(
      of: "- {id: restart, restart: frontend}",
      with: #"- {id: hold, run: {shell: "touch held; while [ ! -e release ]; do sleep 0.1; done"}}"#
        + "\n      - {id: restart, restart: frontend}")
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    try text.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let state = directory.appendingPathComponent("state")

    let process = Process()
    process.executableURL = URL(fileURLWithPath: CLI.binary)
    process.arguments = ["execute", "--level", "3", "--yes", "--state-dir", state.path]
    process.currentDirectoryURL = directory
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let held = directory.appendingPathComponent("held").path
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline, !FileManager.default.fileExists(atPath: held) {
      try await Task.sleep(for: .milliseconds(50))
    }
    #expect(FileManager.default.fileExists(atPath: held), "the hold step never started")
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    // Killed before the restart: the files say false, the process still serves true.
    #expect(try harness.health()["pid"] as? Int == pidBefore)
    #expect(try harness.health()["backend_api"] as? String == "true")
    let journal = try #require(journals(in: state).first)
    let written = try #require(
      try journalEvents(journal).first {
        $0["event"] as? String == "step-finished" && $0["id"] as? String == "off"
      }?["at"] as? String)
    let runID = URL(fileURLWithPath: journal).deletingPathExtension().lastPathComponent

    FileManager.default.createFile(atPath: directory.appendingPathComponent("release").path, contents: nil)
    let resumed = try CLI.run(["resume", runID, "--yes", "--state-dir", state.path], in: directory)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    let pidAfter = try #require(harness.health()["pid"] as? Int)
    #expect(pidAfter != pidBefore)
    #expect(
      resumed.stdout.contains("pickup: pid \(pidBefore) → \(pidAfter), started "), "\(resumed.stdout)")
    #expect(resumed.stdout.contains("flag api written at \(written)"), "\(resumed.stdout)")
    #expect(resumed.stdout.contains(", reports flags.NEXT_PUBLIC_USE_BACKEND_API = false"))
    let restart = try journalEvents(journal).last {
      $0["event"] as? String == "step-finished" && $0["id"] as? String == "restart"
    }
    #expect((restart?["detail"] as? String)?.contains("pickup: pid \(pidBefore) → \(pidAfter)") == true)
  }
}
