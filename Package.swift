// swift-tools-version:6.2
import PackageDescription

let package = Package(
  name: "rollback",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "rollback", targets: ["rollback"]),
    .library(name: "RollbackCore", targets: ["RollbackCore"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CCurl",
      pkgConfig: "libcurl",
      providers: [.apt(["libcurl4-openssl-dev"])]
    ),
    .systemLibrary(
      name: "CLibPQ",
      pkgConfig: "libpq",
      providers: [.apt(["libpq-dev"])]
    ),
    .target(
      name: "RollbackCore",
      dependencies: [.product(name: "Yams", package: "Yams")]
    ),
    .target(
      name: "RollbackSystem",
      dependencies: ["RollbackCore", "CCurl", "CLibPQ"]
    ),
    .target(
      name: "RollbackCLI",
      dependencies: [
        "RollbackCore", "RollbackSystem",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(name: "rollback", dependencies: ["RollbackCLI"]),
    .testTarget(name: "RollbackCoreTests", dependencies: ["RollbackCore"], exclude: ["Fixtures"]),
    .testTarget(name: "RollbackSystemTests", dependencies: ["RollbackSystem", "RollbackCore"]),
    .testTarget(name: "RollbackCLITests", dependencies: ["RollbackCLI", "RollbackCore"]),
  ],
  swiftLanguageModes: [.v6]
)
