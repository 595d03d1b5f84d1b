import Foundation
import RollbackCore

/// What a run has opened in the on-call tools and must close: its Grafana annotation and the
/// Alertmanager silences its `silence` steps created.
struct OnCallRunState {
  /// The annotation to close at the end, if one was posted (or left open by the resumed run).
  var annotationID: Int?
  /// Silences to expire at the end, in order.
  var silences: [String] = []
  /// Whether the missing-settings warnings were said.
  var warned = false
}

/// Run events and `silence`/PagerDuty steps, through the injected ``OnCallEffects``. A failed
/// call is a warning line and a journalled `integration` event; it never stops a rollback.
extension Executor {
  /// How long one integration call may take, retries included.
  static let integrationTimeout: Duration = .seconds(10)

  /// Runs `body` in a task of its own, so that a run cancelled by Ctrl-C still closes what it opened.
  func uncancelled<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T {
    await Task.detached { await body() }.value
  }

  /// `[DRILL] ` in a drill, else nothing.
  var drillMark: String { request.kind == .drill ? "[DRILL] " : "" }

  /// Whether alert events may be sent: always, except in a drill without `--page`.
  var mayPage: Bool { request.kind != .drill || request.page }

  /// `rollback checkout level 3`.
  func runName(_ plan: Plan) -> String { "rollback \(plan.runbook) \(Self.what(plan))" }

  /// Says a failed call and journals it.
  func integrationFailed(
    _ error: IntegrationError, action: String, id: String?, step: String? = nil, detail: String? = nil
  ) {
    say("  warning: \(error.description) (an integration failure never stops a rollback)", .warning)
    record(
      event: .integration(
        IntegrationEvent(
          at: Timestamp.iso(Date()), service: error.service, action: action, id: id, step: step,
          detail: detail.map(redact), error: redact(error.message))))
  }

  /// Journals a call that succeeded.
  func integrationDone(service: String, action: String, id: String?, step: String? = nil, detail: String?) {
    record(
      event: .integration(
        IntegrationEvent(
          at: Timestamp.iso(Date()), service: service, action: action, id: id, step: step,
          detail: detail.map(redact))))
  }

  func warnOnCallProblems() {
    guard !oncallState.warned else { return }
    oncallState.warned = true
    for problem in oncall.problems { say("warning: \(problem)", .warning) }
  }

  /// At the run's start: a PagerDuty change event and a Grafana region annotation (a resume
  /// keeps the annotation its run left open). A dry run sends nothing.
  func oncallRunStarted(_ plan: Plan) async {
    guard !request.dryRun else { return }
    warnOnCallProblems()
    let oncall = oncall
    let verb = request.resume == nil ? "started" : "resumed"
    let summary = "\(drillMark)\(runName(plan)) \(verb) in \(plan.environment) (run \(runID))"
    if oncall.hasPagerDuty {
      await sendChange(summary: summary, plan: plan, detail: "run \(verb)")
    }
    guard oncall.hasGrafana else { return }
    if let open = request.resume?.openIntegrations.annotation, let id = Int(open) {
      oncallState.annotationID = id
      say("  grafana: annotation \(id) of run \(runID) kept open for the resume")
      return
    }
    let (runID, runbook, environment, level) = (runID, plan.runbook, plan.environment, plan.target.level)
    let text = "\(drillMark)\(runName(plan)) in \(environment) (run \(runID))"
    let outcome = await uncancelled { () async -> Result<Int, IntegrationError> in
      do throws(IntegrationError) {
        return .success(
          try await oncall.annotate(
            runID: runID, runbook: runbook, environment: environment, level: level, text: text,
            timeout: Executor.integrationTimeout))
      } catch { return .failure(error) }
    }
    switch outcome {
    case .success(let id):
      oncallState.annotationID = id
      say("  grafana: annotation \(id) posted")
      integrationDone(
        service: "grafana", action: IntegrationEvent.Action.annotate, id: String(id), detail: text)
    case .failure(let error):
      integrationFailed(error, action: IntegrationEvent.Action.annotate, id: nil, detail: text)
    }
  }

