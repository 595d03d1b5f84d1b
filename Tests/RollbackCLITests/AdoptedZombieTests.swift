import Foundation
import Testing

@Suite("processes a step leaves behind")
struct AdoptedZombieTests {
  @Test("a process a step leaves running is adopted by rollback and reaped after it exits, not left a zombie")
  func adoptedChildIsReaped() throws {
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let path = directory.path
    // `leave` starts a process in its own session and exits: rollback, a child subreaper,
    // adopts it. `wait` outlives it and notes its state and parent. `count` counts
    // rollback's zombie children once `wait` has ended.
    let scripts = [
      "leave.sh": "setsid sleep 0.3 </dev/null >/dev/null 2>&1 &\necho $! > daemon\n",
      "wait.sh": """
      sleep 1
      read -r line < /proc/$(cat daemon)/stat
      set -- ${line##*) }
      echo "$1 $2" > daemon-state
      echo $PPID > rollback-pid

      """,
      "count.sh": """
      n=0
      for s in /proc/[0-9]*/stat; do
        read -r line < "$s" 2>/dev/null || continue
        set -- ${line##*) }
        if [ "$1" = Z ] && [ "$2" = "$PPID" ]; then n=$((n + 1)); fi
      done
      echo $n > zombies-after

      """,
    ]
    for (name, text) in scripts {
      try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    let runbook = """
      version: 1
      name: leftover
      environments: {local: {}}
      levels:
        1:
          steps:
            - {id: leave, run: [sh, leave.sh]}
            - {id: wait, run: [sh, wait.sh]}
            - {id: count, run: [sh, count.sh]}
      """
    try runbook.write(
      to: directory.appendingPathComponent("rollback.yaml"), atomically: true, encoding: .utf8)
    let result = try CLI.run(["execute", "--level", "1", "--yes"], in: directory)
    #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
    func read(_ name: String) -> String {
      ((try? String(contentsOfFile: "\(path)/\(name)", encoding: .utf8)) ?? "")
        .trimmingCharacters(in: .whitespacesAndNewlines)
    }
    // While `wait` ran, the left process had exited and was rollback's zombie ...
    let rollbackPid = read("rollback-pid")
    #expect(!rollbackPid.isEmpty)
    #expect(read("daemon-state") == "Z \(rollbackPid)")
    // ... and once `wait` had ended, rollback had reaped it.
    #expect(read("zombies-after") == "0")
  }
}
