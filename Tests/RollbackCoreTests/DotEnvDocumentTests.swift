import RollbackCore
import Testing

/// One edit of one dotenv text and the exact bytes it must produce.
struct DotEnvEditFixture: Sendable, CustomTestStringConvertible {
  let name: String
  let input: [UInt8]
  let key: String
  let value: String
  let expected: [UInt8]
  let change: DotEnvEdit.Change
  let oldValue: String?
  let line: Int

  init(
    _ name: String, _ input: String, key: String = "NEXT", set value: String = "false",
    expect expected: String,
    change: DotEnvEdit.Change = .replaced, old oldValue: String? = "true", line: Int = 1
  ) {
    self.init(
      name, bytes: Array(input.utf8), key: key, set: value, expect: Array(expected.utf8), change: change,
      old: oldValue, line: line)
  }

  init(
    _ name: String, bytes: [UInt8], key: String = "NEXT", set value: String = "false",
    expect expected: [UInt8],
    change: DotEnvEdit.Change = .replaced, old oldValue: String? = "true", line: Int = 1
  ) {
    self.name = name
    self.input = bytes
    self.key = key
    self.value = value
    self.expected = expected
    self.change = change
    self.oldValue = oldValue
    self.line = line
  }

  var testDescription: String { name }
}

let dotEnvEditFixtures: [DotEnvEditFixture] = [
  .init("plain LF", "A=1\nNEXT=true\nB=2\n", expect: "A=1\nNEXT=false\nB=2\n", line: 2),
  .init("CRLF", "A=1\r\nNEXT=true\r\nB=2\r\n", expect: "A=1\r\nNEXT=false\r\nB=2\r\n", line: 2),
  .init(
    "export prefix", "export A=1\nexport NEXT=true\n", expect: "export A=1\nexport NEXT=false\n", line: 2),
  .init("export with tabs", "\texport\tNEXT=true\n", expect: "\texport\tNEXT=false\n"),
  .init("single quotes", "NEXT='true'\n", expect: "NEXT='false'\n"),
  .init("double quotes", "NEXT=\"true\"\n", expect: "NEXT=\"false\"\n"),
  // python-dotenv reads backticks as part of the value: the new value goes without them.
  .init("backticks", "NEXT=`true`\n", expect: "NEXT=false\n"),
  .init("inline comment", "NEXT=true # flip me\n", expect: "NEXT=false # flip me\n"),
  .init("inline comment after tab", "NEXT=true\t#x\n", expect: "NEXT=false\t#x\n"),
  .init("comment after double quotes", "NEXT=\"true\"  # c\n", expect: "NEXT=\"false\"  # c\n"),
  .init("hash inside value", "NEXT=a#b\n", set: "c", expect: "NEXT=c\n", old: "a#b"),
  .init("spaces around =", "NEXT = true\n", expect: "NEXT = false\n"),
  .init(
    "blanks everywhere, CRLF", "  NEXT\t=  true   # c\r\n", expect: "  NEXT\t=  false   # c\r\n"),
  .init("no final newline", "A=1\nNEXT=true", expect: "A=1\nNEXT=false", line: 2),
  .init("byte order mark", "\u{FEFF}NEXT=true\n", expect: "\u{FEFF}NEXT=false\n"),
  .init("empty value", "NEXT=\nB=2\n", expect: "NEXT=false\nB=2\n", old: ""),
  .init("empty value with comment", "NEXT= # off\n", expect: "NEXT=false # off\n", old: ""),
  .init("empty quoted value", "NEXT=\"\"\n", expect: "NEXT=\"false\"\n", old: ""),
  .init("percent", "PCT=10\n", key: "PCT", set: "50", expect: "PCT=50\n", old: "10"),
  .init("unquoted value needing quotes", "NEXT=true\n", set: "a b", expect: "NEXT=\"a b\"\n"),
  .init("unquoted value with hash", "NEXT=true # c\n", set: "x #y", expect: "NEXT=\"x #y\" # c\n"),
  .init("single quote inside single quotes", "NEXT='true'\n", set: "it's", expect: "NEXT=\"it's\"\n"),
  .init("double quote escaped", "NEXT=\"true\"\n", set: "say \"hi\"", expect: "NEXT=\"say \\\"hi\\\"\"\n"),
  .init(
    "after a multi-line value", "CERT=\"-----BEGIN\nNEXT=x\n-----END\"\nOTHER=1\nNEXT2=true\n",
    key: "NEXT2", expect: "CERT=\"-----BEGIN\nNEXT=x\n-----END\"\nOTHER=1\nNEXT2=false\n", line: 5),
  .init("key named export", "export=true\n", key: "export", expect: "export=false\n"),
  .init(
    "similar keys", "NEXTX=true\nXNEXT=true\nNEXT=true\n", expect: "NEXTX=true\nXNEXT=true\nNEXT=false\n",
    line: 3),
  .init(
    "non-UTF-8 bytes elsewhere", bytes: [0x23, 0xFF, 0xFE, 0x0A] + Array("NEXT=true\n".utf8),
    expect: [0x23, 0xFF, 0xFE, 0x0A] + Array("NEXT=false\n".utf8), line: 2),
  .init("append", "A=1\n", expect: "A=1\nNEXT=false\n", change: .appended, old: nil, line: 2),
  .init(
    "append CRLF", "A=1\r\nB=2\r\n", expect: "A=1\r\nB=2\r\nNEXT=false\r\n", change: .appended, old: nil,
    line: 3),
  .init(
    "append without final newline", "A=1", expect: "A=1\nNEXT=false\n", change: .appended, old: nil, line: 2),
  .init(
    "append without final newline, CRLF", "A=1\r\nB=2", expect: "A=1\r\nB=2\r\nNEXT=false\r\n",
    change: .appended, old: nil, line: 3),
  .init("append to empty file", "", expect: "NEXT=false\n", change: .appended, old: nil, line: 1),
  .init("append to byte order mark", "\u{FEFF}", expect: "\u{FEFF}NEXT=false\n", change: .appended, old: nil),
  .init(
    "append after commented-out key", "# NEXT=true\n", expect: "# NEXT=true\nNEXT=false\n", change: .appended,
    old: nil, line: 2),
  .init(
    "append value needing quotes", "A=1\n", set: "a b", expect: "A=1\nNEXT=\"a b\"\n", change: .appended,
    old: nil, line: 2),
  .init("unchanged", "NEXT=false # c\r\n", expect: "NEXT=false # c\r\n", change: .unchanged, old: "false"),
  .init(
    "unchanged single-quoted", "NEXT='false'\n", expect: "NEXT='false'\n", change: .unchanged, old: "false"),
  .init(
    "unchanged escaped", "NEXT=\"a\\\"b\"\n", set: "a\"b", expect: "NEXT=\"a\\\"b\"\n", change: .unchanged,
    old: "a\"b"),
]

