// swift-tools-version:6.0
// Estuary: a metrics relay from collectd, graphite and SNMP to InfluxDB.
import PackageDescription

let package = Package(
    name: "Estuary",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "estuary", targets: ["estuary"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C libraries, through pkg-config, with shims for what Swift cannot import.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLibcrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CNetSNMP", pkgConfig: "netsnmp", providers: [.apt(["libsnmp-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // epoll and eventfd, for the SNMP poller's event loop.
        .systemLibrary(name: "CLinuxEvents"),
        // accept4, posix_spawn's closefrom and pidfd_open: close-on-exec descriptors and clean children.
        .target(name: "CLinuxDescriptors"),

        // The point model: no dependencies, no Foundation.
        .target(name: "EstuaryModel"),
        // Pure wire formats: bytes in, points and rejections out. No I/O.
        .target(name: "EstuaryWire", dependencies: ["EstuaryModel"]),
        // collectd's signature and encryption through libcrypto.
        .target(name: "EstuaryCrypto", dependencies: ["EstuaryWire", "CLibcrypto"]),
        // What every runtime part shares: batches of line protocol, self-metrics, clocks.
        .target(name: "EstuaryRuntime"),
        // Sockets on Dispatch: UDP receivers and TCP listeners. Moves bytes, knows nothing of metrics;
        // reads time from EstuaryRuntime's `Clock`.
        .target(name: "EstuaryIO", dependencies: ["CLinuxDescriptors", "EstuaryRuntime"]),
        // Receivers -> decoders -> batches -> router -> outputs; self-metrics.
        .target(name: "EstuaryPipeline", dependencies: [
            "EstuaryIO", "EstuaryRuntime", "EstuaryWire", "EstuaryModel",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // SNMP without I/O: OIDs, values, table walks and poll state machines, IF-MIB, rates,
        // schemas to line protocol, target lists.
        .target(name: "EstuarySNMP", dependencies: ["EstuaryModel", "EstuaryWire"]),
        // The SNMP poller: one libnetsnmp thread (single-session API, epoll), scheduling,
        // and the writers that hand points to the pipeline.
        .target(name: "EstuarySNMPPoller", dependencies: [
            "CNetSNMP", "CLinuxEvents", "EstuarySNMP", "EstuaryRuntime", "EstuaryPipeline", "EstuaryWire",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // estuary.toml: typed, validated configuration (errors carry key path and line).
        .target(name: "EstuaryConfig", dependencies: ["EstuaryWire", "EstuarySNMP", "EstuaryIO",
                                                     .product(name: "TOMLKit", package: "TOMLKit")]),
        // gzip through zlib (request bodies, spool segments).
        .target(name: "EstuaryCompression", dependencies: ["CZlib"]),
        // The durable on-disk queue of an output: segment files of CRC-checked, zlib-compressed records.
        .target(name: "EstuarySpool", dependencies: [
            "EstuaryRuntime", "EstuaryCompression", .product(name: "Logging", package: "swift-log"),
        ]),
        // Outputs: InfluxDB over HTTP (libcurl) from a bounded queue (memory, then the spool), on a thread per output.
        .target(name: "EstuaryOutputs", dependencies: [
            "EstuaryRuntime", "EstuaryCompression", "EstuarySpool", "CCurl", "CLinuxDescriptors",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Reading the files configuration points at (types.db, AuthFile).
        .target(name: "EstuaryFiles", dependencies: ["EstuaryWire"]),
        // The command line, as a library so tests can run commands in-process.
        .target(name: "EstuaryCLI", dependencies: [
            "EstuaryModel", "EstuaryWire", "EstuaryCrypto", "EstuaryFiles", "EstuaryConfig", "EstuaryIO", "EstuaryPipeline",
            "EstuaryRuntime", "EstuaryOutputs", "EstuarySpool", "EstuarySNMP", "EstuarySNMPPoller",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "estuary", dependencies: [
            "EstuaryCLI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Benchmarks (`make bench`), built in release mode only by the Makefile.
        .executableTarget(name: "estuary-bench", dependencies: [
            "EstuaryModel", "EstuaryWire", "EstuaryCrypto", "EstuaryFiles",
        ]),

        // Load generators and counting sinks for the end-to-end benchmarks (scripts/bench.sh).
        .executableTarget(name: "estuary-loadtools", dependencies: ["EstuaryWire", "CLinuxDescriptors"]),

        // libFuzzer harnesses: plain targets exporting LLVMFuzzerTestOneInput (see Makefile `fuzz`).
        .target(name: "FuzzCollectd", dependencies: ["EstuaryWire"], path: "Fuzz/FuzzCollectd"),
        .target(name: "FuzzGraphite", dependencies: ["EstuaryWire"], path: "Fuzz/FuzzGraphite"),
        .target(name: "FuzzLineProtocol", dependencies: ["EstuaryWire"], path: "Fuzz/FuzzLineProtocol"),
        .target(name: "FuzzTemplates", dependencies: ["EstuaryWire"], path: "Fuzz/FuzzTemplates"),
        .target(name: "FuzzConfig", dependencies: ["EstuaryConfig"], path: "Fuzz/FuzzConfig"),

        // Shared by the test targets: golden fixtures, point comparison, a real influxd, a scripted HTTP server.
        .target(name: "EstuaryTestSupport", dependencies: ["EstuaryModel", "EstuaryWire", "EstuaryCompression", "EstuaryRuntime",
                                                          "CLinuxDescriptors"],
                path: "Tests/EstuaryTestSupport"),
        .testTarget(name: "EstuaryWireTests",
                    dependencies: ["EstuaryWire", "EstuaryModel", "EstuaryCrypto", "EstuaryFiles", "EstuaryTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "EstuaryConfigTests", dependencies: ["EstuaryConfig", "EstuaryWire", "EstuarySNMP", "EstuaryIO"]),
        .testTarget(name: "EstuaryCLITests", dependencies: ["EstuaryWire", "EstuaryModel", "EstuaryTestSupport"]),
        .testTarget(name: "CNetSNMPTests", dependencies: ["CNetSNMP"]),
        .testTarget(name: "EstuarySNMPTests", dependencies: ["EstuarySNMP", "EstuaryModel", "EstuaryWire"]),
        .testTarget(name: "EstuarySNMPIntegrationTests", dependencies: [
            "EstuarySNMP", "EstuarySNMPPoller", "EstuaryPipeline", "EstuaryRuntime", "EstuaryModel", "EstuaryWire",
            "EstuaryTestSupport", .product(name: "Logging", package: "swift-log"),
        ], exclude: ["Fixtures"]),
        .testTarget(name: "EstuaryPipelineTests", dependencies: [
            "EstuaryPipeline", "EstuaryIO", "EstuaryCrypto", "EstuaryRuntime", "EstuaryWire", "EstuaryModel", "EstuaryTestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "EstuaryIntegrationTests", dependencies: ["EstuaryTestSupport"]),
        .testTarget(name: "EstuaryOutputsTests", dependencies: [
            "EstuaryOutputs", "EstuaryRuntime", "EstuaryCompression", "EstuarySpool", "EstuaryTestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "EstuarySpoolTests", dependencies: [
            "EstuarySpool", "EstuaryRuntime", "EstuaryCompression", "EstuaryTestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)

// Strictness for every target, in one place.
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
