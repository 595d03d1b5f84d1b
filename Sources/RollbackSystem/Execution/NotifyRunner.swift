import Foundation
import RollbackCore

/// Sends a `notify` step's message: to stdout and, when configured, to Slack through the HTTP
/// effect. A failed notification is a failed step that never stops a rollback.
struct NotifyRunner {
  /// Sends an HTTP request.
  var http: @Sendable (HTTPRequest) async throws(HTTPError) -> HTTPResponse
  /// Where notifications go.
  var settings: NotifySettings
  /// The Slack webhook URL (a secret), nil or empty when its variable is not set.
  var webhook: String?
  /// A drill's messages say so.
  var isDrill: Bool
  /// Says a line of the given kind.
  var say: (String, OutputKind) -> Void

  /// Sends the message to every configured place.
  func run(_ written: ResolvedText, channel: String?) async -> AttemptResult {
    // A drill's messages say so, wherever they go: nobody takes a rehearsal for an incident.
    var message = written
    if isDrill {
      message.value = "[DRILL] " + message.value
      message.display = "[DRILL] " + message.display
    }
    var delivered: [String] = []
    var problems: [String] = []
    if settings.stdout {
      say("    📣 \(message.display)", .detail)
      delivered.append("stdout")
    }
    if let webhookEnv = settings.slackWebhookEnv {
      if let webhook, !webhook.isEmpty {
        if let problem = await slack(message.value, channel: channel, webhook: webhook) {
          problems.append(problem)
        } else {
          delivered.append("slack\(channel.map { " \($0)" } ?? "")")
        }
      } else {
        problems.append("\(webhookEnv) is not set; Slack skipped")
      }
    }
    for problem in problems {
      say("    warning: notification: \(problem) (a failed notification never stops a rollback)", .warning)
    }
    let detail =
      "sent to \(delivered.isEmpty ? "nowhere" : delivered.joined(separator: ", ")): \(message.display)"
    if delivered.isEmpty || problems.contains(where: { !$0.hasSuffix("Slack skipped") }) {
      return .fail(detail, problems.joined(separator: "; "))
    }
    return .ok(detail)
  }

  /// Posts to the Slack webhook; the problem, nil when delivered.
  func slack(_ text: String, channel: String?, webhook: String) async -> String? {
    var members: [(String, JSONValue)] = [("text", .string(text))]
    if let channel { members.append(("channel", .string(channel))) }
    let request = HTTPRequest(
      method: "POST", url: webhook,
      headers: [HTTPHeader(name: "Content-Type", value: "application/json")],
      body: Data(JSONValue.object(members).rendered().utf8), timeout: .seconds(10))
    do {
      let response = try await http(request)
      return response.isSuccess ? nil : "slack answered HTTP \(response.status)"
    } catch {
      return "slack: \(error.description)"
    }
  }
}
