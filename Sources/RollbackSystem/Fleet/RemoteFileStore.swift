import Foundation

/// A file read from a host: its bytes and what a safe replacement needs to keep and check.
public struct RemoteFile: Sendable, Equatable {
  /// The path as asked for.
  public var path: String
  /// The real path on the host (symlinks followed), which a replacement writes.
  public var realPath: String
  /// The file's bytes, exactly as on the host.
  public var bytes: [UInt8]
  /// The content's SHA-256 (hex), as the host computed it.
  public var sha256: String
  /// The permission bits in octal (`stat -c %a`), e.g. `640`.
  public var mode: String
  /// The owner's uid.
  public var uid: Int
  /// The group's gid.
  public var gid: Int
}

/// Why a file on a host could not be read or replaced. Every case names the host and file.
public enum RemoteFileError: Error, Sendable, Equatable, CustomStringConvertible {
  /// No file at the path (or a symlink to nothing).
  case notFound(host: String, path: String)
  /// Something other than a regular file is there (a directory, a FIFO, …).
  case notRegular(host: String, path: String, kind: String)
  /// The file is larger than the cap.
  case tooLarge(host: String, path: String, size: Int, cap: Int)
  /// The file has other hard links, which a replacement would leave with the old content.
  case hardLinks(host: String, path: String, count: Int)
  /// A symlink on the way belongs to a user who is neither root, the ssh user nor the owner
  /// of its target.
  case untrustedSymlink(host: String, path: String)
  /// The file changed between the read and the write: nothing was written.
  case changedMeanwhile(host: String, path: String)
  /// ssh could not run the read or write.
  case transport(SSHError)
  /// The remote script failed at a step (`what`); temporary files were removed and the
  /// original files are as they were.
  case failed(host: String, path: String, what: String)
  /// A rename failed after others had happened: those were put back (`restored`), or not.
  case partial(host: String, path: String, restored: Bool)

  /// A lowercase message naming the host and file.
  public var description: String {
    switch self {
    case .notFound(let host, let path): return "\(host): \(path) does not exist"
    case .notRegular(let host, let path, let kind):
      return "\(host): \(path) is \(kind), not a regular file; refusing to edit it"
    case .tooLarge(let host, let path, let size, let cap):
      return "\(host): \(path) is \(size) bytes, more than the \(cap) bytes a flag file may have"
    case .hardLinks(let host, let path, let count):
      return
        "\(host): \(path) has \(count) hard links, and replacing it would leave the other names with the "
        + "old content; edit it through a single name"
    case .untrustedSymlink(let host, let path):
      return
        "\(host): \(path) goes through a symlink owned by neither root, the ssh user nor its target's owner; "
        + "refusing to follow it"
    case .changedMeanwhile(let host, let path):
      return "\(host): \(path) changed meanwhile (since it was read); nothing was written — run again"
    case .transport(let error): return error.description
    case .failed(let host, let path, let what):
      return "\(host): \(path): could not \(what); the file was not changed"
    case .partial(let host, let path, let restored):
      return restored
        ? "\(host): \(path) could not be replaced; the files already replaced were put back as before"
        : "\(host): \(path) could not be replaced, and the files already replaced could NOT be put back "
          + "(see the local backups)"
    }
  }
}

/// Reads and durably replaces small files on one host over an ``SSHTransport``, with the
/// guarantees of ``AtomicFile`` where POSIX `sh` and coreutils allow them.
///
/// A read is one remote script: symlinks are followed (a symlink whose owner is neither root,
/// the ssh user nor its target's owner is refused, as ``AtomicFile/resolve(_:)`` does), anything
/// but a regular file is refused before it is opened (a FIFO never blocks), a file with several
/// hard links or over the size cap is refused, and the content comes back base64-encoded with
/// its mode and owner; its SHA-256 is computed here from the bytes received. Several files are
/// read with one remote script too (``readAll(_:)``), one round trip for all.
///
/// A replace of one or several files is one remote script too: each new content goes through
/// stdin into a temporary file beside its original (`mktemp` in the same directory) and gets
/// the original's mode and owner (`chmod`/`chown --reference`); the temporary files are
/// `sync`ed; one `sha256sum` then checks every temporary file against its new content's hash
/// and every original against the hash it was read with (any difference: every temporary file
/// is removed and nothing is renamed — "changed meanwhile"); then each temporary file is
/// renamed over its original (`mv -f`) and the directories are `sync`ed. If a rename fails, the
/// files already renamed get their old content back (kept as a hard link until the script
/// ends). Extended attributes are not copied (the local editor copies them).
public struct RemoteFileStore: Sendable {
  /// The ssh transport that reaches the host.
  public let transport: SSHTransport
  /// The host whose files are read and written.
  public let host: SSHHost
  /// The bound of each read or write.
  public let timeout: Duration
  /// The largest file read.
  public let sizeCap: Int

