import Foundation
import RollbackCore

/// One reason a run cannot start.
struct PreflightProblem {
  var text: String
  var isMissingVariable: Bool
  var isUnanswerableGate = false
}

extension Executor {
  /// Everything that would make the run fail half-way, found before the first change.
  func preflight(_ plan: Plan) -> [PreflightProblem] {
    var problems: [PreflightProblem] = []
    var seen = Set<String>()
    func add(_ text: String, missingVariable: Bool = false, gate: Bool = false) {
      if seen.insert(text).inserted {
        problems.append(
          PreflightProblem(text: text, isMissingVariable: missingVariable, isUnanswerableGate: gate))
      }
    }
    func check(_ template: Template, _ step: String) {
      var bag = DiagnosticBag()
      var context = resolver.context
      context.run = runFacts()
      _ = context.resolve(template, into: &bag)
      for error in bag.errors { add("\(step): \(error.message)", missingVariable: true) }
    }
    func checkCommand(_ command: CommandSpec, _ step: String) {
      for template in RunbookValidator.templatesOfCommand(command) { check(template, step) }
      let resolved = resolveCommand(command)
      if let cwd = resolved.cwd, !FileManager.default.fileExists(atPath: cwd) {
        add("\(step): working directory \(cwd) does not exist")
      }
      switch resolved.program {
      case .shell:
        if !FileManager.default.isExecutableFile(atPath: "/bin/sh") { add("\(step): /bin/sh is missing") }
      case .argv(let argv):
        guard let program = argv.first else { return }
        if Self.findExecutable(program, cwd: resolved.cwd, path: request.processEnvironment["PATH"]) == nil {
          add("\(step): command '\(program)' not found\(program.contains("/") ? "" : " in PATH")")
        }
      }
    }
    func needSignals(_ names: [String], _ step: String) {
      for signal in signals(named: names) {
        switch signal.source {
        case .postgres:
          if let env = resolver.environment.postgres?.dsnEnv, (request.processEnvironment[env] ?? "").isEmpty
          {
            add("\(step): \(env) is not set (signal \(signal.name) reads Postgres)", missingVariable: true)
          }
        case .prometheus:
          if let env = resolver.environment.prometheus?.tokenEnv,
            (request.processEnvironment[env] ?? "").isEmpty
          {
            add(
              "\(step): \(env) is not set (Prometheus token for signal \(signal.name))", missingVariable: true
            )
          }
        case .manual:
          break
        }
      }
    }
    for planned in plan.steps {
      let step = planned.id
      if let condition = planned.condition { needSignals(condition.comparisons.map(\.signal), step) }
      for gate in planned.gates { needSignals(gate.condition.comparisons.map(\.signal), step) }
      switch planned.step.kind {
      case .check(let names): needSignals(names.map(\.value), step)
      case .assert(let condition), .wait(let condition, _, _, _):
        needSignals(condition.comparisons.map(\.signal), step)
      case .flag(let name, let change):
        guard let flag = request.runbook.flags[name.value] else { continue }
        for template in flag.files { check(template, step) }
        let key = change == .enable || change == .disable ? flag.key : (flag.percentKey ?? flag.key)
        for file in flag.files.map({ resolve($0).value }) {
          let manager = FileManager.default
          if !manager.fileExists(atPath: file) {
            if flag.create {
              let directory = (file as NSString).deletingLastPathComponent
              if !AtomicFile.isWritable(directory.isEmpty ? "." : directory) {
                add("\(step): cannot create \(file): its directory is not writable")
              }
            } else {
              add(
                "\(step): flag file \(file) does not exist (set create: true on flag \(flag.name) to create it)"
              )
            }
            continue
          }
          if !AtomicFile.isWritable(file) {
            add("\(step): flag file \(file) is not writable (or its directory is not)")
            continue
          }
          do {
            _ = try DotEnvDocument(bytes: AtomicFile.read(file)).value(of: key)
          } catch let error as DotEnvError {
            add("\(step): \(file): \(error.description)")
          } catch {
            add("\(step): cannot read \(file): \(error)")
          }
        }
      case .restart(let name, let rebuild):
        guard let service = resolver.service(named: name.value) else { continue }
        if rebuild, let command = service.rebuild { checkCommand(command, step) }
        if let command = service.restart { checkCommand(command, step) }
        if let health = service.health { check(health.url, step) }
      case .run(let command):
        checkCommand(command, step)
      case .http:
        for template in RunbookValidator.templatesOfStep(planned.step) { check(template, step) }
      case .sql(let query, _):
        check(query, step)
        if let env = resolver.environment.postgres?.dsnEnv, (request.processEnvironment[env] ?? "").isEmpty {
          add("\(step): \(env) is not set (this step runs SQL)", missingVariable: true)
        }
      case .notify(let spec):
        check(spec.message, step)
      case .confirm(let text):
        check(text, step)
        if !request.assumeYes, !request.canPrompt, !request.dryRun {
          add(
            "\(step): a confirm gate needs an answer and there is no terminal; rerun with --yes", gate: true)
        }
      case .include, .rolling:
        break
      }
    }
    if let webhook = request.runbook.notify.slackWebhookEnv,
      (request.processEnvironment[webhook] ?? "").isEmpty,
      plan.steps.contains(where: { $0.kind == "notify" })
    {
      say("note: \(webhook) is not set; notifications go to stdout only", .warning)
    }
    return problems
  }

  /// The path of an executable: a path with a slash as is (relative to `cwd`), else looked up in PATH.
  static func findExecutable(_ name: String, cwd: String?, path: String?) -> String? {
    let manager = FileManager.default
    if name.contains("/") {
      let full =
        name.hasPrefix("/")
        ? name : ((cwd ?? manager.currentDirectoryPath) as NSString).appendingPathComponent(name)
      return manager.isExecutableFile(atPath: full) ? full : nil
    }
    for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
      let full = (String(directory) as NSString).appendingPathComponent(name)
      if manager.isExecutableFile(atPath: full) { return full }
    }
    return nil
  }
}
