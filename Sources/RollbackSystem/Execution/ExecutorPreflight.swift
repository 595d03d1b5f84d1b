import Foundation
import RollbackCore

/// One reason a run cannot start.
struct PreflightProblem {
  var text: String
  var isMissingVariable: Bool
  var isUnanswerableGate = false
}

/// The problems found so far, each once.
struct PreflightProblems {
  var list: [PreflightProblem] = []
  var seen = Set<String>()

  mutating func add(_ text: String, missingVariable: Bool = false, gate: Bool = false) {
    if seen.insert(text).inserted {
      list.append(PreflightProblem(text: text, isMissingVariable: missingVariable, isUnanswerableGate: gate))
    }
  }
}

extension Executor {
  /// Everything that would make the run fail half-way, found before the first change.
  func preflight(_ plan: Plan) async -> [PreflightProblem] {
    var problems = PreflightProblems()
    for planned in plan.steps {
      let step = planned.id
      if let condition = planned.condition {
        needSignals(condition.comparisons.map(\.signal), step, &problems)
      }
      for gate in planned.gates { needSignals(gate.condition.comparisons.map(\.signal), step, &problems) }
      // A step placed on hosts is checked there (connections in ``openFleet(_:)``), not here.
      if !planned.hostScoped { await preflightStep(planned, &problems) }
    }
    if let webhook = request.runbook.notify.slackWebhookEnv,
      (request.processEnvironment[webhook] ?? "").isEmpty,
      plan.steps.contains(where: { $0.kind == "notify" })
    {
      say("note: \(webhook) is not set; notifications go to stdout only", .warning)
    }
    return problems.list
  }

  /// What one step needs before the run starts.
  func preflightStep(_ planned: PlannedStep, _ problems: inout PreflightProblems) async {
    let step = planned.id
    switch planned.step.kind {
    case .check(let names): needSignals(names.map(\.value), step, &problems)
    case .assert(let condition), .wait(let condition, _, _, _):
      needSignals(condition.comparisons.map(\.signal), step, &problems)
    case .flag(let name, let change):
      await checkFlagFiles(name.value, change, step, &problems)
    case .restart(let name, let rebuild):
      guard let service = resolver.service(named: name.value) else { return }
      if rebuild, let command = service.rebuild { checkCommand(command, step, &problems) }
      if let command = service.restart { checkCommand(command, step, &problems) }
      if let health = service.health { check(health.url, step, &problems) }
    case .run(let command):
      checkCommand(command, step, &problems)
    case .http:
      for template in RunbookValidator.templatesOfStep(planned.step) { check(template, step, &problems) }
    case .sql(let query, _):
      check(query, step, &problems)
      if let env = resolver.environment.postgres?.dsnEnv, (request.processEnvironment[env] ?? "").isEmpty {
        problems.add("\(step): \(env) is not set (this step runs SQL)", missingVariable: true)
      }
    case .notify(let spec):
      check(spec.message, step, &problems)
    case .confirm(let text):
      check(text, step, &problems)
      if !request.assumeYes, !request.canPrompt, !request.dryRun {
        problems.add(
          "\(step): a confirm gate needs an answer and there is no terminal; rerun with --yes", gate: true)
      }
    case .include, .rolling, .silence:
      break
    }
  }

  /// A template that cannot be resolved is a missing variable.
  func check(_ template: Template, _ step: String, _ problems: inout PreflightProblems) {
    var bag = DiagnosticBag()
    var context = resolver.context
    context.run = runFacts()
    _ = context.resolve(template, into: &bag)
    for error in bag.errors { problems.add("\(step): \(error.message)", missingVariable: true) }
  }

  /// A command's variables, working directory and program.
  func checkCommand(_ command: CommandSpec, _ step: String, _ problems: inout PreflightProblems) {
    for template in RunbookValidator.templatesOfCommand(command) { check(template, step, &problems) }
    let resolved = resolveCommand(command)
    if let cwd = resolved.cwd, !FileManager.default.fileExists(atPath: cwd) {
      problems.add("\(step): working directory \(cwd) does not exist")
    }
    switch resolved.program {
    case .shell:
      if !FileManager.default.isExecutableFile(atPath: "/bin/sh") {
        problems.add("\(step): /bin/sh is missing")
      }
    case .argv(let argv):
      guard let program = argv.first else { return }
      if ProcessRunner.resolveExecutable(program, path: request.processEnvironment["PATH"], cwd: resolved.cwd)
        == nil
      {
        problems.add("\(step): command '\(program)' not found\(program.contains("/") ? "" : " in PATH")")
      }
    }
  }

  /// The credentials the signals a step reads need.
  func needSignals(_ names: [String], _ step: String, _ problems: inout PreflightProblems) {
    for signal in signals(named: names) {
      switch signal.source {
      case .postgres:
        if let env = resolver.environment.postgres?.dsnEnv, (request.processEnvironment[env] ?? "").isEmpty {
          problems.add(
            "\(step): \(env) is not set (signal \(signal.name) reads Postgres)", missingVariable: true)
        }
      case .prometheus:
        if let env = resolver.environment.prometheus?.tokenEnv,
          (request.processEnvironment[env] ?? "").isEmpty
        {
          problems.add(
            "\(step): \(env) is not set (Prometheus token for signal \(signal.name))", missingVariable: true)
        }
      case .manual:
        break
      }
    }
  }

  /// A flag's files exist (or may be created), are writable and hold editable dotenv text.
  func checkFlagFiles(
    _ name: String, _ change: FlagChange, _ step: String, _ problems: inout PreflightProblems
  ) async {
    guard let flag = request.runbook.flags[name] else { return }
    for template in flag.files { check(template, step, &problems) }
    let key = change == .enable || change == .disable ? flag.key : (flag.percentKey ?? flag.key)
    for file in flag.files.map({ resolve($0).value }) {
      if !FileManager.default.fileExists(atPath: file) {
        if !flag.create {
          problems.add(
            "\(step): flag file \(file) does not exist (set create: true on flag \(flag.name) to create it)")
        } else if !AtomicFile.isWritable(
          (file as NSString).deletingLastPathComponent.isEmpty
            ? "." : (file as NSString).deletingLastPathComponent)
        {
          problems.add("\(step): cannot create \(file): its directory is not writable")
        }
        continue
      }
      if !AtomicFile.isWritable(file) {
        problems.add("\(step): flag file \(file) is not writable (or its directory is not)")
        continue
      }
      do {
        _ = try DotEnvDocument(bytes: await host.readFlagFile(file)).value(of: key)
      } catch let error as DotEnvError {
        problems.add("\(step): \(file): \(error.description)")
      } catch {
        problems.add("\(step): cannot read \(file): \(error)")
      }
    }
  }
}
