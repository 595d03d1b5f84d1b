import Foundation
import RollbackCore

extension SSHHost {
  /// The host as the transport reaches it: its runbook name and its `ssh` destination.
  public init(_ host: RollbackCore.Host) {
    self.init(name: host.name, destination: host.ssh)
  }
}

extension SSHTransport {
  /// A transport with an environment's ssh settings (`config`, `options`, `forks`). A `config`
  /// starting with `~/` is taken from the user's home directory (`HOME`), as a shell would;
  /// ssh itself does not expand `-F ~/…`.
  public convenience init(
    settings: SSHSettings, secrets: [String] = [],
    processEnvironment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(SSHError) {
    var config = settings.config
    if let path = config, path == "~" || path.hasPrefix("~/"), let home = processEnvironment["HOME"],
      !home.isEmpty
    {
      config = home + path.dropFirst()
    }
    try self.init(
      config: config, options: settings.options, forks: settings.forks, secrets: secrets,
      processEnvironment: processEnvironment)
  }
}
