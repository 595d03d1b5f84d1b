import Foundation
import Testing

/// `flag` and `restore` take the state directory's lock the way `execute` does.
@Suite("the state lock of flag and restore")
struct StateLockTests {
  /// A runbook with one flag in `app.env`, in a fresh directory.
  func folder() throws -> URL {
    let directory = try CLI.temporaryDirectory()
    try """
    version: 1
    name: lock
    environments: {local: {}}
    flags:
      api: {key: USE_API, files: [app.env]}
    levels:
      1:
        steps:
          - {flag: {name: api, set: disabled}}
    """.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    try "USE_API=true\n".write(
      to: directory.appendingPathComponent("app.env"), atomically: true, encoding: .utf8)
    return directory
  }

  @Test("an unusable state directory is exit 1 with its reason, not 4 (another holder), and no file changes")
  func unusableStateDirectory() throws {
    let directory = try folder()
    defer { try? FileManager.default.removeItem(at: directory) }
    let blocker = directory.appendingPathComponent("not-a-directory")
    try "x".write(to: blocker, atomically: true, encoding: .utf8)

    let result = try CLI.run(["flag", "disable", "api", "--state-dir", blocker.path], in: directory)

    #expect(result.status == 1, "\(result.stderr)")
    #expect(result.stderr.contains("make the state directory \(blocker.path) writable"), "\(result.stderr)")
    let env = try String(contentsOf: directory.appendingPathComponent("app.env"), encoding: .utf8)
    #expect(env == "USE_API=true\n")
  }

  @Test("with a usable state directory the flag changes and the lock is released")
  func usableStateDirectory() throws {
    let directory = try folder()
    defer { try? FileManager.default.removeItem(at: directory) }

    let result = try CLI.run(["flag", "disable", "api"], in: directory)

    #expect(result.status == 0, "\(result.stderr)")
    let env = try String(contentsOf: directory.appendingPathComponent("app.env"), encoding: .utf8)
    #expect(env == "USE_API=false\n")
    #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(".rollback/lock").path))
  }
}
