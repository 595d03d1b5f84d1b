import Foundation
import Yams

/// Why a roll-forward runbook could not be written.
public struct ForwardRunbookError: Error, Sendable, CustomStringConvertible {
  /// What went wrong.
  public var description: String
}

extension ForwardPlan {
  /// The runbook `source` with this plan added as scenario ``scenarioName`` (replacing one of
  /// that name), so that `validate` reads it and `execute --scenario NAME` runs it. Comments of
  /// the source are not kept; the file starts with one saying where it comes from.
  public func runbook(source: String) throws(ForwardRunbookError) -> String {
    let scenario =
      "title: \(JSONTemplate.quote("Roll-forward of run \(runID) (\(what))"))\n"
      + "symptoms: [\(JSONTemplate.quote("the fix for the incident behind run \(runID) is deployed"))]\n"
      + "steps:\n" + yamlSteps(indent: 2) + "\n"
    guard !steps.isEmpty else {
      throw ForwardRunbookError(description: "the plan has no step: nothing to write")
    }
    do {
      guard var root = try Yams.compose(yaml: source), var top = root.mapping,
        let scenarioNode = try Yams.compose(yaml: scenario)
      else {
        throw ForwardRunbookError(description: "the runbook is not a YAML mapping")
      }
      var scenarios = top["scenarios"]?.mapping ?? Node.Mapping([])
      scenarios[scenarioName] = scenarioNode
      top["scenarios"] = .mapping(scenarios)
      root = .mapping(top)
      let body = try Yams.serialize(node: root, width: -1)
      return "# Roll-forward of run \(runID) (\(what) of \(runbook) in \(environment)), written by\n"
        + "# `rollback plan --forward \(runID) --format runbook`: the runbook with scenario \(scenarioName).\n"
        + "# Keep it beside the runbook (relative paths are read from this file's directory), then:\n"
        + "#   rollback validate --runbook FILE && rollback execute --runbook FILE --scenario \(scenarioName)\n"
        + body
    } catch let error as ForwardRunbookError {
      throw error
    } catch {
      throw ForwardRunbookError(description: "could not write the runbook: \(error)")
    }
  }
}
