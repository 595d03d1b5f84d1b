import Foundation
import RollbackSystem
import Testing

/// Tests on the test fleet (scripts/harness/fleet): they stop, freeze and re-key hosts and edit
/// their files, so they run one at a time.
@Suite("on the test fleet", .serialized)
enum FleetHostTests {}

/// The fleet started by scripts/harness/fleet/with-fleet, from its ROLLBACK_FLEET_* variables.
struct TestFleet {
  let directory: String
  let sshConfig: String
  let ctlPath: String
  let hostNames: [String]
  let crlfHost: String
  let root: String

  /// The fleet from the environment; a clear failure when the tests run without it.
  static func current() throws -> TestFleet {
    let env = ProcessInfo.processInfo.environment
    func need(_ name: String) throws -> String {
      guard let value = env[name], !value.isEmpty else {
        let message =
          "\(name) is not set: run these tests with `make test` or "
          + "`scripts/harness/fleet/with-fleet -n 3 --crlf-host 3 -- swift test --filter Fleet`"
        Issue.record("\(message)")
        throw MissingHarnessVariable(name: name)
      }
      return value
    }
    let fleet = TestFleet(
      directory: try need("ROLLBACK_FLEET_DIR"), sshConfig: try need("ROLLBACK_FLEET_SSH_CONFIG"),
      ctlPath: try need("ROLLBACK_FLEET_CTL"),
      hostNames: try need("ROLLBACK_FLEET_HOSTS").split(separator: " ").map(String.init),
      crlfHost: env["ROLLBACK_FLEET_CRLF_HOST"] ?? "", root: try need("ROLLBACK_FLEET_ROOT"))
    guard fleet.hostNames.count >= 3 else {
      Issue.record("the fleet tests need at least 3 hosts (with-fleet -n 3)")
      throw MissingHarnessVariable(name: "ROLLBACK_FLEET_HOSTS")
    }
    return fleet
  }

  /// Host K as the transport reaches it (the fleet's ssh config names it host-K).
  func host(_ name: String) -> SSHHost { SSHHost(name: name, destination: name) }

  var hosts: [SSHHost] { hostNames.map(host) }

  /// A transport through the fleet's ssh config.
  func transport(secrets: [String] = []) throws -> SSHTransport {
    try SSHTransport(config: sshConfig, secrets: secrets)
  }

  /// Where host `name`'s files (the remote /srv/rollback-fleet) are on this machine.
  func localRoot(of name: String) -> String { "\(directory)/hosts/\(name)/srv" }

  /// Runs `ctl COMMAND host`; returns its stdout.
  @discardableResult
  func ctl(_ command: String, _ host: String) throws -> String {
    let result = try run([ctlPath, command, host], environment: ["ROLLBACK_FLEET_DIR": directory])
    guard result.status == 0 else {
      throw FleetCommandFailed(command: "ctl \(command) \(host)", output: result.output)
    }
    return result.output
  }

  /// How many SSH connections host `name` has authenticated so far.
  func connections(_ name: String) throws -> Int {
    Int(try ctl("connections", name).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
  }

  /// Runs a program (no shell), returning its status and stdout+stderr.
  func run(_ argv: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: argv[0])
    process.arguments = Array(argv.dropFirst())
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }
}

struct FleetCommandFailed: Error, CustomStringConvertible {
  let command: String
  let output: String
  var description: String { "\(command) failed: \(output)" }
}
