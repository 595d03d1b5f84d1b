import Foundation
import RollbackCore

#if !ROLLBACK_FUZZ_STANDALONE
  import Testing
#endif

/// Mutated dotenv files through the editor every flag change uses: either a correct edit
/// (only the value's bytes change, the new value reads back, every other key reads as
/// before) or a clear refusal (a `DotEnvError` naming the key, justified by the text).
enum DotEnvFuzzer {
  static let key = "NEXT_PUBLIC_USE_BACKEND_API"
  static let secretValue = "s3cr3t-Value-9f2"

  static let seeds: [String] = [
    """
    # Local overrides for this machine (not committed).
    NEXT_PUBLIC_USE_BACKEND_API=true
    BACKEND_API_ROLLOUT_PERCENT=100

    DATABASE_URL="postgresql://frontend:CHANGE_ME@db.internal:5432/atom"
    NEXTAUTH_URL=http://localhost:3000

    """,
    "NODE_ENV=production\nNEXT_PUBLIC_USE_BACKEND_API=true # inline comment\nLOG_LEVEL=info # c\n",
    "# CRLF\r\nNEXT_PUBLIC_USE_BACKEND_API=true\r\nBACKEND_API_ROLLOUT_PERCENT=50\r\nNAME='Atom'\r\n",
    "\u{FEFF}export NEXT_PUBLIC_USE_BACKEND_API = \"true\"\nexport OTHER=1\n",
    "NEXT_PUBLIC_APP_NAME='Atom'\nNEXT_PUBLIC_USE_BACKEND_API='true'\nEMPTY=\nSPACED = a b c \n",
    "PRIVATE_KEY=\"-----BEGIN KEY-----\nabc\ndef\n-----END KEY-----\"\nNEXT_PUBLIC_USE_BACKEND_API=`true`\n",
    "NEXT_PUBLIC_USE_BACKEND_API=true",  // no final line break
    "A=1\nB=\"two # not a comment\"\nC=three#four\nD=\"esc \\\" \\n \\\\ x\"\nNEXT_PUBLIC_USE_BACKEND_API=\n",
    "",
    "CERT: \"-----BEGIN-----\nabc\n-----END-----\"\nNEXT_PUBLIC_USE_BACKEND_API=true\nNODE: x\nCLÉ=1\n",
    (0..<150).map { $0 == 75 ? "NEXT_PUBLIC_USE_BACKEND_API=true" : "KEY_\($0)=value-\($0)" }.joined(
      separator: "\n") + "\n",
  ]

  static let values = [
    "false", "true", "0", "10", "50", "100", "", "a b", "with#hash", "with #hash", "quote\"d", "it's", "`bt`",
    "ünïcødé", "x=y", "back\\slash", "$dollar", "${REF}", " lead", "trail ", "tab\there", secretValue,
    "line\nbreak", "nul\u{0}", "cr\r",
  ]

  static let tokens: [[UInt8]] = [
    Array("\"".utf8), Array("'".utf8), Array("`".utf8), [10], [13], [13, 10], Array("#".utf8),
    Array("=".utf8),
    Array("export ".utf8), Array(" ".utf8), [9], Array("\\".utf8), [0], [0xEF, 0xBB, 0xBF], [0xFF], [0xC3],
    Array("\(key)=".utf8), Array("\n\(key)=1\n".utf8), Array("X=\"\n".utf8), Array(": ".utf8),
    Array("\nCERT: \"".utf8), Array("\nCLÉ[0]='".utf8), Array("\n\(key): 1\n".utf8),
  ]

  /// Keys assigned at the start of a line (`[export ]KEY =`), roughly as the editor sees them.
  static func keys(in bytes: [UInt8]) -> Set<String> {
    var found = Set<String>()
    for line in bytes.split(separator: 10, omittingEmptySubsequences: true) {
      var text = Substring(String(decoding: line, as: UTF8.self))
      text = text.drop { $0 == " " || $0 == "\t" || $0 == "\u{FEFF}" }
      if text.hasPrefix("export ") { text = text.dropFirst(7).drop { $0 == " " } }
      // Keys are ASCII letters, digits, '_', '.' and '-' (as for dotenv npm's `[\w.-]`).
      let name = text.prefix {
        $0.isASCII && ($0.isLetter || $0.isNumber) || $0 == "_" || $0 == "." || $0 == "-"
      }
      let rest = text.dropFirst(name.count).drop { $0 == " " || $0 == "\t" }
      if !name.isEmpty, rest.hasPrefix("=") { found.insert(String(name)) }
    }
    return found
  }

