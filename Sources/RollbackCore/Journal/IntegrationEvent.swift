import Foundation

/// One call to an on-call integration (`integration`): a PagerDuty event, an Alertmanager
/// silence created or expired, a Grafana annotation posted or closed, with the id the remote
/// side returned or why the call failed. Journals older than the extension have none.
public struct IntegrationEvent: Sendable, Equatable {
  /// The actions journalled.
  public enum Action {
    /// A PagerDuty change event (run started or finished).
    public static let change = "change"
    /// A PagerDuty alert trigger.
    public static let trigger = "trigger"
    /// A PagerDuty alert resolve.
    public static let resolve = "resolve"
    /// A silence created.
    public static let silence = "silence"
    /// A silence expired.
    public static let expire = "expire"
    /// An annotation posted.
    public static let annotate = "annotate"
    /// An annotation closed.
    public static let close = "close"
  }

  /// When (ISO time).
  public var at: String?
  /// `pagerduty`, `alertmanager` or `grafana`.
  public var service: String?
  /// What was done (see ``Action``).
  public var action: String?
  /// The id the call is about: dedup key, silence id, annotation id.
  public var id: String?
  /// The step that made the call, nil for run events.
  public var step: String?
  /// A short description (`run started`, the matchers).
  public var detail: String?
  /// Why the call failed, nil when it succeeded.
  public var error: String?

  /// An integration call.
  public init(
    at: String?, service: String?, action: String?, id: String?, step: String? = nil, detail: String? = nil,
    error: String? = nil
  ) {
    self.at = at
    self.service = service
    self.action = action
    self.id = id
    self.step = step
    self.detail = detail
    self.error = error
  }

  init(_ fields: JournalFields) {
    self.init(
      at: fields.string("at"), service: fields.string("service"), action: fields.string("action"),
      id: fields.string("id"), step: fields.string("step"), detail: fields.string("detail"),
      error: fields.string("error"))
  }

  var json: JSONValue {
    .object([
      ("event", .string(JournalEvent.Kind.integration)), ("at", .string(at)), ("service", .string(service)),
      ("action", .string(action)), ("id", .string(id)), ("step", .string(step)), ("detail", .string(detail)),
      ("error", .string(error)),
    ])
  }

  /// Whether the call succeeded.
  public var succeeded: Bool { error == nil }

  /// One line for a report: `pagerduty trigger rollback/x/y/z` or `… failed: ERROR`.
  public var line: String {
    var text = [service, action].compactMap { $0 }.joined(separator: " ")
    if let id { text += " \(id)" }
    if let step { text += " (step \(step))" }
    if let detail, !detail.isEmpty { text += " — \(detail)" }
    if let error { text += " failed: \(error)" }
    return text
  }
}

/// What the integration events of a run leave open: silences not yet expired, an annotation
/// not yet closed. `resume` expires and closes them at its end.
public struct OpenIntegrations: Sendable, Equatable {
  /// Silence ids created and not expired, in order.
  public var silences: [String] = []
  /// The annotation posted and not closed, if any.
  public var annotation: String?

  /// Nothing open.
  public init() {}

  /// What `events` leave open.
  public init(_ events: [IntegrationEvent]) {
    for event in events where event.succeeded {
      guard let id = event.id else { continue }
      switch event.action {
      case IntegrationEvent.Action.silence: silences.append(id)
      case IntegrationEvent.Action.expire: silences.removeAll { $0 == id }
      case IntegrationEvent.Action.annotate: annotation = id
      case IntegrationEvent.Action.close: if annotation == id { annotation = nil }
      default: break
      }
    }
  }
}
