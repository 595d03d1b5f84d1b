#if canImport(Glibc)
  import Glibc
#endif

/// A started child: its pid (also its process group id) and the read ends of its pipes.
struct SpawnedProcess {
  /// The child's pid; the child leads its own process group, so this is also the group id.
  let pid: pid_t
  /// The read end of the child's stdout, non-blocking and close-on-exec.
  let stdout: Int32
  /// The read end of the child's stderr, non-blocking and close-on-exec.
  let stderr: Int32
}

/// `posix_spawn` with the settings a supervised child needs.
///
/// The child gets a new session (so its own process group, and no controlling terminal: a
/// prompt for a password fails instead of hanging), stdin from `/dev/null` (or the spec's file), stdout and stderr
/// on pipes, every signal at its default action and none blocked (an ignored SIGPIPE or a
/// blocked SIGTERM in rollback's threads must not leak into it), and no other descriptors.
enum ProcessSpawn {
  /// Starts `path` with `arguments` (argv[0] included) and exactly `environment`.
  static func launch(
    path: String,
    arguments: [String],
    processEnvironment: [String: String],
    cwd: String?,
    standardInput: String? = nil
  ) throws(ProcessError) -> SpawnedProcess {
    let output = try ProcessPipe.make()
    let errors: ProcessPipe
    do {
      errors = try ProcessPipe.make()
    } catch {
      output.closeBoth()
      throw error
    }

    let pid: pid_t
    do {
      pid = try spawn(
        path: path, arguments: arguments, processEnvironment: processEnvironment, cwd: cwd,
        standardInput: standardInput, stdoutWriter: output.writer, stderrWriter: errors.writer)
    } catch {
      output.closeBoth()
      errors.closeBoth()
      throw error
    }
    close(output.writer)
    close(errors.writer)
    return SpawnedProcess(pid: pid, stdout: output.reader, stderr: errors.reader)
  }

  private static func spawn(
    path: String,
    arguments: [String],
    processEnvironment: [String: String],
    cwd: String?,
    standardInput: String?,
    stdoutWriter: Int32,
    stderrWriter: Int32
  ) throws(ProcessError) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    guard posix_spawn_file_actions_init(&actions) == 0 else { throw .spawnFailed(errno: ENOMEM) }
    defer { posix_spawn_file_actions_destroy(&actions) }

    var status = posix_spawn_file_actions_addopen(
      &actions, 0, standardInput ?? "/dev/null", O_RDONLY, 0)
    if status == 0 { status = posix_spawn_file_actions_adddup2(&actions, stdoutWriter, 1) }
    if status == 0 { status = posix_spawn_file_actions_adddup2(&actions, stderrWriter, 2) }
    if status == 0, let cwd {
      guard let addChdir = GlibcSpawnExtensions.addChdir else { throw .spawnFailed(errno: ENOSYS) }
      status = addChdir(&actions, cwd)
    }
    if status == 0, let addCloseFrom = GlibcSpawnExtensions.addCloseFrom {
      status = addCloseFrom(&actions, 3)
    }
    guard status == 0 else { throw .spawnFailed(errno: status) }

    var attributes = posix_spawnattr_t()
    guard posix_spawnattr_init(&attributes) == 0 else { throw .spawnFailed(errno: ENOMEM) }
    defer { posix_spawnattr_destroy(&attributes) }
    try configure(&attributes)

    let argv = try CStringArray(arguments)
    defer { argv.free() }
    let envp = try CStringArray(
      processEnvironment.filter { !$0.key.isEmpty && !$0.key.contains("=") }.map { "\($0.key)=\($0.value)" }
        .sorted())
    defer { envp.free() }

    var pid: pid_t = 0
    let result = posix_spawn(&pid, path, &actions, &attributes, argv.pointer, envp.pointer)
    guard result == 0 else { throw .spawnFailed(errno: result) }
    return pid
  }

  /// New session (or at least a new process group), default signal actions, empty mask.
  private static func configure(_ attributes: inout posix_spawnattr_t) throws(ProcessError) {
    var everySignal = sigset_t()
    sigfillset(&everySignal)
    var noSignal = sigset_t()
    sigemptyset(&noSignal)
    var status = posix_spawnattr_setsigdefault(&attributes, &everySignal)
    if status == 0 { status = posix_spawnattr_setsigmask(&attributes, &noSignal) }
    guard status == 0 else { throw .spawnFailed(errno: status) }

    let common = Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
    // glibc's POSIX_SPAWN_SETSID (2.26+) is behind _GNU_SOURCE, which Swift's Glibc
    // module does not define; its value is part of the ABI.
    let setSession: Int32 = 0x80
    if posix_spawnattr_setflags(&attributes, Int16(common | setSession)) == 0 { return }
    // An older libc: a process group of its own still lets the teardown reach every member.
    status = posix_spawnattr_setpgroup(&attributes, 0)
    if status == 0 {
      status = posix_spawnattr_setflags(&attributes, Int16(common | Int32(POSIX_SPAWN_SETPGROUP)))
    }
    guard status == 0 else { throw .spawnFailed(errno: status) }
  }
}

/// A pipe whose ends are close-on-exec; the read end is non-blocking.
private struct ProcessPipe {
  let reader: Int32
  let writer: Int32

  static func make() throws(ProcessError) -> ProcessPipe {
    var descriptors: [Int32] = [-1, -1]
    if let pipe2 = GlibcSpawnExtensions.pipe2 {
      guard pipe2(&descriptors, O_CLOEXEC) == 0 else { throw .spawnFailed(errno: errno) }
    } else {
      guard pipe(&descriptors) == 0 else { throw .spawnFailed(errno: errno) }
      for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
    }
    let flags = fcntl(descriptors[0], F_GETFL)
    _ = fcntl(descriptors[0], F_SETFL, flags | O_NONBLOCK)
    return ProcessPipe(reader: descriptors[0], writer: descriptors[1])
  }

  func closeBoth() {
    close(reader)
    close(writer)
  }
}

/// A NULL-terminated array of C strings for `argv` and `envp`, freed explicitly.
private struct CStringArray {
  let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
  let count: Int

  init(_ strings: [String]) throws(ProcessError) {
    count = strings.count
    pointer = .allocate(capacity: strings.count + 1)
    pointer.initialize(repeating: nil, count: strings.count + 1)
    for (index, string) in strings.enumerated() {
      guard let copy = strdup(string) else {
        free()
        throw .spawnFailed(errno: ENOMEM)
      }
      pointer[index] = copy
    }
  }

  func free() {
    for index in 0..<count { Glibc.free(pointer[index]) }
    pointer.deallocate()
  }
}

/// glibc functions that Swift's Glibc module hides behind `_GNU_SOURCE`, looked up at run
/// time so that an older libc degrades instead of failing to link.
private enum GlibcSpawnExtensions {
  typealias AddChdir =
    @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
  typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
  typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32

  /// `posix_spawn_file_actions_addchdir_np` (glibc 2.29+).
  static let addChdir = symbol("posix_spawn_file_actions_addchdir_np", as: AddChdir.self)
  /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+).
  static let addCloseFrom = symbol(
    "posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)
  /// `pipe2` (glibc 2.9+).
  static let pipe2 = symbol("pipe2", as: Pipe2.self)

  private static func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
    guard let address = dlsym(nil, name) else { return nil }
    return unsafeBitCast(address, to: type)
  }
}