  static func mutate(_ seed: String, _ rng: inout FuzzRandom) -> (kind: String, bytes: [UInt8]) {
    var bytes = Array(seed.utf8)
    func position() -> Int { Int.random(in: 0...bytes.count, using: &rng) }
    switch Int.random(in: 0..<7, using: &rng) {
    case 0:
      return ("unchanged", bytes)
    case 1:
      for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
        bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
      }
      return ("byte flips", bytes)
    case 2:
      for _ in 0..<Int.random(in: 1...3, using: &rng) {
        bytes.insert(contentsOf: rng.pick(tokens), at: position())
      }
      return ("inserted tokens", bytes)
    case 3:
      return ("truncation", Array(bytes.prefix(position())))
    case 4:
      // Duplicate or delete a line.
      var lines = bytes.split(separator: 10, omittingEmptySubsequences: false).map(Array.init)
      guard !lines.isEmpty else { return ("line edits", bytes) }
      let index = Int.random(in: 0..<lines.count, using: &rng)
      if Bool.random(using: &rng) {
        lines.insert(lines[index], at: Int.random(in: 0...lines.count, using: &rng))
      } else {
        lines.remove(at: index)
      }
      return ("line edits", Array(lines.joined(separator: [10])))
    case 5:
      // The key's line inside another key's multi-line quoted value.
      // The opening line as dotenv reads it, or as other parsers do (`KEY:`, a non-ASCII key).
      let opener = rng.pick(["OPEN=\"", "CERT: \"", "export TLS.KEY : '", "CLÉ=\"", "LIST[0]=\""])
      let text = opener + "first line\n" + seed + String(opener.suffix(1)) + "\nAFTER=1\n"
      return ("inside a multi-line value", Array(text.utf8))
    default:
      // Quote the value differently or strangely.
      let quotes = ["\"", "'", "`", "\"\"", "'\"", ""]
      let open = rng.pick(quotes)
      let close = rng.pick(quotes)
      let text = seed.replacingOccurrences(of: "\(key)=true", with: "\(key)=\(open)true\(close)")
      return ("odd quoting", Array(text.utf8))
    }
  }

  /// What is wrong with one edit, or nil when it is a correct edit or a justified refusal.
  static func problem(
    original: [UInt8], key: String, value: String, outcome: Result<DotEnvEdit, DotEnvError>
  ) -> String? {
    let document = DotEnvDocument(bytes: original)
    switch outcome {
    case .failure(let error):
      let text = error.description
      if text.isEmpty { return "an empty refusal" }
      // A quote left open (or text after a multi-line value's closing quote) anywhere stops
      // every edit: the refusal names that key instead.
      switch error {
      case .unterminatedQuote, .textAfterClosingQuote, .loneCarriageReturn: break
      default: if !text.contains(key) { return "the refusal does not name the key: \(text)" }
      }
      if text.contains(secretValue) { return "the refusal shows the value: \(text)" }
      switch error {
      case .invalidValue:
        if !value.utf8.contains(where: { $0 == 10 || $0 == 13 || $0 == 0 }) {
          return "refused a value that fits on one line: \(text)"
        }
      case .duplicateKey(_, let lines):
        if lines.count < 2 || Self.keys(in: original).isEmpty {
          return "a duplicate with fewer than two lines"
        }
      case .valueNotUTF8:
        if String(validating: original, as: UTF8.self) != nil { return "not UTF-8, but the file is: \(text)" }
      case .invalidKey:
        return "refused the key \(key)"
      case .loneCarriageReturn:
        let lone = original.indices.contains {
          original[$0] == 13 && (original.indices.contains($0 + 1) ? original[$0 + 1] != 10 : true)
        }
        if !lone { return "refused for a lone carriage return, but there is none: \(text)" }
      case .colonAssignment:
        if !String(decoding: original, as: UTF8.self).contains("\(key):")
          && !String(decoding: original, as: UTF8.self).contains("\(key) ")
        {
          return "refused for a ':' assignment, but there is none: \(text)"
        }
      case .keyWithoutValue(_, let lines):
        let lineTexts = original.split(separator: 10, omittingEmptySubsequences: false)
        for line in lines {
          let text =
            lineTexts.indices.contains(line - 1) ? String(decoding: lineTexts[line - 1], as: UTF8.self) : ""
          // The key stands alone when nothing but blanks or a comment follows it (`KEY #=x`
          // and `KEY#=x` assign nothing for dotenv or python-dotenv).
          let rest = text.range(of: key).map { text[$0.upperBound...].drop { $0 == " " || $0 == "\t" } }
          if rest.map({ !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix("\r") }) ?? true {
            return "refused for a key without '=' on line \(line), but it reads '\(text)'"
          }
        }
      case .keyInsideMultilineValue, .unterminatedQuote, .textAfterClosingQuote:
        break
      }
      return nil
    case .success(let edit):
      let new = edit.bytes
      // Re-reading gives the new value.
      let reread: String?
      do { reread = try DotEnvDocument(bytes: new).value(of: key) } catch {
        return "the edited text cannot be read back: \(error)"
      }
      if reread != value { return "reads back \(String(describing: reread)), not \(value)" }
      switch edit.change {
      case .unchanged:
        if new != original { return "unchanged, but the bytes differ" }
      case .appended:
        if Array(new.prefix(original.count)) != original { return "an append changed existing bytes" }
        if (try? document.value(of: key)) != .some(nil) { return "appended a key that was there" }
      case .replaced:
        // Only a window of the old bytes changed, and it starts on the key's own line.
        var prefix = 0
        while prefix < min(new.count, original.count), new[prefix] == original[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < min(new.count, original.count) - prefix,
          new[new.count - 1 - suffix] == original[original.count - 1 - suffix]
        {
          suffix += 1
        }
        let changed = original[prefix..<(original.count - suffix)]
        let oldValue = edit.oldValue ?? ""
        if changed.contains(10), !oldValue.contains("\n") {
          return "the change crosses a line break of a one-line value"
        }
        let lineStart = original[..<prefix].lastIndex(of: 10).map { $0 + 1 } ?? 0
        let line = String(decoding: original[lineStart..<prefix], as: UTF8.self)
        if !Self.keys(in: Array(original[lineStart..<min(original.count, prefix + 1)] + [61])).contains(key)
          && !line.contains(key)
        {
          return "the change is not on the line of \(key): '\(line)'"
        }
      }
      // Other keys (up to eight of them) read as before.
      for other in Self.keys(in: original).sorted().filter({ $0 != key }).prefix(8) {
        guard let before = try? document.value(of: other) else { continue }
        let after = try? DotEnvDocument(bytes: new).value(of: other)
        if after != before {
          return "\(other) changed from \(String(describing: before)) to \(String(describing: after))"
        }
      }
      return nil
    }
  }

  /// What one share of the inputs showed.
  struct Findings: Sendable {
    var count = 0
    var edits = 0
    var refusals: [String: Int] = [:]
    var kinds: [String: Int] = [:]
    var problems: [String] = []
    var slowest = 0.0

    mutating func merge(_ other: Findings) {
      count += other.count
      edits += other.edits
      refusals.merge(other.refusals, uniquingKeysWith: +)
      kinds.merge(other.kinds, uniquingKeysWith: +)
      problems += other.problems
      slowest = max(slowest, other.slowest)
    }
  }

  static func fuzz(seed: UInt64, first: Int, count: Int) -> Findings {
    var rng = FuzzRandom(seed: seed)
    var found = Findings()
    let clock = ContinuousClock()
    for iteration in first..<(first + count) {
      let (kind, bytes) = Self.mutate(rng.pick(Self.seeds), &rng)
      found.kinds[kind, default: 0] += 1
      let present = Array(Self.keys(in: bytes)).sorted()
      let key: String
      switch Int.random(in: 0..<10, using: &rng) {
      case 0..<6: key = Self.key
      case 6..<9: key = present.randomElement(using: &rng) ?? "NEW_KEY"
      default: key = "NEW_KEY"
      }
      let value = rng.pick(Self.values)
      let before = clock.now
      let outcome: Result<DotEnvEdit, DotEnvError>
      do { outcome = .success(try DotEnvDocument(bytes: bytes).setting(key: key, value: value)) } catch {
        outcome = .failure(error)
      }
      found.slowest = max(found.slowest, FuzzSettings.seconds(before.duration(to: clock.now)))
      found.count += 1
      switch outcome {
      case .success: found.edits += 1
      case .failure(let error):
        let name = Mirror(reflecting: error).children.first?.label ?? "\(error)"
        found.refusals[name, default: 0] += 1
      }
      if let problem = Self.problem(original: bytes, key: key, value: value, outcome: outcome) {
        found.problems.append(
          "#\(iteration) (\(kind), seed \(seed)) \(key)=\(value.debugDescription): \(problem)")
        FuzzSettings.dump(bytes, as: "dotenv-\(iteration).env")
      }
    }
    return found
  }

  /// Runs `iterations` edits drawn from `seed` in `shares` parallel streams.
  static func run(iterations: Int, seed: UInt64, shares: Int = 2) async -> (
    figures: [String: Any], problems: [String]
  ) {
    let clock = ContinuousClock()
    let started = clock.now
    var found = Findings()
    await withTaskGroup(of: Findings.self) { group in
      for share in 0..<shares {
        let count = iterations / shares + (share < iterations % shares ? 1 : 0)
        let first = share * (iterations / shares) + min(share, iterations % shares)
        group.addTask { Self.fuzz(seed: seed &+ UInt64(share), first: first, count: count) }
      }
      for await share in group { found.merge(share) }
    }
    var problems = found.problems
    if found.count != iterations { problems.append("ran \(found.count) of \(iterations)") }
    let figures: [String: Any] = [
      "fuzzer": "dotenv", "iterations": found.count, "seed": String(seed),
      "seconds": FuzzSettings.seconds(started.duration(to: clock.now)), "slowest_s": found.slowest,
      "edits": found.edits, "refusals": found.refusals, "by_kind": found.kinds,
      "problems": Array(problems.prefix(10)), "problem_count": problems.count,
    ]
    FuzzSettings.report(figures)
    return (figures, problems)
  }
}