@Suite("dotenv editing")
struct DotEnvDocumentTests {
  @Test("setting a key changes exactly its value", arguments: dotEnvEditFixtures)
  func settingKey(_ fixture: DotEnvEditFixture) throws {
    let edit = try DotEnvDocument(bytes: fixture.input).setting(key: fixture.key, value: fixture.value)
    #expect(edit.bytes == fixture.expected)
    #expect(edit.change == fixture.change)
    #expect(edit.oldValue == fixture.oldValue)
    #expect(edit.newValue == fixture.value)
    #expect(edit.line == fixture.line)
    #expect(edit.isUnchanged == (fixture.change == .unchanged))
    #expect(edit.isAppended == (fixture.change == .appended))
    // Every byte outside the replaced range is the original byte.
    let range = edit.replacedRange
    #expect(Array(edit.bytes.prefix(range.lowerBound)) == Array(fixture.input.prefix(range.lowerBound)))
    #expect(
      Array(edit.bytes.suffix(fixture.input.count - range.upperBound))
        == Array(fixture.input[range.upperBound...]))
    #expect(
      edit.bytes == Array(fixture.input[..<range.lowerBound]) + edit.replacement
        + fixture.input[range.upperBound...])
    // Reading the key back gives the new value, and setting it again changes nothing.
    #expect(try edit.document.value(of: fixture.key) == fixture.value)
    let again = try edit.document.setting(key: fixture.key, value: fixture.value)
    #expect(again.isUnchanged)
    #expect(again.bytes == edit.bytes)
  }

  @Test(
    "reading values",
    arguments: [
      ("NEXT=true\n", "true"),
      ("export NEXT = 'a b' # c\n", "a b"),
      ("NEXT=\"a\\nb\\t\\\"c\\\\\"\n", "a\nb\t\"c\\"),
      ("NEXT='a\\nb'\n", "a\\nb"),
      ("NEXT=`a 'b' \"c\"`\n", "a 'b' \"c\""),
      ("NEXT=a#b # c\n", "a#b"),
      ("NEXT= \n", ""),
      ("NEXT=\"line1\nline2\"\n", "line1\nline2"),
      ("NEXT=true\r\n", "true"),
      ("# NEXT=true\n", nil),
      ("NEXT true\n", nil),
      ("OTHER=1\n", nil),
    ] as [(String, String?)])
  func readingValues(text: String, expected: String?) throws {
    #expect(try DotEnvDocument(string: text).value(of: "NEXT") == expected)
  }

  @Test("a key set twice is refused, naming both lines")
  func duplicateKey() {
    let text = """
      # frontend
      DATABASE_URL=postgres://db
      NEXT_PUBLIC_USE_BACKEND_API=true
      A=1
      B=2
      C=3
      D=4
      E=5
      export NEXT_PUBLIC_USE_BACKEND_API="false"

      """
    let document = DotEnvDocument(string: text)
    let expected = DotEnvError.duplicateKey(key: "NEXT_PUBLIC_USE_BACKEND_API", lines: [3, 9])
    #expect(throws: expected) { try document.setting(key: "NEXT_PUBLIC_USE_BACKEND_API", value: "false") }
    #expect(throws: expected) { try document.value(of: "NEXT_PUBLIC_USE_BACKEND_API") }
    #expect(
      expected.description == "NEXT_PUBLIC_USE_BACKEND_API is set on lines 3 and 9; remove one and retry")
    #expect(
      DotEnvError.duplicateKey(key: "K", lines: [1, 4, 7]).description
        == "K is set on lines 1, 4 and 7; remove one and retry")
  }

  @Test("an unterminated quote is refused, naming its line")
  func unterminatedQuote() {
    let document = DotEnvDocument(string: "A=1\nNEXT=\"true\nB=2\n")
    let expected = DotEnvError.unterminatedQuote(key: "NEXT", line: 2, quote: "\"")
    #expect(throws: expected) { try document.setting(key: "A", value: "2") }
    #expect(throws: expected) { try document.value(of: "B") }
    #expect(
      expected.description
        == "the value of NEXT opened with \" on line 2 is never closed; add the closing \" and retry")
    #expect(throws: DotEnvError.unterminatedQuote(key: "X", line: 1, quote: "'")) {
      try DotEnvDocument(string: "X='abc").value(of: "X")
    }
  }

  @Test("a key only inside a multi-line value is refused")
  func keyInsideMultilineValue() {
    let text = "A=1\nCERT=\"-----BEGIN\n  NEXT=true\n-----END\"\nB=2\n"
    let expected = DotEnvError.keyInsideMultilineValue(
      key: "NEXT", line: 3, enclosingKey: "CERT", enclosingLine: 2)
    #expect(throws: expected) { try DotEnvDocument(string: text).setting(key: "NEXT", value: "false") }
    #expect(throws: expected) { try DotEnvDocument(string: text).value(of: "NEXT") }
    #expect(expected.description.hasPrefix("NEXT appears on line 3 inside the multi-line value of CERT"))
    // Also when the key is assigned properly elsewhere: some parsers read that inner line.
    #expect(throws: expected) {
      try DotEnvDocument(string: text + "NEXT=true\n").setting(key: "NEXT", value: "false")
    }
    // Single quotes span lines too.
    #expect(
      throws: DotEnvError.keyInsideMultilineValue(key: "NEXT", line: 2, enclosingKey: "K", enclosingLine: 1)
    ) {
      try DotEnvDocument(string: "K='a\nexport NEXT=1\n'\n").value(of: "NEXT")
    }
    // The keys around the multi-line value are still editable.
    #expect(throws: Never.self) { try DotEnvDocument(string: text).setting(key: "B", value: "3") }
  }

  @Test(
    "a multi-line value opened by a line other parsers read as an assignment hides the key too",
    arguments: [
      ("CERT: \"line1\nNEXT=true\nline3\"\nB=2\n", "CERT"),
      ("export CERT : 'line1\nNEXT=true\n'\n", "CERT"),
      ("CLÉ=\"line1\nNEXT=true\nline3\"\n", "CLÉ"),
      ("LIST[0]=`a\nNEXT=true\n`\n", "LIST[0]"),
    ])
  func keyInsideLooseMultilineValue(text: String, enclosing: String) throws {
    let expected = DotEnvError.keyInsideMultilineValue(
      key: "NEXT", line: 2, enclosingKey: enclosing, enclosingLine: 1)
    #expect(throws: expected) { try DotEnvDocument(string: text).setting(key: "NEXT", value: "false") }
    #expect(throws: expected) { try DotEnvDocument(string: text).value(of: "NEXT") }
    // A line after the value is still an assignment.
    let after = try DotEnvDocument(string: text + "OTHER=1\n").setting(key: "OTHER", value: "2")
    #expect(after.bytes == Array((text + "OTHER=2\n").utf8))
  }

  @Test("a backticked value is written without backticks, even when it already has the value")
  func backticksGiveWay() throws {
    let same = try DotEnvDocument(string: "A=1\nNEXT=`true` # c\n").setting(key: "NEXT", value: "true")
    #expect(same.change == .replaced)
    #expect(same.bytes == Array("A=1\nNEXT=true # c\n".utf8))
    let spaced = try DotEnvDocument(string: "NEXT=`a\nb`\n").setting(key: "NEXT", value: "x y")
    #expect(spaced.bytes == Array("NEXT=\"x y\"\n".utf8))
    let again = try spaced.document.setting(key: "NEXT", value: "x y")
    #expect(again.isUnchanged)
  }

  @Test("a colon line that opens no quote changes nothing; the key itself written with ':' is refused")
  func colonLines() throws {
    let text = "URL: http://example.com\nNOTE: plain\nNEXT=true\n"
    let edit = try DotEnvDocument(string: text).setting(key: "NEXT", value: "false")
    #expect(edit.bytes == Array("URL: http://example.com\nNOTE: plain\nNEXT=false\n".utf8))
    let colon = DotEnvError.colonAssignment(key: "NEXT", lines: [2])
    #expect(throws: colon) {
      try DotEnvDocument(string: "A=1\nNEXT: true\n").setting(key: "NEXT", value: "false")
    }
    #expect(throws: colon) { try DotEnvDocument(string: "A=1\nexport NEXT :true\n").value(of: "NEXT") }
    #expect(colon.description.hasPrefix("NEXT is set with ':' instead of '=' on line 2"))
  }

  @Test("a single-quoted key spanning lines (python-dotenv reads it as one key) hides the flag's line")
  func quotedKeySpanningLines() throws {
    // Found by the python-dotenv parity check: the flag's line sits inside the quoted key.
    let text = "'# CRLF\r\nNEXT=trueX=\"\n'\r\nB=50\r\n"
    #expect(
      throws: DotEnvError.keyInsideMultilineValue(
        key: "NEXT", line: 2, enclosingKey: "'# CRLF", enclosingLine: 1)
    ) {
      try DotEnvDocument(string: text).setting(key: "NEXT", value: "false")
    }
    // A quoted key on one line, or a lone quote, changes nothing.
    let plain = "'A'=1\n'stray\nNEXT=true\n"
    let edit = try DotEnvDocument(string: plain).setting(key: "NEXT", value: "false")
    #expect(edit.bytes == Array("'A'=1\n'stray\nNEXT=false\n".utf8))
  }

  @Test("a value appended below a lone quote that it would close is refused, the file untouched")
  func appendClosingAStrayQuote() throws {
    // Found by the reliability fuzzer: `\t'` then NEW_KEY="it's" reads, for python-dotenv, as
    // one quoted key from line 1 to the value's quote, and the editor's own read-back agrees.
    let stray = DotEnvDocument(string: "\t'")
    #expect(
      throws: DotEnvError.keyInsideMultilineValue(
        key: "NEW_KEY", line: 2, enclosingKey: "'", enclosingLine: 1)
    ) {
      try stray.setting(key: "NEW_KEY", value: "it's")
    }
    // A value without a quote is appended as before.
    let edit = try stray.setting(key: "NEW_KEY", value: "plain")
    #expect(edit.bytes == Array("\t'\nNEW_KEY=plain\n".utf8))
  }

  @Test("the key alone on a line, without '=', is refused (python-dotenv reads it as unset)")
  func keyWithoutValue() {
    let expected = DotEnvError.keyWithoutValue(key: "NEXT", lines: [3])
    #expect(throws: expected) {
      try DotEnvDocument(string: "A=1\nNEXT=1\nNEXT\n=true\n").setting(key: "NEXT", value: "false")
    }
    #expect(throws: DotEnvError.keyWithoutValue(key: "NEXT", lines: [1, 2])) {
      try DotEnvDocument(string: "export NEXT # later\n  NEXT\nB=2\n").value(of: "NEXT")
    }
    #expect(expected.description.hasPrefix("NEXT stands alone without '=' on line 3"))
    // Other bare words change nothing.
    #expect(throws: Never.self) {
      try DotEnvDocument(string: "NEXTA\nexport\nNEXT=1\n").setting(key: "NEXT", value: "2")
    }
  }

  @Test("a file with carriage returns alone as line ends is refused, never appended to")
  func loneCarriageReturns() throws {
    let expected = DotEnvError.loneCarriageReturn(line: 1)
    #expect(throws: expected) {
      try DotEnvDocument(string: "A=1\rNEXT=true\r").setting(key: "NEXT", value: "false")
    }
    #expect(throws: expected) {
      try DotEnvDocument(string: "A=1\rB=2\r").setting(key: "NEXT", value: "false")
    }
    #expect(throws: expected) { try DotEnvDocument(string: "A=1\rNEXT=true\r").value(of: "NEXT") }
    #expect(throws: DotEnvError.loneCarriageReturn(line: 4)) {
      try DotEnvDocument(string: "A=1\r\nB=2\n\nC=\"x\ry\"\n").value(of: "A")
    }
    // CRLF is fine, and so is a value's escaped \\r.
    let edit = try DotEnvDocument(string: "A=\"x\\ry\"\r\nNEXT=true\r\n").setting(key: "NEXT", value: "false")
    #expect(edit.bytes == Array("A=\"x\\ry\"\r\nNEXT=false\r\n".utf8))
    #expect(expected.description.contains("line 1") && expected.description.contains("retry"))
  }

  @Test("bad keys, bad values and non-UTF-8 values are refused")
  func invalidInput() throws {
    let document = DotEnvDocument(string: "NEXT=true\n")
    #expect(throws: DotEnvError.invalidKey(key: "A B")) { try document.setting(key: "A B", value: "1") }
    #expect(throws: DotEnvError.invalidKey(key: "")) { try document.value(of: "") }
    #expect(throws: DotEnvError.invalidValue(key: "NEXT", reason: "contains a line break")) {
      try document.setting(key: "NEXT", value: "a\nb")
    }
    #expect(throws: DotEnvError.invalidValue(key: "NEXT", reason: "contains a NUL byte")) {
      try document.setting(key: "NEXT", value: "a\u{0}b")
    }
    let latin1 = DotEnvDocument(bytes: Array("A=1\nNEXT=caf".utf8) + [0xE9, 0x0A])
    #expect(throws: DotEnvError.valueNotUTF8(key: "NEXT", line: 2)) {
      try latin1.setting(key: "NEXT", value: "x")
    }
    #expect(try latin1.value(of: "A") == "1")
    let edit = try latin1.setting(key: "A", value: "2")
    #expect(edit.bytes == Array("A=2\nNEXT=caf".utf8) + [0xE9, 0x0A])
  }

  @Test("every error names the key and says what to do")
  func errorDescriptions() {
    let errors: [DotEnvError] = [
      .duplicateKey(key: "K", lines: [1, 2]),
      .keyInsideMultilineValue(key: "K", line: 2, enclosingKey: "C", enclosingLine: 1),
      .unterminatedQuote(key: "K", line: 1, quote: "'"),
      .invalidKey(key: "K K"),
      .invalidValue(key: "K", reason: "contains a line break"),
      .valueNotUTF8(key: "K", line: 3),
    ]
    for error in errors {
      #expect(error.description.contains("K"), "\(error)")
      #expect(error.description.contains("retry") || error.description.contains("use "), "\(error)")
    }
  }
}