  /// Creates a store for `host`.
  public init(transport: SSHTransport, host: SSHHost, timeout: Duration, sizeCap: Int = 1024 * 1024) {
    self.transport = transport
    self.host = host
    self.timeout = timeout
    self.sizeCap = sizeCap
  }

  /// The shell function `rp PATH`: sets `r` to the real path of `PATH`, like `readlink -f`
  /// (which it runs only when it must: a relative path, a `.`/`..`/`//` in it, or a symlink
  /// on the way), so that the usual absolute path of a plain file costs no process.
  static let realPathFunction = """
    rp() {
      case $1 in
        /*/|*/./*|*/../*|*/.|*/..|*//*) r=$(readlink -f -- "$1"); return ;;
        /*) ;;
        *) r=$(readlink -f -- "$1"); return ;;
      esac
      q=$1
      while [ -n "$q" ]; do
        if [ -L "$q" ]; then r=$(readlink -f -- "$1"); return; fi
        q=${q%/*}
      done
      r=$1
    }
    """

  /// One file's read (`$1` the path, `$2` the size cap), run as ``readFunction``'s body. It
  /// starts two programs for a plain file (`stat`, `base64`); the content's hash is computed
  /// on this side from the bytes received, so it always describes exactly those bytes (a file
  /// rewritten meanwhile then fails the replacement's compare-and-swap, never slips through).
  static let readBody = """
    f=$1 cap=$2
    p=$f hops=0
    while [ -L "$p" ]; do
      hops=$((hops + 1)); [ "$hops" -le 40 ] || exit 65
      [ -e "$p" ] || exit 64
      [ -n "${me-}" ] || me=$(id -u) || exit 70
      lu=$(stat -c %u -- "$p") && tu=$(stat -L -c %u -- "$p") || exit 70
      if [ "$lu" != 0 ] && [ "$lu" != "$me" ] && [ "$lu" != "$tu" ]; then exit 66; fi
      t=$(readlink -- "$p") || exit 70
      case $t in
        /*) p=$t ;;
        *) case $p in */*) p=${p%/*}/$t ;; *) p=$t ;; esac ;;
      esac
    done
    [ -e "$f" ] || exit 64
    rp "$f" || exit 70
    if [ ! -f "$r" ]; then printf 'K %s\\n' "$(stat -c %F -- "$r")"; exit 67; fi
    set -- $(stat -c '%a %u %g %h %s' -- "$r") || exit 70
    [ "$4" -le 1 ] || { printf 'N %s\\n' "$4"; exit 68; }
    [ "$5" -le "$cap" ] || { printf 'S %s\\n' "$5"; exit 69; }
    printf 'R %s %s %s\\n' "$1" "$2" "$3"
    if [ "$r" = "$f" ]; then echo 'P ='; else printf 'P %s\\n' "$(printf %s "$r" | base64 -w0)"; fi
    echo D
    base64 -- "$r" || exit 70
    """

  /// The shell functions `rp` (``realPathFunction``) and `rd PATH CAP` (``readBody`` in a
  /// subshell, so that its `exit`s end only the function). Scripts that read files define
  /// them once.
  static let readFunction = realPathFunction + "\nrd() (\n" + readBody + "\n)"

  /// Reads one file: `$1` the path, `$2` the size cap.
  static let readScript = readFunction + "\nrd \"$1\" \"$2\""

