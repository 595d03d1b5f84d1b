import Foundation
import RollbackCore

#if !ROLLBACK_FUZZ_STANDALONE
  import Testing
#endif

// The fuzzers run in two ways: as tests (`swift test`, debug build, a few hundred inputs)
// and, for the reliability suite, compiled with `-D ROLLBACK_FUZZ_STANDALONE` against the
// release build by reliability/fuzz/build (tens of thousands of inputs in seconds).

/// A small deterministic generator, so any failing input can be made again from the seed.
struct FuzzRandom: RandomNumberGenerator {
  var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// One of `items`, which must not be empty.
  mutating func pick<T>(_ items: [T]) -> T {
    items[Int(next() % UInt64(items.count))]
  }
}

/// How much to fuzz: `ROLLBACK_FUZZ_ITERATIONS` (default 100, so `make test` stays quick; the
/// reliability suite asks for 10 000 and more), `ROLLBACK_FUZZ_SEED`, `ROLLBACK_FUZZ_DUMP` (a
/// directory that receives failing and slow inputs) and `ROLLBACK_FUZZ_REPORT`, a file that
/// receives one JSON line of figures per fuzzer.
enum FuzzSettings {
  static var iterations: Int {
    Int(ProcessInfo.processInfo.environment["ROLLBACK_FUZZ_ITERATIONS"] ?? "") ?? 100
  }

  static var seed: UInt64 {
    UInt64(ProcessInfo.processInfo.environment["ROLLBACK_FUZZ_SEED"] ?? "")
      ?? UInt64.random(in: 0...UInt64.max)
  }

  /// The longest one input may take. The tests run in the debug build, several times slower
  /// than the release build users run: they allow 5 s there and keep every input that takes
  /// 0.25 s or more (with `ROLLBACK_FUZZ_DUMP`) so that reliability/fuzz_cli.py can time it
  /// against the 1 s limit with the release binary.
  #if DEBUG
    static let timeLimit = 5.0
    static let build = "debug"
  #else
    static let timeLimit = 1.0
    static let build = "release"
  #endif
  static let keepSlowerThan = 0.25

  static let packageRoot =
    ProcessInfo.processInfo.environment["ROLLBACK_FUZZ_ROOT"].map { URL(fileURLWithPath: $0) }
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// Keeps a failing input as `DIR/NAME` when `ROLLBACK_FUZZ_DUMP` names a directory.
  static func dump(_ bytes: [UInt8], as name: String) {
    guard let directory = ProcessInfo.processInfo.environment["ROLLBACK_FUZZ_DUMP"], !directory.isEmpty else {
      return
    }
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(bytes))
  }

  /// Appends one JSON object to the report file, when one is asked for.
  static func report(_ fields: [String: Any]) {
    guard let path = ProcessInfo.processInfo.environment["ROLLBACK_FUZZ_REPORT"], !path.isEmpty,
      let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    else { return }
    let line = data + Data("\n".utf8)
    if let handle = FileHandle(forWritingAtPath: path) {
      handle.seekToEndOfFile()
      handle.write(line)
      handle.closeFile()
    } else {
      _ = FileManager.default.createFile(atPath: path, contents: line)
    }
  }

  static func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
  }
}

/// Ends the test process when one input runs for more than `limit` seconds: a hang would
/// otherwise stop the whole run without saying which input did it.
final class FuzzWatchdog: @unchecked Sendable {
  private let lock = NSLock()
  private var current: [Int: (started: Date, tag: String, bytes: [UInt8])] = [:]
  private let limit: TimeInterval
  private var stopped = false

  init(limit: TimeInterval = 10) {
    self.limit = limit
    Thread.detachNewThread { [self] in
      while true {
        Thread.sleep(forTimeInterval: 0.5)
        lock.lock()
        if stopped {
          lock.unlock()
          return
        }
        let hung = current.values.first { Date().timeIntervalSince($0.started) > limit }
        lock.unlock()
        if let hung {
          FuzzSettings.dump(hung.bytes, as: "hang.input")
          FuzzSettings.report(["fuzzer": "hang", "input": hung.tag, "limit_s": limit])
          FileHandle.standardError.write(Data("fuzz: \(hung.tag) still runs after \(limit)s: a hang\n".utf8))
          exit(3)
        }
      }
    }
  }

  func begin(_ share: Int, _ tag: String, _ bytes: [UInt8]) {
    lock.lock()
    current[share] = (Date(), tag, bytes)
    lock.unlock()
  }

