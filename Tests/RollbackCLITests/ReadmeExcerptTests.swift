import Foundation
import Testing

/// The README documents each incident integration with a runbook excerpt that `validate`
/// accepts once pasted into a runbook.
@Suite("README: a valid runbook excerpt per incident integration")
struct ReadmeExcerptTests {
  static let integrations = [
    "PagerDuty", "Alertmanager silence", "Grafana annotations", "Proof of pickup",
    "Time budget and escalation", "Roll-forward", "Chart for the post-mortem",
  ]

  /// The runbook each excerpt is pasted into.
  static let base = """
    version: 1
    name: checkout
    environments:
      production:
        vars: {app_dir: /srv/checkout, base_url: "http://localhost:3000", conf: /etc/supervisord.conf}
        prometheus: {url: "http://localhost:9090"}
    signals:
      error_rate: {prometheus: "sum(rate(api_errors_total[5m])) / sum(rate(api_requests_total[5m]))", unit: ratio}
    decision:
      - {severity: critical, any: ["error_rate > 5%"], action: {level: 3}}
      - {severity: low, any: ["error_rate > 0.1%"], action: monitor}
    flags:
      backend-api: {key: NEXT_PUBLIC_USE_BACKEND_API, files: ["${app_dir}/.env"], service: frontend}
    services:
      frontend: {restart: [supervisorctl, -c, "${conf}", restart, frontend]}
    levels:
      3:
        target: 5m
        steps:
          - {id: off, flag: {name: backend-api, set: disabled}}
          - {id: restart, restart: frontend}
      4:
        target: 10m
        steps:
          - {id: off4, flag: {name: backend-api, set: disabled}}
          - {id: restart4, restart: frontend}
    """

  /// Pastes an excerpt into the base runbook: mappings merged key by key, a level's `steps`
  /// and `decision` rules put first. PyYAML reads `on:` as true; it is written back as `on:`.
  static let paste = """
    import re, sys, yaml
    def merge(a, b):
        for k, v in b.items():
            if k in ('steps', 'decision') and k in a:
                a[k] = v + a[k]
            elif isinstance(v, dict) and isinstance(a.get(k), dict):
                merge(a[k], v)
            else:
                a[k] = v
    base = yaml.safe_load(open(sys.argv[1]))
    merge(base, yaml.safe_load(open(sys.argv[2])))
    text = yaml.safe_dump(base, sort_keys=False)
    open(sys.argv[3], 'w').write(re.sub(r'(?m)^(\\s*)true:', r'\\1on:', text))
    """

  /// The README's section on the fleet and the incident tools.
  static func section() throws -> String {
    let readme = try String(
      contentsOf: CLI.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
    let start = try #require(readme.range(of: "## Many hosts, and the incident tools"))
    let rest = readme[start.upperBound...]
    let end = rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex
    return String(rest[..<end])
  }

  /// The first YAML block after `**NAME**`.
  static func excerpt(_ name: String, in section: String) -> String? {
    guard let heading = section.range(of: "**\(name)**"),
      let open = section.range(of: "```yaml\n", range: heading.upperBound..<section.endIndex),
      let close = section.range(of: "```", range: open.upperBound..<section.endIndex)
    else { return nil }
    // The block must belong to this heading: no other bold heading in between.
    if section[heading.upperBound..<open.lowerBound].contains("\n**") { return nil }
    return String(section[open.upperBound..<close.lowerBound])
  }

  @Test(
    "each integration has an excerpt that validate --strict accepts pasted into a runbook",
    arguments: integrations)
  func excerptValidates(_ name: String) throws {
    let block = try #require(Self.excerpt(name, in: try Self.section()), "no YAML excerpt under **\(name)**")
    let directory = try CLI.temporaryDirectory()
    defer { CLI.removeTemporaryDirectory(directory) }
    let base = directory.appendingPathComponent("base.yaml")
    let piece = directory.appendingPathComponent("excerpt.yaml")
    let runbook = directory.appendingPathComponent("rollback.yaml")
    try Self.base.write(to: base, atomically: true, encoding: .utf8)
    try block.write(to: piece, atomically: true, encoding: .utf8)
    let pasted = try Shell.run(["python3", "-c", Self.paste, base.path, piece.path, runbook.path])
    #expect(pasted.status == 0, "\(pasted.stderr)")
    let result = try CLI.run(["validate", "--strict", "--runbook", runbook.path])
    #expect(result.status == 0, "\(name): \(result.stdout)\(result.stderr)")
    #expect(result.stdout.contains("0 warnings"), "\(result.stdout)")
  }
}
