import Foundation
import RollbackCLI

let status = await RollbackCommand.run(arguments: Array(CommandLine.arguments.dropFirst()))
exit(status)