  func end(_ share: Int) {
    lock.lock()
    current[share] = nil
    lock.unlock()
  }

  func stop() {
    lock.lock()
    stopped = true
    lock.unlock()
  }
}

/// Where YAML says the lines are: LF, CR, CRLF, NEL, LS and PS end a line (libyaml counts
/// columns in characters, from 1).
struct SourceLines {
  let lengths: [Int]

  init(_ text: String) {
    var copy = text
    lengths = copy.withUTF8 { bytes in
      var lengths: [Int] = []
      var current = 0
      var index = 0
      while index < bytes.count {
        let byte = bytes[index]
        var width = 0  // the length of a line break here, 0 when there is none
        switch byte {
        case 0x0A: width = 1
        case 0x0D: width = index + 1 < bytes.count && bytes[index + 1] == 0x0A ? 2 : 1
        case 0xC2 where index + 1 < bytes.count && bytes[index + 1] == 0x85: width = 2
        case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x80 && (bytes[index + 2] | 1) == 0xA9:
          width = 3
        default: break
        }
        if width > 0 {
          lengths.append(current)
          current = 0
          index += width
        } else {
          if byte & 0xC0 != 0x80 { current += 1 }
          index += 1
        }
      }
      lengths.append(current)
      return lengths
    }
  }

  /// True when (line, column) is a place in the text: on a line, at most one past its end.
  func contains(line: Int, column: Int) -> Bool {
    guard line >= 1, line <= lengths.count else { return false }
    return column >= 1 && column <= lengths[line - 1] + 1
  }
}

/// Mutated runbooks through the loader `rollback validate` uses: no crash, no hang, and every
/// refusal located at a place in the file.
enum RunbookFuzzer {
  /// A small valid runbook, besides the repository's.
  static let smallRunbook = """
    version: 1
    name: demo
    environments:
      production:
        vars: {app_dir: /srv/app}
        prometheus: {url: "http://127.0.0.1:9090"}
    flags:
      api:
        key: USE_API
        files: ["${app_dir}/.env"]
        service: web
    services:
      web:
        restart: [systemctl, restart, web]
    signals:
      error_rate:
        prometheus: rate(errors_total[5m])
        unit: ratio
    decision:
      # first match wins
      - severity: critical
        any: ["error_rate > 5%"]
        action: {level: 1}
    levels:
      1:
        name: Full
        target: 5m
        steps:
          - id: off
            flag: {name: api, set: disabled}
          - restart: web

    """

  enum Mutation: String, CaseIterable {
    case byteFlips = "byte flips"
    case truncation
    case lineEdits = "line deletions, duplications and swaps"
    case tokens = "inserted YAML tokens"
    case deepNesting = "deep nesting"
    case hugeScalar = "huge scalars"
    case aliasBomb = "alias bombs"
    case valueSwap = "odd values in place of scalars"

    /// How often each is drawn, in percent (the big inputs cost the most time).
    var weight: Int {
      return switch self {
      case .byteFlips: 20
      case .truncation: 14
      case .lineEdits: 14
      case .tokens: 19
      case .deepNesting: 8
      case .hugeScalar: 6
      case .aliasBomb: 5
      case .valueSwap: 14
      }
    }

    static func draw(_ rng: inout FuzzRandom) -> Mutation {
      var roll = Int.random(in: 0..<allCases.reduce(0) { $0 + $1.weight }, using: &rng)
      for kind in allCases {
        if roll < kind.weight { return kind }
        roll -= kind.weight
      }
      return .byteFlips
    }
  }

