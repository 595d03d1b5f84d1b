import Foundation
import Testing

@Suite("plan --forward: usage mistakes are refused before anything is read")
struct ForwardUsageTests {
  static let atom = "runbooks/frontend-backend-migration.yaml"

  @Test(
    "--forward with --level, --format without --forward, and a run that does not exist: exit 2 with a reason")
  func usage() throws {
    let state = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(state) }
    let both = try CLI.run(["plan", "--runbook", Self.atom, "--forward", "r-1", "--level", "3"])
    #expect(both.status == 2)
    #expect(
      both.stderr.contains("give --forward RUN_ID, or --level/--scenario/--list, not both"), "\(both.stderr)")
    let format = try CLI.run(["plan", "--runbook", Self.atom, "--level", "3", "--format", "runbook"])
    #expect(format.status == 2)
    #expect(format.stderr.contains("--format runbook goes with --forward RUN_ID"), "\(format.stderr)")
    let missing = try CLI.run([
      "plan", "--runbook", Self.atom, "--forward", "r-nope", "--state-dir", state.path,
    ])
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("no run r-nope in \(state.path)/runs"), "\(missing.stderr)")
    #expect(missing.stdout.isEmpty)
  }
}
