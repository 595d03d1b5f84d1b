import Foundation
import RollbackCore

/// A flag this run wrote, for proving that its service's restarted process took it.
struct FlagWrite {
  /// The flag's name.
  var flag: String
  /// The value written.
  var value: String
  /// When the write was done (after the last file was renamed into place).
  var at: Date
}

/// Reading a service's process id and the value it reports: shared by the restart step's
/// proof and `rollback flag status --live`.
public struct PickupProbe: Sendable {
  /// Where commands run and pidfiles are read.
  public var host: any HostEffects
  /// Sends the HTTP request of `pickup.http`.
  public var http: @Sendable (HTTPRequest) async throws(HTTPError) -> HTTPResponse
  /// The environment the pid command gets.
  public var processEnvironment: [String: String]

  /// Creates a probe.
  public init(
    host: any HostEffects, http: @escaping @Sendable (HTTPRequest) async throws(HTTPError) -> HTTPResponse,
    processEnvironment: [String: String]
  ) {
    self.host = host
    self.http = http
    self.processEnvironment = processEnvironment
  }

  /// Where the pid comes from, resolved: a command line, a pidfile or a systemd unit.
  public enum Source: Sendable {
    /// A command printing the pid.
    case command(ProcessSpec.Program, display: String)
    /// A file holding the pid.
    case pidfile(String)
    /// A systemd unit.
    case systemd(String)

    /// How it is shown.
    public var display: String {
      switch self {
      case .command(_, let display): return display
      case .pidfile(let path): return "pidfile \(path)"
      case .systemd(let unit): return "systemctl show -p MainPID --value \(unit)"
      }
    }
  }

  /// The running process's id; nil when none runs (a pid of 0 or nothing printed); the reason
  /// when it cannot be read. Cancellation throws.
  public func pid(_ source: Source, timeout: Double = 10) async throws -> Result<Int32?, PickupValueError> {
    let text: String
    switch source {
    case .pidfile(let path):
      do {
        text = String(decoding: try await host.readFlagFile(path), as: UTF8.self)
      } catch {
        if case .notFound = error { return .success(nil) }
        return .failure(PickupValueError(text: error.description))
      }
    case .command(let program, let display):
      switch try await output(program, timeout: timeout) {
      case .success(let printed): text = printed
      case .failure(let problem): return .failure(PickupValueError(text: "\(display): \(problem.text)"))
      }
    case .systemd(let unit):
      switch try await output(
        .argv(["systemctl", "show", "-p", "MainPID", "--value", unit]), timeout: timeout)
      {
      case .success(let printed): text = printed
      case .failure(let problem): return .failure(PickupValueError(text: "systemctl: \(problem.text)"))
      }
    }
    let first = text.split(whereSeparator: \.isWhitespace).first.map(String.init) ?? ""
    guard let pid = Int32(first), pid >= 0 else {
      if first.isEmpty { return .success(nil) }
      return .failure(
        PickupValueError(text: "\(source.display) printed '\(first.prefix(60))', not a process id"))
    }
    return .success(pid == 0 ? nil : pid)
  }

  /// A command's output; `supervisorctl pid` of a stopped program exits non-zero and prints 0,
  /// so the exit status alone is not a failure when something was printed.
  /// When process `pid` started, read where it runs: this machine's `/proc`, or the host's
  /// through one command (its `/proc/PID/stat`, `/proc/stat` and `getconf CLK_TCK`).
  public func startTime(_ pid: Int32, timeout: Double = 10) async throws -> Result<Date, PickupValueError> {
    if host is LocalHost {
      do { return .success(try ProcessStartTime.read(pid: pid)) } catch {
        return .failure(PickupValueError(text: error.description))
      }
    }
    let script = "cat /proc/\"$1\"/stat && grep '^btime ' /proc/stat && getconf CLK_TCK"
    switch try await output(.argv(["sh", "-c", script, "sh", String(pid)]), timeout: timeout) {
    case .failure(let problem): return .failure(PickupValueError(text: "pid \(pid): \(problem.text)"))
    case .success(let printed):
      let lines = printed.split(separator: "\n").map(String.init)
      guard lines.count >= 3, let ticks = ProcessStartTime.startTicks(stat: lines[0]),
        let boot = ProcessStartTime.bootTime(procStat: lines[1]),
        let perSecond = Double(lines[2].trimmingCharacters(in: .whitespaces)), perSecond > 0
      else {
        return .failure(PickupValueError(text: "pid \(pid): the host's /proc gave no start time"))
      }
      return .success(Date(timeIntervalSince1970: Double(boot) + Double(ticks) / perSecond))
    }
  }