  static func seeds() throws -> [(name: String, text: String)] {
    let root = FuzzSettings.packageRoot.appendingPathComponent("runbooks")
    var files = try FileManager.default.contentsOfDirectory(atPath: root.path).filter {
      $0.hasSuffix(".yaml")
    }
    .map { root.appendingPathComponent($0) }
    let examples = root.appendingPathComponent("examples")
    files += ((try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []).filter {
      $0.hasSuffix(".yaml")
    }.map { examples.appendingPathComponent($0) }
    var seeds = try files.sorted { $0.path < $1.path }.map {
      ($0.lastPathComponent, try String(contentsOf: $0, encoding: .utf8))
    }
    seeds.append(("small", smallRunbook))
    return seeds
  }

  static let tokens = [
    ":", ": ", "- ", "{", "}", "[", "]", ",", "&a ", "*a", "*undefined", "!!binary ", "!tag ", "? ", "|",
    ">-",
    "\t", "\"", "'", "#", "%YAML 1.1\n", "---\n", "...\n", "<<: *a\n", "${", "${env.", "${secret.X}", "}}",
    "\n",
    "\r", "\r\n", "\u{0}", "\u{FEFF}", "\u{85}", "\u{2028}", "é", "🚨", "\\", "`", "@", "=", "~", "null",
    "- - - -", "{a: [b, {c: d}]}", "&x [*x]", "key: &k value\nother: *k\n", "1e999", "-.inf", ".nan", "0x1F",
    "2026-02-02T10:15:00Z",
  ]

  static let oddValues = [
    "", "~", "null", "true", "yes", "on", "-1", "0", "99999999999999999999999", "1e999", ".nan", "[]", "{}",
    "\"\"", "'a", "\"unterminated", "5 minutes", "500", "-5m", "0s", "1h1h", "${", "${undefined}",
    "${env.NOPE}", "${secret.}", "[a, b", "{a: 1", "&a x", "*a", "!!int x", "|\n  text", "a: b: c",
    String(repeating: "x", count: 5000), "999999999999999h", "168h1s", "99999999999999999999s", "1e300",
    "-1e300", "9223372036854775808", "100000000000ms",
  ]

  static func mutate(_ text: String, _ kind: Mutation, _ rng: inout FuzzRandom) -> [UInt8] {
    var bytes = Array(text.utf8)
    func position() -> Int { Int.random(in: 0...bytes.count, using: &rng) }
    switch kind {
    case .byteFlips:
      for _ in 0..<Int.random(in: 1...8, using: &rng) where !bytes.isEmpty {
        let index = Int.random(in: 0..<bytes.count, using: &rng)
        // Mostly structural ASCII, sometimes any byte at all.
        bytes[index] =
          Bool.random(using: &rng)
          ? rng.pick(Array(":-{}[],&*!?|>'\"#%@` \t\n\r".utf8))
          : UInt8.random(in: 0...255, using: &rng)
      }
    case .truncation:
      bytes = Array(bytes.prefix(position()))
    case .lineEdits:
      var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      for _ in 0..<Int.random(in: 1...4, using: &rng) where lines.count > 1 {
        let a = Int.random(in: 0..<lines.count, using: &rng)
        let b = Int.random(in: 0..<lines.count, using: &rng)
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: lines.remove(at: a)
        case 1: lines.insert(lines[a], at: b)
        case 2: lines.swapAt(a, b)
        default:
          // Re-indent a line by a random amount.
          let trimmed = lines[a].drop { $0 == " " }
          lines[a] = String(repeating: " ", count: Int.random(in: 0...12, using: &rng)) + trimmed
        }
      }
      bytes = Array(lines.joined(separator: "\n").utf8)
    case .tokens:
      for _ in 0..<Int.random(in: 1...4, using: &rng) {
        bytes.insert(contentsOf: Array(rng.pick(tokens).utf8), at: position())
      }
    case .deepNesting:
      let depth = rng.pick([65, 100, 999, 1000, 1001, 5000, 50_000, 100_000])
      let nested: String
      switch Int.random(in: 0..<4, using: &rng) {
      case 0: nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
      case 1: nested = String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth)
      case 2: nested = String(repeating: "[", count: depth)  // never closed
      default:
        // Block nesting: each level indented one more space (kept small: the text grows as depth²).
        let levels = min(depth, 400)
        nested = "\n" + (1...levels).map { String(repeating: " ", count: $0) + "a:" }.joined(separator: "\n")
      }
      if Bool.random(using: &rng) {
        bytes = Array("version: 1\nname: deep\ndescription: \(nested)\n".utf8)
      } else {
        // As the value of the first `description:`/`name:` found, or at the end.
        let text = String(decoding: bytes, as: UTF8.self)
        if let range = text.range(of: "name: ") {
          bytes = Array((text[..<range.upperBound] + nested + "\n" + text[range.upperBound...]).utf8)
        } else {
          bytes += Array("\nextra: \(nested)\n".utf8)
        }
      }
    case .hugeScalar:
      // Up to the limits: 1 MiB a line, 8 MiB a file (and just past them).
      let size = rng.pick([65_536, 262_144, 1024 * 1024, 1024 * 1024 + 1, 3_000_000, 8 * 1024 * 1024 + 1])
      let scalar = [UInt8](repeating: UInt8(ascii: "x"), count: size)
      switch Int.random(in: 0..<5, using: &rng) {
      case 4:
        // As many lines: a literal block of `size` bytes in lines of 1000.
        let block = (0..<(size / 1000)).map { _ in "  " + String(repeating: "y", count: 998) }.joined(
          separator: "\n")
        bytes = Array("version: 1\nname: big\ndescription: |\n\(block)\n".utf8)
      case 0:
        let marker = Array("description: ".utf8)
        if let at = bytes.firstRange(of: marker) {
          bytes = Array(bytes[..<at.upperBound]) + scalar + [10] + Array(bytes[at.upperBound...])
        } else {
          bytes += Array("\ndescription: ".utf8) + scalar + [10]
        }
      case 1: bytes = Array("version: 1\nname: ".utf8) + scalar + [10]
      case 2:
        // A huge plain key.
        bytes = Array("version: 1\nname: big\n".utf8) + scalar + Array(": 1\n".utf8)
      default:
        // A huge explicit key (`? KEY`), which YAML does not limit to 1024 characters.
        bytes = Array("version: 1\nname: big\n? ".utf8) + scalar + Array("\n: 1\n".utf8)
      }
    case .aliasBomb:
      var lines = ["a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
      let levels = Int.random(in: 5...12, using: &rng)
      let width = Int.random(in: 6...10, using: &rng)
      for level in 1...levels {
        let refs = Array(repeating: "*a\(level - 1)", count: width).joined(separator: ", ")
        lines.append(
          Bool.random(using: &rng)
            ? "a\(level): &a\(level) [\(refs)]"
            : "a\(level): &a\(level) {" + (0..<width).map { "k\($0): *a\(level - 1)" }.joined(separator: ", ")
              + "}")
      }
      let bomb = lines.joined(separator: "\n")
      bytes =
        Bool.random(using: &rng)
        ? Array((bomb + "\n").utf8)
        : Array(
          (text + "\nbomb:\n"
            + bomb.split(separator: "\n").map { "  " + $0 }
            .joined(separator: "\n") + "\n").utf8)
    case .valueSwap:
      // Replace the value after a random `: ` with an odd one.
      let text = String(decoding: bytes, as: UTF8.self)
      let starts = text.ranges(of: ": ").map(\.upperBound)
      guard let start = starts.randomElement(using: &rng) else { break }
      let end = text[start...].firstIndex(of: "\n") ?? text.endIndex
      bytes = Array((text[..<start] + rng.pick(oddValues) + text[end...]).utf8)
    }
    return bytes
  }