#if !ROLLBACK_FUZZ_STANDALONE
  /// Mutated dotenv files through the editor every flag change uses.
  @Suite("fuzzing the dotenv editor")
  struct FuzzDotEnvTests {
    @Test("mutated dotenv files: a correct edit or a clear refusal, never anything else")
    func mutatedDotEnvFiles() async {
      let (_, problems) = await DotEnvFuzzer.run(
        iterations: FuzzSettings.iterations * 3, seed: FuzzSettings.seed)
      #expect(problems.isEmpty, "\(problems.count) wrong edits or refusals: \(problems.prefix(5))")
    }

    @Test("found by fuzzing: text after a closing quote is refused, as dotenv reads the whole line")
    func textAfterClosingQuote() throws {
      // dotenv (Node) reads `true`\ as the value "`true`\": the flag was never "true" there.
      let junk = DotEnvDocument(string: "A=1\nNEXT_PUBLIC_USE_BACKEND_API=`true`\\\nB=2\n")
      #expect(throws: DotEnvError.textAfterClosingQuote(key: DotEnvFuzzer.key, line: 2, quote: "`")) {
        try junk.setting(key: DotEnvFuzzer.key, value: "false")
      }
      // The other keys stay editable; a blank and a comment after the quote are fine.
      #expect(try junk.setting(key: "B", value: "3").change == .replaced)
      let comment = DotEnvDocument(string: "K=\"true\" # on\nL='x'#c\n")
      #expect(
        try comment.setting(key: "K", value: "false").bytes == Array("K=\"false\" # on\nL='x'#c\n".utf8))
      #expect(try comment.value(of: "L") == "x")
      // After a multi-line value the next lines are read differently: the whole file is refused.
      let multiLine = DotEnvDocument(string: "P=\"a\nb\" c\nK=true\n")
      #expect(throws: DotEnvError.textAfterClosingQuote(key: "P", line: 1, quote: "\"")) {
        try multiLine.setting(key: "K", value: "false")
      }
    }
  }
#endif
