// swift-tools-version:6.0
import Foundation
import PackageDescription

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

let package = Package(
    name: "sigctl",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "sigctl", targets: ["sigctl"]),
        .library(name: "SigctlCore", targets: ["SigctlCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CClamAV",
            pkgConfig: "libclamav",
            providers: [.apt(["libclamav-dev"])]
        ),
        .target(
            name: "SigctlCore",
            dependencies: [
                "CCurl",
                "CClamAV",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        .executableTarget(
            name: "sigctl",
            dependencies: [
                "SigctlCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["exports.map"],
            linkerSettings: [
                // See Sources/sigctl/exports.map: libclamav's tableCreate must not bind to TOMLKit's.
                .unsafeFlags(["-Xlinker", "--version-script=\(packageRoot)/Sources/sigctl/exports.map"]),
            ]
        ),
        .testTarget(
            name: "SigctlCoreTests",
            dependencies: ["SigctlCore"]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["SigctlCore"],
            // Read in place by JSONSchemaTests, by path.
            exclude: ["Golden"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
