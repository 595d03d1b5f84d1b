import Foundation
import RollbackCore

/// A command with every placeholder resolved.
struct ResolvedCommand {
  var program: ProcessSpec.Program
  var cwd: String?
  var env: [String: String]
  var display: String
}

extension Executor {
  func resolveCommand(_ command: CommandSpec) -> ResolvedCommand {
    var bag = DiagnosticBag()
    let display = resolver.describe(command, into: &bag)
    let program: ProcessSpec.Program
    switch command.program {
    case .argv(let argv): program = .argv(argv.map { resolve($0).value })
    case .shell(let line): program = .shell(interpolationContext().resolveShell(line, into: &bag).value)
    }
    var env: [String: String] = [:]
    for (name, value) in command.env { env[name] = resolve(value).value }
    return ResolvedCommand(
      program: program, cwd: command.cwd.map { resolve($0).value }, env: env, display: display)
  }

  /// The context ``resolve(_:)`` uses: the resolver's, with this run's facts.
  func interpolationContext() -> InterpolationContext {
    var context = resolver.context
    context.run = runFacts()
    return context
  }

  // MARK: Commands

  /// Runs a command on this run's host, without the runbook's secret variables in its environment.
  func runCommand(_ command: ResolvedCommand, timeout: Double, id: String) async throws -> AttemptResult {
    try await commandRunner().run(command, timeout: timeout, id: id)
  }

  // MARK: SQL

  /// Runs a statement on the environment's database.
  func sql(_ query: ParameterizedSQL, readOnly: Bool, timeout: Double, id: String) async throws
    -> AttemptResult
  {
    let dsnEnv = resolver.environment.postgres?.dsnEnv
    let runner = SQLRunner(
      postgres: effects.postgres, dsn: dsnEnv.flatMap { request.processEnvironment[$0] }, dsnEnv: dsnEnv,
      say: { self.say($0) })
    return try await runner.run(query, readOnly: readOnly, timeout: timeout)
  }

  // MARK: Notify

  /// Sends a notification where the runbook says.
  func notify(_ written: ResolvedText, channel: String?) async -> AttemptResult {
    let settings = request.runbook.notify
    let runner = NotifyRunner(
      http: effects.http, settings: settings,
      webhook: settings.slackWebhookEnv.flatMap { request.processEnvironment[$0] },
      isDrill: request.kind == .drill, say: { self.say($0, $1) })
    return await runner.run(written, channel: channel)
  }
}