  /// What one share of the inputs showed.
  struct Findings: Sendable {
    var perKind: [String: (count: Int, refused: Int, slowest: Double)] = [:]
    var slow: [String] = []
    var unlocated: [String] = []
    var silent: [String] = []
    var bombsAccepted: [String] = []
    var unbounded: [String] = []
    var diagnostics = 0
    var invalidUTF8 = 0
    var durations: [Double] = []

    mutating func merge(_ other: Findings) {
      for (kind, entry) in other.perKind {
        let mine = perKind[kind] ?? (0, 0, 0)
        perKind[kind] = (
          mine.count + entry.count, mine.refused + entry.refused, max(mine.slowest, entry.slowest)
        )
      }
      slow += other.slow
      unlocated += other.unlocated
      silent += other.silent
      bombsAccepted += other.bombsAccepted
      unbounded += other.unbounded
      diagnostics += other.diagnostics
      invalidUTF8 += other.invalidUTF8
      durations += other.durations
    }
  }

  /// The first duration or count of an accepted runbook outside what a run can use (durations
  /// up to ``Quantity/maximumSeconds``, `consecutive` up to 10 000), nil when all are in range.
  static func unboundedNumber(in runbook: Runbook) -> String? {
    func bad(_ seconds: Double?) -> Bool {
      seconds.map { !$0.isFinite || $0 < 0 || $0 > Quantity.maximumSeconds } ?? false
    }
    for level in runbook.levels where bad(level.target) { return "target \(level.target ?? 0)" }
    for scenario in runbook.scenarios where bad(scenario.target) { return "target \(scenario.target ?? 0)" }
    for step in runbook.levels.flatMap(\.steps) + runbook.scenarios.flatMap(\.steps) {
      if bad(step.timeout) || bad(step.retryDelay) { return "timeout or retry_delay of a step" }
      if case .wait(_, let within, let interval, let consecutive) = step.kind,
        bad(within) || bad(interval) || !(1...10_000).contains(consecutive)
      {
        return "wait within \(within), interval \(interval), consecutive \(consecutive)"
      }
    }
    return nil
  }