  /// Reads every file of `paths` with one remote script: for each path, `B`, the lines of
  /// ``readScript``, then `E CODE` (its exit status).
  static let readAllScript =
    readFunction + """

      cap=$1; shift
      for f in "$@"; do
        echo B
        rd "$f" "$cap"
        echo "E $?"
      done
      echo END
      """

  /// The largest output a read of `count` files may print.
  func stdoutLimit(files count: Int) -> Int { (sizeCap * 2 + 64 * 1024) * max(1, count) }

  /// Reads the file at `path` on the host.
  public func read(_ path: String) async throws(RemoteFileError) -> RemoteFile {
    let output: SSHOutput
    do {
      output = try await transport.execute(
        on: host, script: Self.readScript, arguments: [path, String(sizeCap)], timeout: timeout,
        stdoutLimit: stdoutLimit(files: 1))
    } catch {
      throw .transport(error)
    }
    return try file(path, exitCode: output.exitCode, lines: output.stdout[...], stderr: output.stderr).get()
  }

  /// Reads every file of `paths` in one remote action (one round trip however many files);
  /// each result is what ``read(_:)`` would give for that path.
  ///
  /// - Throws: ``RemoteFileError/transport(_:)`` when ssh could not run the read at all.
  public func readAll(_ paths: [String]) async throws(RemoteFileError) -> [Result<
    RemoteFile, RemoteFileError
  >] {
    guard !paths.isEmpty else { return [] }
    let output: SSHOutput
    do {
      output = try await transport.execute(
        on: host, script: Self.readAllScript, arguments: [String(sizeCap)] + paths, timeout: timeout,
        stdoutLimit: stdoutLimit(files: paths.count))
    } catch {
      throw .transport(error)
    }
    let sections = Self.sections(in: output.stdout[...])
    guard output.exitCode == 0, output.stdout.last == "END", sections.count == paths.count,
      !output.stdoutTruncated
    else {
      let detail = "exit \(output.exitCode)\(output.stderr.isEmpty ? "" : ": " + output.stderr)"
      return paths.map { .failure(.failed(host: host.name, path: $0, what: "read it (\(detail))")) }
    }
    var results: [Result<RemoteFile, RemoteFileError>] = []
    for (path, section) in zip(paths, sections) {
      results.append(file(path, exitCode: section.code, lines: section.lines, stderr: output.stderr))
    }
    return results
  }

  /// The per-file sections of a script's output (`B`, lines, `E CODE`), in order; lines
  /// outside sections are not part of any.
  static func sections(in lines: ArraySlice<String>) -> [(lines: ArraySlice<String>, code: Int32)] {
    var sections: [(lines: ArraySlice<String>, code: Int32)] = []
    var start: Int?
    for index in lines.indices {
      let line = lines[index]
      if line == "B" {
        start = index + 1
      } else if let first = start, line.hasPrefix("E "), let code = Int32(line.dropFirst(2)) {
        sections.append((lines[first..<index], code))
        start = nil
      }
    }
    return sections
  }

