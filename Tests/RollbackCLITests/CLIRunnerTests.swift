import Foundation
import Testing

@Suite("The CLI test runner")
struct CLIRunnerTests {
  @Test("a child that writes more than a pipe buffer to stderr before stdout is read to the end")
  func bigStderrBeforeStdout() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    // 200 KiB on stderr (three times a Linux pipe buffer) before one line on stdout.
    process.arguments = ["-c", "head -c 204800 /dev/zero | tr '\\000' e >&2; echo done; exit 3"]
    let clock = ContinuousClock()
    let started = clock.now
    let result = try CLI.capture(process, timeout: 20)
    #expect(clock.now - started < .seconds(20), "the runner waited for the timeout")
    #expect(result.status == 3)
    #expect(result.stdout == "done\n")
    #expect(result.stderr.utf8.count == 204_800)
    #expect(result.stderr.allSatisfy { $0 == "e" })
  }

  @Test("stdin larger than a pipe buffer reaches a child that prints as it reads")
  func bigStdin() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/cat")
    let text = String(repeating: "line of input\n", count: 20_000)
    let result = try CLI.capture(process, stdin: text, timeout: 20)
    #expect(result.status == 0)
    #expect(result.stdout == text)
  }
}
