extension RunbookLoader {
  /// The keys accepted under `notify:` (key "notify") and under each of its integrations,
  /// in a fixed order (did-you-mean hints depend on it).
  static let notifyKeys: [String: [String]] = [
    "notify": ["slack", "stdout", "pagerduty", "alertmanager", "grafana"],
    "slack": ["webhook_env", "channel"],
    "pagerduty": ["routing_key_env", "url", "component"],
    "alertmanager": ["url", "token_env"],
    "grafana": ["url", "token_env", "dashboard_uid"],
  ]
}