  /// At the run's end (also failed or interrupted): silences expired, an alert triggered for a
  /// failed or interrupted run (resolved when a resume succeeds), a change event, the annotation closed.
  func oncallRunFinished(_ plan: Plan, status: RunStatus) async {
    guard !request.dryRun else { return }
    let oncall = oncall
    let earlier = request.resume?.openIntegrations.silences ?? []
    var expired = Set<String>()
    for id in earlier + oncallState.silences where !expired.contains(id) {
      expired.insert(id)
      let outcome = await uncancelled { () async -> IntegrationError? in
        do throws(IntegrationError) {
          try await oncall.expireSilence(id: id, timeout: Executor.integrationTimeout)
          return nil
        } catch { return error }
      }
      if let error = outcome {
        integrationFailed(error, action: IntegrationEvent.Action.expire, id: id)
      } else {
        say("  alertmanager: silence \(id) expired")
        integrationDone(service: "alertmanager", action: IntegrationEvent.Action.expire, id: id, detail: nil)
      }
    }
    oncallState.silences = []
    if oncall.hasPagerDuty {
      let key = PagerDutyClient.dedupKey(runbook: plan.runbook, environment: plan.environment, runID: runID)
      let what = "\(drillMark)\(runName(plan)) \(status.rawValue) in \(plan.environment) (run \(runID))"
      if status == .failed || status == .interrupted {
        if mayPage {
          await sendAlert(.trigger, key: key, summary: what, severity: .critical, plan: plan, step: nil)
        } else {
          say("  pagerduty: no alert sent for the drill's \(status.rawValue) run (drill --page sends one)")
        }
      } else if status == .succeeded, request.resume != nil, mayPage {
        await sendAlert(.resolve, key: key, summary: what, severity: .info, plan: plan, step: nil)
      }
      await sendChange(summary: what, plan: plan, detail: "run \(status.rawValue)")
    }
    if let id = oncallState.annotationID {
      oncallState.annotationID = nil
      let outcome = await uncancelled { () async -> IntegrationError? in
        do throws(IntegrationError) {
          try await oncall.closeAnnotation(id: id, timeout: Executor.integrationTimeout)
          return nil
        } catch { return error }
      }
      if let error = outcome {
        integrationFailed(error, action: IntegrationEvent.Action.close, id: String(id))
      } else {
        say("  grafana: annotation \(id) closed")
        integrationDone(
          service: "grafana", action: IntegrationEvent.Action.close, id: String(id), detail: nil)
      }
    }
  }

  /// Sends a change event; a failure is a warning.
  func sendChange(summary: String, plan: Plan, detail: String) async {
    let oncall = oncall
    let event = PagerDutyChangeEvent(
      summary: redact(summary), source: Syscall.hostName(), runID: runID, runbook: plan.runbook,
      level: plan.target.level, environment: plan.environment)
    let outcome = await uncancelled { () async -> Result<PagerDutyResult, IntegrationError> in
      do throws(IntegrationError) {
        return .success(try await oncall.sendChange(event, timeout: Executor.integrationTimeout))
      } catch {
        return .failure(error)
      }
    }
    switch outcome {
    case .success:
      say("  pagerduty: change event sent (\(detail))")
      integrationDone(service: "pagerduty", action: IntegrationEvent.Action.change, id: nil, detail: detail)
    case .failure(let error):
      integrationFailed(error, action: IntegrationEvent.Action.change, id: nil, detail: detail)
    }
  }

  /// Sends an alert event; returns the dedup key PagerDuty answered with, nil (said and
  /// journalled) when it failed.
  @discardableResult
  func sendAlert(
    _ action: PagerDutyAlertEvent.Action, key: String, summary: String,
    severity: PagerDutyAlertEvent.Severity,
    plan: Plan, step: String?
  ) async -> Result<String, IntegrationError> {
    let oncall = oncall
    var details = ["run_id": runID, "runbook": plan.runbook, "environment": plan.environment]
    if let level = plan.target.level { details["level"] = String(level) }
    let event = PagerDutyAlertEvent(
      action: action, dedupKey: key, summary: redact(summary), source: Syscall.hostName(), severity: severity,
      details: details)
    let outcome = await uncancelled { () async -> Result<PagerDutyResult, IntegrationError> in
      do throws(IntegrationError) {
        return .success(try await oncall.sendAlert(event, timeout: Executor.integrationTimeout))
      } catch {
        return .failure(error)
      }
    }
    switch outcome {
    case .success(let result):
      let returned = result.dedupKey ?? key
      say("  pagerduty: \(action.rawValue) sent, dedup key \(returned)")
      integrationDone(
        service: "pagerduty", action: action.rawValue, id: returned, step: step, detail: redact(summary))
      return .success(returned)
    case .failure(let error):
      integrationFailed(error, action: action.rawValue, id: key, step: step, detail: summary)
      return .failure(error)
    }
  }