  /// Loads `count` mutated runbooks, numbered from `first`, drawn with `seed`.
  static func fuzz(
    seeds: [(name: String, text: String)], seed: UInt64, first: Int, count: Int, share: Int,
    watchdog: FuzzWatchdog
  ) -> Findings {
    var rng = FuzzRandom(seed: seed)
    var found = Findings()
    let clock = ContinuousClock()
    for iteration in first..<(first + count) {
      let kind = Mutation.draw(&rng)
      let base = rng.pick(seeds)
      let bytes = mutate(base.text, kind, &rng)
      // The CLI refuses bytes that are not UTF-8 at 1:1 before parsing; here they are repaired.
      let source: String
      if let valid = String(validating: bytes, as: UTF8.self) {
        source = valid
      } else {
        found.invalidUTF8 += 1
        source = String(decoding: bytes, as: UTF8.self)
      }
      let tag = "#\(iteration) (\(kind.rawValue) of \(base.name), seed \(seed))"
      watchdog.begin(share, tag, bytes)
      let before = clock.now
      let result = RunbookLoader.load(source: source, file: "fuzz.yaml")
      let elapsed = FuzzSettings.seconds(before.duration(to: clock.now))
      watchdog.end(share)
      found.durations.append(elapsed)
      var entry = found.perKind[kind.rawValue] ?? (0, 0, 0)
      entry.count += 1
      entry.slowest = max(entry.slowest, elapsed)
      if elapsed >= FuzzSettings.timeLimit { found.slow.append("\(tag): \(elapsed)s") }
      if elapsed >= FuzzSettings.keepSlowerThan {
        FuzzSettings.dump(bytes, as: "slow-runbook-\(iteration).yaml")
      }
      let errors = result.errors
      if result.runbook == nil {
        entry.refused += 1
        if errors.isEmpty { found.silent.append(tag) }
      }
      if kind == .aliasBomb, result.runbook != nil { found.bombsAccepted.append(tag) }
      if let runbook = result.runbook, let what = Self.unboundedNumber(in: runbook) {
        found.unbounded.append("\(tag): \(what)")
        FuzzSettings.dump(bytes, as: "unbounded-\(iteration).yaml")
      }
      found.perKind[kind.rawValue] = entry
      guard !errors.isEmpty else { continue }
      let lines = SourceLines(source)
      for error in errors {
        found.diagnostics += 1
        let prefix = "fuzz.yaml:\(error.location.line):\(error.location.column): error: "
        if !lines.contains(line: error.location.line, column: error.location.column)
          || !error.description.hasPrefix(prefix) || error.message.isEmpty
        {
          found.unlocated.append("\(tag): \(error.description.prefix(200)) (lines: \(lines.lengths.count))")
          FuzzSettings.dump(bytes, as: "runbook-\(iteration).yaml")
        }
      }
    }
    return found
  }