  /// The file (or the refusal) that one run of ``readScript`` printed; its hash is the one of
  /// the bytes received.
  func file(_ path: String, exitCode: Int32, lines: ArraySlice<String>, stderr: String)
    -> Result<RemoteFile, RemoteFileError>
  {
    let field = { (tag: String) -> String? in
      lines.first { $0.hasPrefix(tag + " ") }.map { String($0.dropFirst(tag.count + 1)) }
    }
    switch exitCode {
    case 0: break
    case 64: return .failure(.notFound(host: host.name, path: path))
    case 65: return .failure(.failed(host: host.name, path: path, what: "resolve it (too many symlinks)"))
    case 66: return .failure(.untrustedSymlink(host: host.name, path: path))
    case 67: return .failure(.notRegular(host: host.name, path: path, kind: Self.kind(field("K"))))
    case 68: return .failure(.hardLinks(host: host.name, path: path, count: Int(field("N") ?? "") ?? 2))
    case 69:
      return .failure(.tooLarge(host: host.name, path: path, size: Int(field("S") ?? "") ?? 0, cap: sizeCap))
    default:
      return .failure(
        .failed(
          host: host.name, path: path,
          what: "read it (exit \(exitCode)\(stderr.isEmpty ? "" : ": " + stderr))"))
    }
    guard let stat = field("R")?.split(separator: " "), stat.count == 3,
      let uid = Int(stat[1]), let gid = Int(stat[2]), let encodedPath = field("P"),
      let realPath = encodedPath == "="
        ? path : Data(base64Encoded: encodedPath).map({ String(decoding: $0, as: UTF8.self) }),
      let marker = lines.firstIndex(of: "D")
    else {
      return .failure(.failed(host: host.name, path: path, what: "read it (unexpected answer from the host)"))
    }
    let encoded = lines[(marker + 1)...].joined()
    guard let data = Data(base64Encoded: encoded) else {
      return .failure(
        .failed(host: host.name, path: path, what: "read it (the content did not arrive whole)"))
    }
    let bytes = [UInt8](data)
    if bytes.count > sizeCap {
      return .failure(.tooLarge(host: host.name, path: path, size: bytes.count, cap: sizeCap))
    }
    return .success(
      RemoteFile(
        path: path, realPath: realPath, bytes: bytes, sha256: SHA256Digest.hex(bytes),
        mode: String(stat[0]), uid: uid, gid: gid))
  }

  /// The replacement of `$1` files; then, for each, its path, the hash its original must
  /// still have, the new content's hash and size; the new contents, one after the other, on
  /// stdin. About five programs per file (`mktemp`, `head`, `chmod`, `ln`, `mv`; `chown` only
  /// when the owner differs from the ssh user), and one `sync`, `sha256sum`, `sync` and `rm`
  /// for all the files together.
  static let writeScript = """
    n=$1; shift
    cleanup() {
      set --
      j=1
      while [ "$j" -le "$n" ]; do
        eval "x=\\${t_$j-}"; [ -z "$x" ] || set -- "$@" "$x"
        eval "x=\\${o_$j-}"; [ -z "$x" ] || set -- "$@" "$x"
        j=$((j + 1))
      done
      [ "$#" = 0 ] || rm -f -- "$@"
    }
    fail() { cleanup; printf 'F %s %s\\n' "$1" "$2"; exit "$1"; }
    i=1
    while [ "$i" -le "$n" ]; do
      f=$1 old=$2 new=$3 size=$4; shift 4
      eval "f_$i=\\$f old_$i=\\$old new_$i=\\$new"
      if [ -L "$f" ] || [ ! -f "$f" ]; then fail 67 "$i"; fi
      d=${f%/*}; [ -n "$d" ] || d=/
      t=$(mktemp -p "$d" ".${f##*/}.rollback-tmp-XXXXXX") || fail 71 "$i"
      eval "t_$i=\\$t"
      head -c "$size" > "$t" || fail 72 "$i"
      chmod --reference="$f" -- "$t" || fail 74 "$i"
      if ! { [ -O "$f" ] && [ -G "$f" ] && [ -G "$t" ]; }; then
        chown --reference="$f" -- "$t" || fail 75 "$i"
      fi
      i=$((i + 1))
    done
    set --
    i=1
    while [ "$i" -le "$n" ]; do eval "set -- \\"\\$@\\" \\"\\$t_$i\\""; i=$((i + 1)); done
    if ! sync -- "$@"; then
      i=1
      while [ "$i" -le "$n" ]; do eval "t=\\$t_$i"; sync -- "$t" || fail 76 "$i"; i=$((i + 1)); done
    fi
    i=1
    while [ "$i" -le "$n" ]; do eval "set -- \\"\\$@\\" \\"\\$f_$i\\""; i=$((i + 1)); done
    hs=$(sha256sum -- "$@") || fail 77 1
    i=0
    while IFS= read -r line; do
      i=$((i + 1)); h=${line#\\\\}; h=${h%% *}
      if [ "$i" -le "$n" ]; then
        eval "w=\\$new_$i"; [ "$h" = "$w" ] || fail 73 "$i"
      else
        k=$((i - n)); eval "w=\\$old_$k"; [ "$h" = "$w" ] || fail 20 "$k"
      fi
    done <<EOF
    $hs
    EOF
    [ "$i" = $((n + n)) ] || fail 77 1
    i=1
    while [ "$i" -le "$n" ]; do
      eval "f=\\$f_$i"
      d=${f%/*}; [ -n "$d" ] || d=/
      o=$d/.${f##*/}.rollback-old-$$-$i
      ln -- "$f" "$o" || fail 78 "$i"
      eval "o_$i=\\$o"
      i=$((i + 1))
    done
    i=1
    while [ "$i" -le "$n" ]; do
      eval "f=\\$f_$i t=\\$t_$i"
      if ! mv -f -T -- "$t" "$f"; then
        ok=0
        j=1
        while [ "$j" -lt "$i" ]; do
          eval "g=\\$f_$j p=\\$o_$j"
          if mv -f -T -- "$p" "$g"; then eval "o_$j="; else ok=1; fi
          j=$((j + 1))
        done
        fail $((80 + ok)) "$i"
      fi
      eval "t_$i="
      i=$((i + 1))
    done
    set --
    i=1
    while [ "$i" -le "$n" ]; do
      eval "f=\\$f_$i"
      d=${f%/*}; [ -n "$d" ] || d=/
      set -- "$@" "$d"
      i=$((i + 1))
    done
    sync -- "$@" || true
    cleanup
    echo OK
    """

