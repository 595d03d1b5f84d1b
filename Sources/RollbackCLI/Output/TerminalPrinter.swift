import Foundation
import RollbackCore
import RollbackSystem

/// Prints execution output: colour, a live progress line and a summary box on a terminal;
/// plain lines elsewhere. Honours NO_COLOR, --quiet and --verbose.
final class TerminalPrinter: @unchecked Sendable {
  private let lock = NSLock()
  private let handle: FileHandle
  private let interactive: Bool
  private let colour: Bool
  private let quiet: Bool
  private let verbose: Bool
  /// How many lines the live block on screen has (0: none).
  private var progressLines = 0
  private var spinner = 0
  private static let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

  /// A printer for stdout, or stderr when stdout carries JSON.
  init(
    json: Bool, quiet: Bool, verbose: Bool,
    processEnvironment: [String: String] = ProcessInfo.processInfo.environment
  ) {
    let descriptor = json ? STDERR_FILENO : STDOUT_FILENO
    handle = json ? FileHandle.standardError : FileHandle.standardOutput
    interactive = isatty(descriptor) == 1 && processEnvironment["TERM"] != "dumb"
    colour = interactive && (processEnvironment["NO_COLOR"] ?? "").isEmpty
    self.quiet = quiet
    self.verbose = verbose
  }

  private func paint(_ text: String, _ code: String) -> String {
    colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
  }

  private func write(_ text: String) { handle.write(Data(text.utf8)) }

  /// Prints one line according to its kind.
  func print(_ line: OutputLine) {
    // What servers and processes say is shown, never obeyed by the terminal.
    var line = line
    line.text = TerminalText.escaped(line.text)
    lock.lock()
    defer { lock.unlock() }
    switch line.kind {
    case .verbose where !verbose: return
    case .tick where !interactive: return
    case .heading, .detail, .output, .success, .progress, .verbose, .tick:
      if quiet { return }
    case .failure, .warning, .summary:
      break
    }
    if line.kind == .progress || line.kind == .tick, interactive {
      spinner = (spinner + 1) % Self.frames.count
      let width = max(20, terminalWidth() - 4)
      // A live block of several lines (one per running host) replaces the one before it; each
      // line is cut to the terminal's width so that none wraps and the block can be erased.
      let rows = line.text.split(separator: "\n").map {
        String($0.trimmingCharacters(in: .whitespaces).prefix(width))
      }
      let first = "  \(paint(Self.frames[spinner], "36")) \(rows.first ?? "")"
      write(eraseProgress() + ([first] + rows.dropFirst().map { "    " + $0 }).joined(separator: "\n"))
      progressLines = max(1, rows.count)
      return
    }
    if progressLines > 0 {
      write(eraseProgress())
      progressLines = 0
    }
    let text: String
    switch line.kind {
    case .heading: text = paint(line.text, "1")
    case .success: text = line.text.replacingOccurrences(of: "✓", with: paint("✓", "32"))
    case .failure: text = paint(line.text, "31")
    case .warning: text = paint(line.text, "33")
    case .output, .verbose: text = paint(line.text, "2")
    case .summary: text = interactive ? box(line.text) : line.text
    case .detail, .progress, .tick: text = line.text
    }
    write(text + "\n")
  }

  /// Moves to the start of the live block's first line, clearing each of its lines.
  private func eraseProgress() -> String {
    "\r\u{1B}[2K" + String(repeating: "\u{1B}[1A\u{1B}[2K", count: max(0, progressLines - 1))
  }

  private func terminalWidth() -> Int {
    var size = winsize()
    if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
    return 80
  }

  private func box(_ text: String) -> String {
    let width = max(20, terminalWidth() - 4)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).flatMap {
      Self.wrap(String($0), width: width)
    }
    let inner = min(width, lines.map(\.count).max() ?? 0)
    var out = ["╭" + String(repeating: "─", count: inner + 2) + "╮"]
    for line in lines {
      out.append("│ " + line + String(repeating: " ", count: max(0, inner - line.count)) + " │")
    }
    out.append("╰" + String(repeating: "─", count: inner + 2) + "╯")
    return out.joined(separator: "\n")
  }

  /// The line cut into pieces of at most `width` characters, at spaces where there are any;
  /// nothing is dropped (a word longer than the width is split).
  static func wrap(_ line: String, width: Int) -> [String] {
    guard line.count > width, width > 0 else { return [line] }
    var pieces: [String] = []
    var rest = Substring(line)
    while rest.count > width {
      let head = rest.prefix(width + 1)
      if let space = head.lastIndex(of: " "), space > rest.startIndex {
        pieces.append(String(rest[..<space]))
        rest = rest[rest.index(after: space)...]
      } else {
        let cut = rest.index(rest.startIndex, offsetBy: width)
        pieces.append(String(rest[..<cut]))
        rest = rest[cut...]
      }
    }
    pieces.append(String(rest))
    return pieces
  }
}
