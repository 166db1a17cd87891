// swift-tools-version:6.1
//
// MLDeploy's benchmarks: a package of their own, so the main build and CI never compile them.
// Run them with Benchmarks/run-*-benchmark.sh (release builds; see Benchmarks/README.md).

import PackageDescription

let package = Package(
    name: "MLDeployBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "MLDeploy", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(name: "CCurlRaw", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "RawCurl", dependencies: ["CCurlRaw"]),
        .target(name: "BenchmarkMeasure"),
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                "BenchmarkMeasure",
                "RawCurl",
                .product(name: "MLDeployServer", package: "MLDeploy"),
                .product(name: "MLDeploy", package: "MLDeploy"),
                .product(name: "MLDeployHTTP", package: "MLDeploy"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "HTTPBenchmark",
            dependencies: [
                "RawCurl",
                .product(name: "MLDeployHTTP", package: "MLDeploy"),
                .product(name: "MLDeploy", package: "MLDeploy"),
            ]
        ),
        .executableTarget(
            name: "PythonBenchmark",
            dependencies: [
                .product(name: "ServiceRuntime", package: "MLDeploy"),
                .product(name: "MLDeploy", package: "MLDeploy"),
            ]
        ),
        .executableTarget(
            name: "ScaleOutBenchmark",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "PostgresBackend", package: "MLDeploy"),
                .product(name: "PostgresServerState", package: "MLDeploy"),
                .product(name: "FileStoreBackend", package: "MLDeploy"),
                .product(name: "MLDeployServer", package: "MLDeploy"),
                .product(name: "ServiceRuntime", package: "MLDeploy"),
                .product(name: "MLDeploy", package: "MLDeploy"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "PostgresBenchmark",
            dependencies: [
                "BenchmarkMeasure",
                .product(name: "PostgresBackend", package: "MLDeploy"),
                .product(name: "FileStoreBackend", package: "MLDeploy"),
                .product(name: "MLDeploy", package: "MLDeploy"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "FileStoreBenchmark",
            dependencies: [
                "BenchmarkMeasure",
                .product(name: "FileStoreBackend", package: "MLDeploy"),
                .product(name: "InMemoryBackend", package: "MLDeploy"),
                .product(name: "MLDeploy", package: "MLDeploy"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "ServerBenchmark",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "MLDeployServer", package: "MLDeploy"),
                .product(name: "InMemoryBackend", package: "MLDeploy"),
                .product(name: "ServiceRuntime", package: "MLDeploy"),
                .product(name: "MLDeploy", package: "MLDeploy"),
                .product(name: "MLDeployHTTP", package: "MLDeploy"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "ONNXBenchmark",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "MLDeployONNX", package: "MLDeploy"),
                .product(name: "MLDeployServer", package: "MLDeploy"),
                .product(name: "InMemoryBackend", package: "MLDeploy"),
                .product(name: "MLDeploy", package: "MLDeploy"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "MLServerBackendBenchmark",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "MLServerBackend", package: "MLDeploy"),
                .product(name: "MLDeployServer", package: "MLDeploy"),
                .product(name: "InMemoryBackend", package: "MLDeploy"),
                .product(name: "MLDeploy", package: "MLDeploy"),
                .product(name: "MLDeployHTTP", package: "MLDeploy"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The plugin the plugin benchmark drives: the memory backend served over the plugin protocol,
        // with the benchmark's Swift handler linked.
        .executableTarget(
            name: "mldeploy-backend-bench",
            dependencies: [
                .product(name: "MLDeployPlugin", package: "MLDeploy"),
                .product(name: "InMemoryBackend", package: "MLDeploy"),
                .product(name: "ServiceRuntime", package: "MLDeploy"),
                .product(name: "MLDeploy", package: "MLDeploy"),
            ]
        ),
        .executableTarget(
            name: "PluginBenchmark",
            dependencies: [
                "BenchmarkMeasure",
                .product(name: "MLDeployPlugin", package: "MLDeploy"),
                .product(name: "InMemoryBackend", package: "MLDeploy"),
                .product(name: "ServiceRuntime", package: "MLDeploy"),
                .product(name: "MLDeploy", package: "MLDeploy"),
            ]
        ),
    ]
)