  /// Runs `iterations` inputs drawn from `seed` in `shares` parallel streams; the figures,
  /// and the problems found (none when everything held).
  static func run(iterations: Int, seed: UInt64, shares: Int = 2) async throws -> (
    figures: [String: Any], problems: [String]
  ) {
    let seeds = try Self.seeds()
    let clock = ContinuousClock()
    let started = clock.now
    var found = Findings()
    let watchdog = FuzzWatchdog()
    defer { watchdog.stop() }
    await withTaskGroup(of: Findings.self) { group in
      for share in 0..<shares {
        let count = iterations / shares + (share < iterations % shares ? 1 : 0)
        let first = share * (iterations / shares) + min(share, iterations % shares)
        group.addTask {
          Self.fuzz(
            seeds: seeds, seed: seed &+ UInt64(share), first: first, count: count, share: share,
            watchdog: watchdog)
        }
      }
      for await share in group { found.merge(share) }
    }
    let total = FuzzSettings.seconds(started.duration(to: clock.now))
    let durations = found.durations.sorted()
    let p99 = durations.isEmpty ? 0 : durations[min(durations.count - 1, durations.count * 99 / 100)]
    var problems = found.slow.map { "over \(FuzzSettings.timeLimit)s: \($0)" }
    problems += found.unlocated.map { "not located in the file: \($0)" }
    problems += found.silent.map { "refused without an error: \($0)" }
    problems += found.bombsAccepted.map { "alias bomb accepted: \($0)" }
    problems += found.unbounded.map { "accepted a number a run cannot use: \($0)" }
    if found.durations.count != iterations {
      problems.append("ran \(found.durations.count) of \(iterations)")
    }
    let figures: [String: Any] = [
      "fuzzer": "runbook", "iterations": found.durations.count, "seed": String(seed), "seconds": total,
      "slowest_s": durations.last ?? 0, "p99_s": p99, "over_limit": found.slow.count,
      "limit_s": FuzzSettings.timeLimit, "build": FuzzSettings.build,
      "kept_slow": found.durations.filter { $0 >= FuzzSettings.keepSlowerThan }.count,
      "errors_checked": found.diagnostics, "unlocated": found.unlocated.count,
      "refused_silently": found.silent.count, "invalid_utf8": found.invalidUTF8,
      "bombs_accepted": found.bombsAccepted.count, "unbounded_accepted": found.unbounded.count,
      "by_kind": found.perKind.mapValues {
        ["count": $0.count, "refused": $0.refused, "slowest_s": $0.slowest]
      },
      "problems": Array(problems.prefix(10)), "problem_count": problems.count,
    ]
    FuzzSettings.report(figures)
    return (figures, problems)
  }
}

#if !ROLLBACK_FUZZ_STANDALONE
  @Suite("fuzzing the runbook loader")
  struct FuzzRunbookTests {
    @Test("mutated runbooks: no crash, no hang, every error located")
    func mutatedRunbooks() async throws {
      let (_, problems) = try await RunbookFuzzer.run(
        iterations: FuzzSettings.iterations, seed: FuzzSettings.seed)
      #expect(problems.isEmpty, "\(problems.count) problems: \(problems.prefix(5))")
    }

    @Test("found by fuzzing: a CRLF runbook's error shows its own line, not the whole file")
    func crlfExcerpt() throws {
      let source = "version: 1\r\nname: x\r\nbogus: 1\r\n"
      let result = RunbookLoader.load(source: source, file: "crlf.yaml")
      let error = try #require(result.errors.first { $0.message.contains("bogus") })
      #expect(error.location.line == 3)
      #expect(error.rendered(source: source) == "\(error.description)\nbogus: 1\n^")
    }

    @Test("found by fuzzing: the end of a file without a final line break is a place in the file")
    func endOfInput() throws {
      let source = "version: 1\nname: x\nlevels: {1: {steps: [{id: a, check: [x"
      let error = try #require(RunbookLoader.load(source: source, file: "eof.yaml").errors.first)
      #expect(error.location.line == 3)
      #expect(error.location.column == 39)  // just past the last character
    }

    @Test("found by fuzzing: a place counted through a multi-line scalar stays on its line")
    func multiLineScalar() throws {
      let source = "version: 1\nname: x\ndescription: |\n  a long line\n  ${never closed\n"
      for error in RunbookLoader.load(source: source, file: "m.yaml").errors {
        #expect(SourceLines(source).contains(line: error.location.line, column: error.location.column))
      }
    }

    @Test("found by fuzzing: a 4 MiB key is refused at once, not compared with every known key")
    func hugeExplicitKey() throws {
      let source = "version: 1\nname: big\n? " + String(repeating: "k", count: 4_000_000) + "\n: 1\n"
      let clock = ContinuousClock()
      let started = clock.now
      let result = RunbookLoader.load(source: source, file: "key.yaml")
      #expect(started.duration(to: clock.now) < .seconds(FuzzSettings.timeLimit))
      #expect(result.errors.first?.message == "line 3 is longer than 1 MiB; a runbook never needs that")
      let sixty = "version: 1\nname: big\n? " + String(repeating: "k", count: 60_000) + "\n: 1\n"
      let started2 = clock.now
      let unknown = RunbookLoader.load(source: sixty, file: "key.yaml")
      #expect(started2.duration(to: clock.now) < .seconds(FuzzSettings.timeLimit))
      #expect(unknown.errors.contains { $0.message.hasPrefix("unknown key 'kkk") })
    }
  }
#endif