  /// Replaces every file with its new bytes, all or nothing, in one remote script (see the
  /// type's description). Each `file` is what ``read(_:)`` returned; its hash is the one the
  /// original must still have.
  public func replace(_ writes: [(file: RemoteFile, bytes: [UInt8])]) async throws(RemoteFileError) {
    guard !writes.isEmpty else { return }
    var arguments = [String(writes.count)]
    var input: [UInt8] = []
    for (file, bytes) in writes {
      arguments += [file.realPath, file.sha256, SHA256Digest.hex(bytes), String(bytes.count)]
      input += bytes
    }
    let output: SSHOutput
    do {
      output = try await transport.execute(
        on: host, script: Self.writeScript, arguments: arguments, input: input, timeout: timeout)
    } catch {
      throw .transport(error)
    }
    if output.exitCode == 0, output.stdout.last == "OK" { return }
    let failure = output.stdout.last { $0.hasPrefix("F ") }?.split(separator: " ")
    let index = failure.flatMap { $0.count == 3 ? Int($0[2]) : nil } ?? 1
    let path = writes[max(0, min(writes.count - 1, index - 1))].file.path
    switch output.exitCode {
    case 20: throw .changedMeanwhile(host: host.name, path: path)
    case 67: throw .notRegular(host: host.name, path: path, kind: "no longer a regular file")
    case 71: throw .failed(host: host.name, path: path, what: "create a temporary file beside it")
    case 72, 73: throw .failed(host: host.name, path: path, what: "transfer the new content whole")
    case 74: throw .failed(host: host.name, path: path, what: "give the new file the original's mode")
    case 75: throw .failed(host: host.name, path: path, what: "give the new file the original's owner")
    case 76: throw .failed(host: host.name, path: path, what: "sync the new content")
    case 78: throw .failed(host: host.name, path: path, what: "keep the old content until the rename")
    case 80: throw .partial(host: host.name, path: path, restored: true)
    case 81: throw .partial(host: host.name, path: path, restored: false)
    default:
      throw .failed(
        host: host.name, path: path,
        what: "replace it (exit \(output.exitCode)\(output.stderr.isEmpty ? "" : ": " + output.stderr))")
    }
  }

  private static func kind(_ statKind: String?) -> String {
    switch statKind {
    case "directory"?: return "a directory"
    case "fifo"?: return "a FIFO (named pipe)"
    case "socket"?: return "a socket"
    case "character special file"?: return "a character device"
    case "block special file"?: return "a block device"
    case let other?: return "a \(other)"
    case nil: return "not a regular file"
    }
  }
}
