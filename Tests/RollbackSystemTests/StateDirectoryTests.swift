import Foundation
import Testing

@testable import RollbackSystem

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

@Suite("state directory")
struct StateDirectoryTests {
  @Test("--state-dir wins, then ROLLBACK_STATE_DIR, then .rollback beside the runbook")
  func resolutionOrder() {
    let variable = ["ROLLBACK_STATE_DIR": "/var/state"]
    #expect(
      StateDirectory(option: "/opt/s", processEnvironment: variable, runbookPath: "/r/rollback.yaml").path
        == "/opt/s")
    #expect(
      StateDirectory(option: nil, processEnvironment: variable, runbookPath: "/r/rollback.yaml").path
        == "/var/state")
    #expect(
      StateDirectory(option: nil, processEnvironment: [:], runbookPath: "/r/rollback.yaml").path
        == "/r/.rollback")
    #expect(
      StateDirectory(option: nil, processEnvironment: [:], runbookPath: "rollback.yaml").path == "./.rollback"
    )
  }

  @Test("an empty --state-dir or ROLLBACK_STATE_DIR counts as not given")
  func emptyValuesAreNotGiven() {
    #expect(
      StateDirectory(option: "", processEnvironment: ["ROLLBACK_STATE_DIR": "/v"], runbookPath: "/r/x.yaml")
        .path
        == "/v")
    #expect(
      StateDirectory(option: "", processEnvironment: ["ROLLBACK_STATE_DIR": ""], runbookPath: "/r/x.yaml")
        .path
        == "/r/.rollback")
  }

  @Test("the runbook's path is not asked for when the directory is given")
  func runbookPathIsLazy() throws {
    struct NoRunbook: Error {}
    let state = try StateDirectory(
      option: "/s", processEnvironment: [:], runbookPath: try { throw NoRunbook() }())
    #expect(state.path == "/s")
    #expect(throws: NoRunbook.self) {
      try StateDirectory(option: nil, processEnvironment: [:], runbookPath: try { throw NoRunbook() }())
    }
  }

  @Test("the layout: lock, runs, journals, backups and assessments")
  func layout() {
    let state = StateDirectory(path: "/s")
    #expect(state.lockPath == "/s/lock")
    #expect(state.runsPath == "/s/runs")
    #expect(state.journalPath(runID: "20261202T000000Z-ab12") == "/s/runs/20261202T000000Z-ab12.jsonl")
    #expect(state.backupsPath("flag-X") == "/s/backups/flag-X")
    #expect(state.assessmentsPath == "/s/assessments")
  }

  @Test("durable creation makes every missing directory, private, and keeps an existing one")
  func createsPrivateDirectories() throws {
    let scratch = try ScratchDirectory()
    let nested = scratch.file("state/backups/run")
    try StateDirectory.createDurably(nested)
    var info = stat()
    #expect(stat(nested, &info) == 0)
    #expect(info.st_mode & 0o777 == 0o700)
    #expect(stat(scratch.file("state"), &info) == 0)
    #expect(info.st_mode & 0o777 == 0o700)
    try StateDirectory.createDurably(nested)
  }

  @Test("a file in the way is a clear error naming the path")
  func fileInTheWay() throws {
    let scratch = try ScratchDirectory()
    _ = try scratch.write("state", "not a directory")
    #expect {
      try StateDirectory.createDurably(scratch.file("state/runs"))
    } throws: { error in
      "\(error)".contains(scratch.file("state"))
    }
  }
}