  func output(_ program: ProcessSpec.Program, timeout: Double) async throws -> Result<
    String, PickupValueError
  > {
    let spec = ProcessSpec(
      program: program, processEnvironment: processEnvironment, timeout: .milliseconds(Int(timeout * 1000)))
    let outcome: ProcessOutcome
    do {
      outcome = try await host.run(command: spec, onOutput: { _, _ in })
    } catch {
      return .failure(PickupValueError(text: error.description))
    }
    if outcome.cancelled { throw CancellationError() }
    if outcome.timedOut {
      return .failure(PickupValueError(text: "timed out after \(Quantity.format(seconds: timeout))"))
    }
    let printed = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
    if !outcome.succeeded, Int32(printed.split(whereSeparator: \.isWhitespace).first ?? "") == nil {
      return .failure(
        PickupValueError(
          text:
            "exited with status \(outcome.exitCode ?? -1)\(printed.isEmpty ? "" : ": \(printed.prefix(200))")"
        ))
    }
    return .success(printed)
  }

  /// The value the application reports at `url`, at `path`; retried for up to `within`
  /// seconds while the application does not answer 2xx (it may still be starting).
  public func reported(url: String, path: [String], within: Double) async throws -> Result<
    String, PickupValueError
  > {
    let start = Date()
    var last = PickupValueError(text: "no answer")
    while true {
      do {
        let response = try await http(HTTPRequest(method: "GET", url: url, timeout: .seconds(5)))
        if response.isSuccess {
          return PickupValue.text(at: path, in: response.body)
        }
        last = PickupValueError(text: "HTTP \(response.status)")
      } catch {
        if case .cancelled = error { throw CancellationError() }
        last = PickupValueError(text: error.description)
      }
      if Date().timeIntervalSince(start) >= within { return .failure(last) }
      try await Task.sleep(for: .milliseconds(200))
    }
  }
}

extension Executor {
  /// The probe for this run's host, its commands without the runbook's secret variables.
  func pickupProbe() -> PickupProbe {
    var processEnvironment = request.processEnvironment
    for name in secretEnvironment { processEnvironment[name] = nil }
    return PickupProbe(host: host, http: effects.http, processEnvironment: processEnvironment)
  }

  /// A service's pid source with its placeholders resolved.
  func pickupSource(_ pid: PickupSpec.PIDSource) -> PickupProbe.Source {
    switch pid {
    case .command(let command):
      let resolved = resolveCommand(command)
      return .command(resolved.program, display: resolved.display)
    case .pidfile(let path): return .pidfile(resolve(path).value)
    case .systemd(let unit): return .systemd(resolve(unit).value)
    }
  }

  /// Notes the flags a flag step wrote, by the service that reads them.
  func noteFlagWrite(_ name: String, _ result: FlagEditor.Result) {
    guard let service = request.runbook.flags[name]?.service?.value,
      let written = result.changes.first(where: \.changed)
    else { return }
    flagWrites[service] = FlagWrite(flag: name, value: written.after, at: Date())
  }

  /// The flags an interrupted run wrote before it stopped, by the service that reads them, each
  /// at the time its step's finish was journalled (just after the write): a restart that the
  /// resume runs proves pickup against them, as for a write of this process.
  static func journalledFlagWrites(_ steps: [StepFinishedEvent], runbook: Runbook) -> [String: FlagWrite] {
    let flags = runbook.flags.values.sorted { $0.name < $1.name }
    var writes: [String: FlagWrite] = [:]
    for step in steps where step.host == nil && step.status == .succeeded {
      guard let at = step.at.flatMap(Timestamp.parse),
        let change = step.flagChanges.first(where: { $0.changed == true }), let key = change.key,
        let after = change.after,
        let flag = flags.first(where: { $0.key == key || $0.percentKey == key }),
        let service = flag.service?.value
      else { continue }
      writes[service] = FlagWrite(flag: flag.name, value: after, at: at)
    }
    return writes
  }

  /// What a dry run says it would check after restarting `name`.
  func pickupPlan(_ name: String) -> String? {
    guard let service = resolver.service(named: name), let pickup = service.pickup else { return nil }
    var text =
      "then prove pickup if a flag of \(name) changed: a new pid from \(pickupSource(pickup.pid).display), started after the flag write"
    if let http = pickup.http {
      text +=
        ", and \(http.jsonPath.joined(separator: ".")) at \(resolve(http.url).display) equal to the new value"
    }
    return text
  }
}
