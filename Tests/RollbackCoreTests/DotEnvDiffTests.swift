import RollbackCore
import Testing

@Suite("dry-run diff of a dotenv edit")
struct DotEnvDiffTests {
  private func diff(_ old: String, _ new: String) -> String {
    unifiedDiff(old: Array(old.utf8), new: Array(new.utf8), path: "/app/.env.local")
  }

  private func hunkHeaders(_ diff: String) -> [String] {
    diff.split(separator: "\n").map(String.init).filter { $0.hasPrefix("@@") }
  }

  @Test("one changed line gets 3 lines of context on each side")
  func changedLine() throws {
    let old = "L1\nL2\nL3\nL4\nNEXT=true\nL6\nL7\nL8\nL9\n"
    let edit = try DotEnvDocument(string: old).setting(key: "NEXT", value: "false")
    let text = unifiedDiff(old: Array(old.utf8), new: edit.bytes, path: "/app/.env.local")
    #expect(
      text == """
        --- /app/.env.local
        +++ /app/.env.local
        @@ -2,7 +2,7 @@
         L2
         L3
         L4
        -NEXT=true
        +NEXT=false
         L6
         L7
         L8

        """)
  }

  @Test("a change near the start has less context")
  func changeAtStart() {
    #expect(
      diff("A=1\nB=2\n", "A=0\nB=2\n") == """
        --- /app/.env.local
        +++ /app/.env.local
        @@ -1,2 +1,2 @@
        -A=1
        +A=0
         B=2

        """)
  }

  @Test("identical bytes give no diff")
  func identical() {
    #expect(diff("A=1\n", "A=1\n") == "")
    #expect(diff("", "") == "")
  }

  @Test("an append to a file without a final newline shows the marker")
  func appendWithoutFinalNewline() throws {
    let edit = try DotEnvDocument(string: "A=1").setting(key: "NEXT", value: "false")
    #expect(
      unifiedDiff(old: Array("A=1".utf8), new: edit.bytes, path: ".env") == """
        --- .env
        +++ .env
        @@ -1 +1,2 @@
        -A=1
        \\ No newline at end of file
        +A=1
        +NEXT=false

        """)
  }

  @Test("an append to an empty file starts at line 0")
  func appendToEmpty() {
    #expect(
      diff("", "NEXT=false\n") == """
        --- /app/.env.local
        +++ /app/.env.local
        @@ -0,0 +1 @@
        +NEXT=false

        """)
  }

  @Test("a pure insertion in the middle counts zero old lines at the line before")
  func insertionWithoutContext() {
    let old = (1...9).map { "L\($0)\n" }.joined()
    let new = (1...9).map { $0 == 5 ? "L5\nX\n" : "L\($0)\n" }.joined()
    #expect(
      diff(old, new) == """
        --- /app/.env.local
        +++ /app/.env.local
        @@ -3,6 +3,7 @@
         L3
         L4
         L5
        +X
         L6
         L7
         L8

        """)
  }

  @Test("changes far apart get two hunks, changes close together share one")
  func hunkGrouping() {
    let lines = (1...20).map { "L\($0)" }
    let old = lines.joined(separator: "\n") + "\n"
    var far = lines
    far[1] = "X2"
    far[17] = "X18"
    let farDiff = diff(old, far.joined(separator: "\n") + "\n")
    #expect(hunkHeaders(farDiff) == ["@@ -1,5 +1,5 @@", "@@ -15,6 +15,6 @@"])
    var near = lines
    near[4] = "X5"
    near[11] = "X12"  // 6 unchanged lines between: one hunk
    let nearDiff = diff(old, near.joined(separator: "\n") + "\n")
    #expect(hunkHeaders(nearDiff) == ["@@ -2,14 +2,14 @@"])
    var apart = lines
    apart[4] = "X5"
    apart[12] = "X13"  // 7 unchanged lines between: two hunks
    let apartDiff = diff(old, apart.joined(separator: "\n") + "\n")
    #expect(hunkHeaders(apartDiff) == ["@@ -2,7 +2,7 @@", "@@ -10,7 +10,7 @@"])
  }

  @Test("CRLF lines keep their carriage return")
  func crlf() {
    #expect(
      diff("NEXT=true\r\n", "NEXT=false\r\n") == "--- /app/.env.local\n+++ /app/.env.local\n@@ -1 +1 @@\n"
        + "-NEXT=true\r\n+NEXT=false\r\n")
  }
}
