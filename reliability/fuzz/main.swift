// The reliability suite's fuzz driver: the fuzzers of Tests/RollbackCoreTests/Fuzz*Tests.swift
// compiled against the release build (reliability/fuzz/build), for tens of thousands of inputs.
//
// Usage: fuzz runbook|dotenv|journal ITERATIONS [SEED]
// Prints one JSON object of figures; exit 0 when nothing was wrong, 1 otherwise.
import Foundation

let arguments = CommandLine.arguments
guard arguments.count >= 3, let iterations = Int(arguments[2]),
  ["runbook", "dotenv", "journal"].contains(arguments[1])
else {
  FileHandle.standardError.write(Data("usage: fuzz runbook|dotenv|journal ITERATIONS [SEED]\n".utf8))
  exit(2)
}
let seed = arguments.count > 3 ? UInt64(arguments[3]) ?? FuzzSettings.seed : FuzzSettings.seed
let outcome: (figures: [String: Any], problems: [String])
do {
  if arguments[1] == "runbook" {
    outcome = try await RunbookFuzzer.run(iterations: iterations, seed: seed)
  } else if arguments[1] == "journal" {
    outcome = JournalFuzzer.run(iterations: iterations, seed: seed)
  } else {
    outcome = await DotEnvFuzzer.run(iterations: iterations, seed: seed)
  }
} catch {
  FileHandle.standardError.write(Data("fuzz: \(error)\n".utf8))
  exit(2)
}
let data = (try? JSONSerialization.data(withJSONObject: outcome.figures, options: [.sortedKeys])) ?? Data()
print(String(decoding: data, as: UTF8.self))
exit(outcome.problems.isEmpty ? 0 : 1)
