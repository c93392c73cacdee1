// swift-tools-version:6.0
import PackageDescription

// Layout: pure cores (no I/O) and thin shells that do I/O.
//
//   ZKProtocol       jute codec, records, op/error codes, frame decoder   (pure; NIOCore ByteBuffer only)
//   ZKStateMachine   data tree, txns, request preparation, sessions, watches, ACLs   (pure)
//   ZKReplication    leader election + atomic broadcast as an event-in/effects-out state machine   (pure)
//   ZKSimulation     deterministic simulator driving the real replication core and data tree   (pure)
//   ZKStorage        transaction log + snapshots on disk   (shell: file I/O)
//   ZKServer         NIO client port (plain and TLS), peer transport, four-letter words, admin HTTP + /metrics
//                    (a Prometheus registry per server), config   (shell: network)
//   ZKClient         async ZooKeeper client: zkctl's health write and reconfig, and the benchmark   (shell: network)
//   ZKOrchestration  zkctl: inventory, templates, planners (pure), certificates, process supervision (shell);
//                    templates/ is embedded at build time by EmbedTemplatesPlugin (tool: EmbedTemplates)
//   zkserver/zkctl/zksim   executables: flags -> libraries, nothing else
//
// Every target builds in the Swift 6 language mode (complete concurrency checking).
let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
]

let package = Package(
    name: "zkctl",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "zkserver", targets: ["zkserver"]),
        .executable(name: "zkctl", targets: ["zkctl"]),
        .executable(name: "zksim", targets: ["zksim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        // Already a dependency of swift-nio; zkctl's Ctrl-C flag is a lock-free ManagedAtomic (Synchronization's
        // Atomic needs macOS 15).
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.2.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(name: "ZKProtocol", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        .target(name: "ZKStateMachine", dependencies: [
            "ZKProtocol", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "ZKReplication"),
        .target(name: "ZKSimulation", dependencies: ["ZKReplication", "ZKStateMachine", "ZKProtocol"]),
        .target(name: "ZKStorage", dependencies: [
            "ZKStateMachine", "ZKProtocol", "ZKReplication", .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .target(name: "ZKServer", dependencies: [
            "ZKProtocol", "ZKStateMachine", "ZKStorage", "ZKReplication",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            // CoreMetrics, not Metrics: zkserver stays free of Foundation.
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ] + nio),
        .target(name: "ZKClient", dependencies: [
            "ZKProtocol", .product(name: "Logging", package: "swift-log"),
        ] + nio),
        // zkctl's templates/ embedded at build time (BundledTemplates): an installed zkctl is one file.
        .executableTarget(name: "EmbedTemplates"),
        .plugin(name: "EmbedTemplatesPlugin", capability: .buildTool(), dependencies: ["EmbedTemplates"],
                path: "Sources/EmbedTemplatesPlugin"),
        .target(name: "ZKOrchestration", dependencies: [
            "ZKClient", "ZKProtocol", "ZKStorage",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], plugins: ["EmbedTemplatesPlugin"]),
        // A release zkserver links the Swift runtime statically: one file to ship (the image, the Ansible
        // role), no toolchain on the hosts, and only the runtime pages it uses in memory.
        .executableTarget(name: "zkserver", dependencies: [
            "ZKServer", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], linkerSettings: [
            .unsafeFlags(["-static-stdlib"], .when(platforms: [.linux], configuration: .release)),
            // FoundationEssentials' own static dependencies, which -static-stdlib does not name.
            .linkedLibrary("_FoundationCShims", .when(platforms: [.linux], configuration: .release)),
            .linkedLibrary("_FoundationCollections", .when(platforms: [.linux], configuration: .release)),
            .linkedLibrary("swiftSynchronization", .when(platforms: [.linux], configuration: .release)),
        ]),
        // zkctl depends on the zkserver executable so that `swift run zkctl up` builds it too
        // (zkctl looks for zkserver next to its own executable).
        .executableTarget(name: "zkctl", dependencies: [
            "ZKOrchestration", "zkserver", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Atomics", package: "swift-atomics"),
        ]),
        .executableTarget(name: "zksim", dependencies: [
            "ZKSimulation", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ZKProtocolTests", dependencies: ["ZKProtocol"]),
        .testTarget(name: "ZKStateMachineTests", dependencies: ["ZKStateMachine", "ZKProtocol"]),
        .testTarget(name: "ZKStorageTests", dependencies: [
            "ZKStorage", "ZKReplication", "ZKStateMachine", "ZKProtocol", .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "ZKReplicationTests", dependencies: ["ZKReplication"]),
        .testTarget(name: "ZKSimulationTests", dependencies: ["ZKSimulation"]),
        .testTarget(name: "ZKServerTests", dependencies: ["ZKServer", "ZKClient"]),
        .testTarget(name: "ZKOrchestrationTests", dependencies: [
            "ZKOrchestration", "ZKStorage", .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
        ], exclude: ["Golden"]),
        .testTarget(name: "ZKClientTests", dependencies: ["ZKClient", "ZKProtocol"]),
    ],
    swiftLanguageModes: [.v6]
)
