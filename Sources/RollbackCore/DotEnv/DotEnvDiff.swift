/// A unified diff of two versions of a file, with 3 lines of context, for dry runs.
///
/// Returns an empty string when the bytes are equal. Lines keep their bytes (a CRLF line shows
/// its `\r`); bytes that are not UTF-8 are shown as U+FFFD; a last line without a newline is
/// followed by `\ No newline at end of file`, as `diff -u` prints it.
public func unifiedDiff(old: [UInt8], new: [UInt8], path: String) -> String {
  guard old != new else { return "" }
  let oldLines = DotEnvDiffLine.split(old)
  let newLines = DotEnvDiffLine.split(new)
  let operations = DotEnvDiffOperation.script(from: oldLines, to: newLines)
  var output = "--- \(path)\n+++ \(path)\n"
  for hunk in DotEnvDiffOperation.hunks(operations, context: 3) {
    output += hunk.header
    for operation in hunk.operations {
      switch operation {
      case .equal(let oldIndex, _): output += oldLines[oldIndex].rendered(prefix: " ")
      case .delete(let oldIndex, _): output += oldLines[oldIndex].rendered(prefix: "-")
      case .insert(_, let newIndex): output += newLines[newIndex].rendered(prefix: "+")
      }
    }
  }
  return output
}

/// One line of a file: its bytes without the `\n`, and whether the `\n` was there.
struct DotEnvDiffLine: Equatable {
  let content: ArraySlice<UInt8>
  let hasNewline: Bool

  static func split(_ bytes: [UInt8]) -> [DotEnvDiffLine] {
    var lines: [DotEnvDiffLine] = []
    var start = 0
    for (index, byte) in bytes.enumerated() where byte == 0x0A {
      lines.append(DotEnvDiffLine(content: bytes[start..<index], hasNewline: true))
      start = index + 1
    }
    if start < bytes.count { lines.append(DotEnvDiffLine(content: bytes[start...], hasNewline: false)) }
    return lines
  }

  func rendered(prefix: String) -> String {
    let text = prefix + String(decoding: content, as: UTF8.self) + "\n"
    return hasNewline ? text : text + "\\ No newline at end of file\n"
  }
}

/// One step of an edit script; each carries the old and new line index it sits at.
enum DotEnvDiffOperation: Equatable {
  case equal(Int, Int)
  case delete(Int, Int)
  case insert(Int, Int)

  var isChange: Bool {
    if case .equal = self { return false }
    return true
  }

  var oldIndex: Int {
    switch self {
    case .equal(let old, _), .delete(let old, _), .insert(let old, _): return old
    }
  }

  var newIndex: Int {
    switch self {
    case .equal(_, let new), .delete(_, let new), .insert(_, let new): return new
    }
  }

  /// The largest middle section (lines × lines) compared line by line; beyond it the middle is
  /// shown as one removed block and one added block (still a correct diff, just not minimal).
  static let comparisonLimit = 4_000_000

  /// A shortest edit script (longest common subsequence) between the two line lists.
  static func script(from old: [DotEnvDiffLine], to new: [DotEnvDiffLine]) -> [DotEnvDiffOperation] {
    var prefix = 0
    while prefix < old.count, prefix < new.count, old[prefix] == new[prefix] { prefix += 1 }
    var suffix = 0
    while suffix < old.count - prefix, suffix < new.count - prefix,
      old[old.count - 1 - suffix] == new[new.count - 1 - suffix]
    {
      suffix += 1
    }
    var operations = (0..<prefix).map { DotEnvDiffOperation.equal($0, $0) }
    let oldMiddle = Array(old[prefix..<(old.count - suffix)])
    let newMiddle = Array(new[prefix..<(new.count - suffix)])
    operations += middle(oldMiddle, newMiddle, offset: prefix, newOffset: prefix)
    let oldEnd = old.count - suffix
    let newEnd = new.count - suffix
    operations += (0..<suffix).map { DotEnvDiffOperation.equal(oldEnd + $0, newEnd + $0) }
    return operations
  }

  private static func middle(_ old: [DotEnvDiffLine], _ new: [DotEnvDiffLine], offset: Int, newOffset: Int)
    -> [DotEnvDiffOperation]
  {
    let rows = old.count
    let columns = new.count
    guard (rows + 1) * (columns + 1) <= comparisonLimit else {
      return (0..<rows).map { .delete(offset + $0, newOffset) }
        + (0..<columns).map { .insert(offset + rows, newOffset + $0) }
    }
    // common[i * (columns + 1) + j] = length of the longest common subsequence of old[i...] and new[j...]
    var common = [Int](repeating: 0, count: (rows + 1) * (columns + 1))
    for i in stride(from: rows - 1, through: 0, by: -1) {
      for j in stride(from: columns - 1, through: 0, by: -1) {
        common[i * (columns + 1) + j] =
          old[i] == new[j]
          ? common[(i + 1) * (columns + 1) + j + 1] + 1
          : max(common[(i + 1) * (columns + 1) + j], common[i * (columns + 1) + j + 1])
      }
    }
    var operations: [DotEnvDiffOperation] = []
    var i = 0
    var j = 0
    while i < rows || j < columns {
      if i < rows, j < columns, old[i] == new[j] {
        operations.append(.equal(offset + i, newOffset + j))
        i += 1
        j += 1
      } else if j == columns
        || (i < rows && common[(i + 1) * (columns + 1) + j] >= common[i * (columns + 1) + j + 1])
      {
        operations.append(.delete(offset + i, newOffset + j))
        i += 1
      } else {
        operations.append(.insert(offset + i, newOffset + j))
        j += 1
      }
    }
    return operations
  }

  /// A hunk: its operations and its `@@ -a,b +c,d @@` header.
  struct Hunk {
    let operations: ArraySlice<DotEnvDiffOperation>

    var header: String {
      let oldCount = operations.filter { if case .insert = $0 { return false } else { return true } }.count
      let newCount = operations.filter { if case .delete = $0 { return false } else { return true } }.count
      let first = operations.first
      let oldStart = (first?.oldIndex ?? 0) + (oldCount > 0 ? 1 : 0)
      let newStart = (first?.newIndex ?? 0) + (newCount > 0 ? 1 : 0)
      return "@@ -\(Self.range(oldStart, oldCount)) +\(Self.range(newStart, newCount)) @@\n"
    }

    private static func range(_ start: Int, _ count: Int) -> String {
      count == 1 ? "\(start)" : "\(start),\(count)"
    }
  }

  /// Groups changes with `context` unchanged lines around them; nearby groups share a hunk.
  static func hunks(_ operations: [DotEnvDiffOperation], context: Int) -> [Hunk] {
    let changes = operations.indices.filter { operations[$0].isChange }
    guard let firstChange = changes.first else { return [] }
    var hunks: [Hunk] = []
    var start = max(0, firstChange - context)
    var end = firstChange
    for change in changes.dropFirst() {
      if change - end - 1 > 2 * context {
        hunks.append(Hunk(operations: operations[start...min(operations.count - 1, end + context)]))
        start = change - context
      }
      end = change
    }
    hunks.append(Hunk(operations: operations[start...min(operations.count - 1, end + context)]))
    return hunks
  }
}