  /// A `notify: {pagerduty: …}` step: an alert event keyed by the run; a drill without
  /// `--page` sends none.
  func runPagerDutyStep(
    _ alert: PagerDutyStepAlert, summary: ResolvedText, planned: PlannedStep, phase: DryRunPhase
  )
    async -> AttemptResult
  {
    let text = drillMark + summary.display
    if phase == .wouldRun {
      return AttemptResult(status: .wouldRun, detail: "would send PagerDuty \(alert.action): \(text)")
    }
    guard mayPage else {
      return .ok("drill: PagerDuty \(alert.action) not sent (drill --page sends it): \(text)")
    }
    warnOnCallProblems()
    guard oncall.hasPagerDuty else {
      say("    warning: PagerDuty is not set up; \(alert.action) not sent", .warning)
      return .fail(
        "PagerDuty \(alert.action): \(text)", oncall.problems.first ?? "PagerDuty is not configured")
    }
    guard let plan = currentPlan else { return .fail(text, "no plan") }
    let key = PagerDutyClient.dedupKey(runbook: plan.runbook, environment: plan.environment, runID: runID)
    let action: PagerDutyAlertEvent.Action = alert.action == "resolve" ? .resolve : .trigger
    let severity = PagerDutyAlertEvent.Severity(rawValue: alert.severity) ?? .critical
    switch await sendAlert(
      action, key: key, summary: drillMark + summary.value, severity: severity, plan: plan, step: planned.id)
    {
    case .success(let returned): return .ok("PagerDuty \(alert.action) sent, dedup key \(returned): \(text)")
    case .failure(let error): return .fail("PagerDuty \(alert.action): \(text)", error.description)
    }
  }

  /// A `silence` step: posts the silence and keeps its id to expire at the end of the run.
  func runSilence(_ spec: SilenceStepSpec, planned: PlannedStep, phase: DryRunPhase) async -> AttemptResult {
    let matchers = spec.matchers.map(\.value)
    let what = "\(matchers.joined(separator: ", ")) for \(Quantity.format(seconds: spec.duration))"
    if phase == .wouldRun {
      return AttemptResult(status: .wouldRun, detail: "would silence \(what) (nothing posted)")
    }
    warnOnCallProblems()
    guard oncall.hasAlertmanager, let plan = currentPlan else {
      return .fail("silence \(what)", "Alertmanager is not configured under notify:")
    }
    let oncall = oncall
    let (runID, runbook, environment) = (runID, plan.runbook, plan.environment)
    let user = request.processEnvironment["USER"] ?? String(getuid())
    let duration = Duration.milliseconds(Int64(spec.duration * 1000))
    let timeout =
      planned.step.timeout.map { Duration.milliseconds(Int64($0 * 1000)) } ?? Executor.integrationTimeout
    let outcome = await uncancelled { () async -> Result<String, IntegrationError> in
      do throws(IntegrationError) {
        return .success(
          try await oncall.createSilence(
            matchers: matchers, for: duration, user: user, runID: runID, runbook: runbook,
            environment: environment, timeout: timeout))
      } catch { return .failure(error) }
    }
    switch outcome {
    case .success(let id):
      oncallState.silences.append(id)
      integrationDone(
        service: "alertmanager", action: IntegrationEvent.Action.silence, id: id, step: planned.id,
        detail: what)
      return .ok("silenced \(what): silence \(id) (expired when the run ends)")
    case .failure(let error):
      integrationFailed(
        error, action: IntegrationEvent.Action.silence, id: nil, step: planned.id, detail: what)
      return .fail("silence \(what)", error.description)
    }
  }
}
