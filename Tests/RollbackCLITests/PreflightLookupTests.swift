import Foundation
import Testing

/// Preflight finds a step's program exactly as the run would start it.
@Suite("preflight agrees with the process runner on executables")
struct PreflightLookupTests {
  @Test("a directory named as a step's program is refused at preflight: nothing runs, no step starts")
  func directoryIsNotAProgram() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let tool = directory.appendingPathComponent("tool")
    try FileManager.default.createDirectory(at: tool, withIntermediateDirectories: true)
    let marker = directory.appendingPathComponent("marker").path
    try """
    version: 1
    name: lookup
    environments: {local: {}}
    levels:
      1:
        steps:
          - {id: first, run: [touch, "\(marker)"]}
          - {id: second, run: ["\(tool.path)"]}
    """.write(to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)

    let result = try CLI.run(["execute", "--level", "1", "--yes"], in: directory)

    #expect(result.status != 0)
    let output = result.stdout + result.stderr
    #expect(output.contains("preflight failed; nothing was changed"), "\(output)")
    #expect(output.contains("second: command '\(tool.path)' not found"), "\(output)")
    #expect(!FileManager.default.fileExists(atPath: marker), "a step ran before preflight refused")
  }
}
