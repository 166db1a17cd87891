// swift-tools-version:6.1
//
// MLDeploy — operationalize analytic web services from Swift.
// One responsibility per module; the core knows no concrete backend.

import PackageDescription

/// Settings every target shares: Swift 6 language mode (implied by tools 6.1) plus the upcoming
/// features the style models (swift-log, Hummingbird) turn on.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "MLDeploy",
    platforms: [.macOS(.v15)],
    products: [
        // `swift package mldeploy-client …`: a deployed service's OpenAPI document into a target,
        // for swift-openapi-generator (docs/typed-clients.md).
        .plugin(name: "MLDeployClientPlugin", targets: ["MLDeployClientPlugin"]),
        .library(name: "MLDeploy", targets: ["MLDeploy"]),
        .library(name: "MLDeployHTTP", targets: ["MLDeployHTTP"]),
        .library(name: "MLDeployCrypto", targets: ["MLDeployCrypto"]),
        .library(name: "ServiceRuntime", targets: ["ServiceRuntime"]),
        .library(name: "InMemoryBackend", targets: ["InMemoryBackend"]),
        .library(name: "FileStoreBackend", targets: ["FileStoreBackend"]),
        .library(name: "PostgresBackend", targets: ["PostgresBackend"]),
        .library(name: "PostgresServerState", targets: ["PostgresServerState"]),
        .library(name: "MLDeployConformance", targets: ["MLDeployConformance"]),
        .library(name: "MLDeployServer", targets: ["MLDeployServer"]),
        .library(name: "MLServerBackend", targets: ["MLServerBackend"]),
        .library(name: "MLDeployConfiguration", targets: ["MLDeployConfiguration"]),
        .library(name: "MLDeployONNX", targets: ["MLDeployONNX"]),
        .library(name: "OpenInference", targets: ["OpenInference"]),
        .library(name: "OIPBackend", targets: ["OIPBackend"]),
        .library(name: "MLDeployLDAP", targets: ["MLDeployLDAP"]),
        .library(name: "MLDeployOpenAPITransport", targets: ["MLDeployOpenAPITransport"]),
        .library(name: "MLDeployPlugin", targets: ["MLDeployPlugin"]),
        .executable(name: "mldeploy", targets: ["mldeploy"]),
        .executable(name: "mldeploy-backend-wrapped", targets: ["mldeploy-backend-wrapped"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // Already in the graph through Hummingbird; the core's tracing middleware uses its API.
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        // Already in the graph through swift-configuration's YAML trait; read directly to find the
        // keys of a config file that no setting uses.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // PostgreSQL, for the PostgreSQL backend (swift-nio is in the graph already; its NIOPosix
        // probes the database's address before the pool's retries would).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // The Prometheus exposition of `mldeploy serve`'s GET /metrics (a swift-metrics backend).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // OpenTelemetry (OTLP/HTTP only: the gRPC exporter would add grpc-swift to every build).
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Checks identity providers' tokens (JWS signatures, JWKS) for the server's OIDC sign-in;
        // swift-crypto and swift-certificates, which it builds on, are in the graph already.
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        // The ClientTransport protocol generated clients call (MLDeployOpenAPITransport); small, and
        // swift-http-types, which it speaks, is in the graph already through Hummingbird.
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        .target(
            name: "MLDeploy",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLDAP", pkgConfig: "ldap", providers: [.apt(["libldap-dev"])]),
        // OpenBLAS for the ONNX engine's dense layers (matrix products by a model's weights).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CCurlShims", dependencies: ["CCurl"]),
        .target(
            name: "MLDeployHTTP",
            dependencies: [
                "MLDeploy", "CCurl", "CCurlShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MLDeployCrypto",
            dependencies: ["COpenSSL"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ServiceRuntime",
            dependencies: [
                "MLDeploy", "MLDeployONNX", "MLDeployCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PostgresBackend",
            dependencies: [
                "MLDeploy", "ServiceRuntime", "MLDeployCrypto", "MLDeployONNX",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PostgresServerState",
            dependencies: [
                "MLDeploy", "MLDeployServer", "PostgresBackend",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "InMemoryBackend",
            dependencies: ["MLDeploy", "ServiceRuntime", "MLDeployONNX", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FileStoreBackend",
            dependencies: ["MLDeploy", "ServiceRuntime", "MLDeployCrypto", "MLDeployONNX", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MLDeployServer",
            dependencies: [
                "MLDeploy", "MLDeployCrypto", "MLDeployHTTP", "ServiceRuntime", "MLDeployONNX", "OpenInference",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MLDeployOpenAPITransport",
            dependencies: [
                "MLDeploy", "MLDeployHTTP",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MLDeployLDAP",
            dependencies: ["MLDeploy", "MLDeployServer", "CLDAP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MLServerBackend",
            dependencies: ["MLDeploy", "MLDeployHTTP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MLDeployConfiguration",
            dependencies: [
                "MLDeploy", "MLDeployHTTP", "ServiceRuntime", "MLDeployPlugin",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MLDeployONNX",
            // OpenBLAS on Linux; on macOS the same CBLAS calls come from Accelerate.
            dependencies: ["MLDeploy", .target(name: "COpenBLAS", condition: .when(platforms: [.linux]))],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OpenInference",
            dependencies: ["MLDeploy"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OIPBackend",
            dependencies: ["MLDeploy", "MLDeployHTTP", "OpenInference", "MLDeployONNX", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MLDeployPlugin",
            dependencies: [
                "MLDeploy", "ServiceRuntime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Swift example plugin: any backend this executable links, served over the plugin
        // protocol (`wrapped:memory:`, `wrapped:file:./services`).
        .executableTarget(
            name: "mldeploy-backend-wrapped",
            dependencies: ["MLDeployPlugin", "MLDeploy", "InMemoryBackend", "FileStoreBackend", "ServiceRuntime"],
            path: "examples/swift-plugin",
            swiftSettings: swiftSettings
        ),
        // The example host application: its own routes, MLDeploy mounted under /ml, one
        // ServiceGroup (docs/embedding.md).
        .executableTarget(
            name: "mldeploy-example-host",
            dependencies: [
                "MLDeploy", "MLDeployServer", "FileStoreBackend",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "examples/embedded-host",
            swiftSettings: swiftSettings
        ),
        .plugin(
            name: "MLDeployClientPlugin",
            capability: .command(
                intent: .custom(
                    verb: "mldeploy-client",
                    description: "Fetch a deployed service's OpenAPI document into a target, for swift-openapi-generator to generate a typed client"
                ),
                permissions: [
                    .allowNetworkConnections(scope: .all(), reason: "Fetches the service's OpenAPI document from the MLDeploy server given by --url"),
                    .writeToPackageDirectory(reason: "Writes openapi.json and openapi-generator-config.yaml into the target given by --target"),
                ]
            )
        ),
        .target(
            name: "MLDeployConformance",
            dependencies: ["MLDeploy", "MLDeployONNX"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "mldeploy",
            dependencies: [
                "MLDeploy", "InMemoryBackend", "FileStoreBackend", "PostgresBackend", "PostgresServerState", "MLDeployServer", "MLDeployCrypto", "MLServerBackend", "OIPBackend", "MLDeployLDAP",
                "MLDeployConfiguration", "MLDeployHTTP", "ServiceRuntime", "MLDeployPlugin", "MLDeployConformance",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "filestore-helper",
            dependencies: ["FileStoreBackend", "MLDeploy", .product(name: "Logging", package: "swift-log")],
            path: "Tests/FileStoreHelper",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PostgresBackendTests",
            dependencies: [
                "PostgresBackend", "PostgresServerState", "MLDeployServer", "MLDeploy", "ServiceRuntime", "MLDeployConformance", "MLDeployTestSupport", "mldeploy",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FileStoreBackendTests",
            dependencies: [
                "FileStoreBackend", "MLDeploy", "ServiceRuntime", "MLDeployConformance", "filestore-helper", "mldeploy", "MLDeployTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MLDeployServerTests",
            dependencies: [
                "MLDeployServer", "MLDeploy", "InMemoryBackend", "ServiceRuntime", "mldeploy", "MLDeployONNX", "MLDeployTestSupport", "OpenInference",
                "MLDeployHTTP", "MLDeployOpenAPITransport", "mldeploy-example-host",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            exclude: ["Resources"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MLDeployTestSupport",
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MLServerBackendTests",
            dependencies: [
                "MLServerBackend", "MLDeployServer", "MLDeploy", "MLDeployHTTP", "InMemoryBackend", "FileStoreBackend", "MLDeployONNX",
                "MLDeployConformance", "ServiceRuntime", "mldeploy", "MLDeployTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Resources"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MLDeployConfigurationTests",
            dependencies: ["MLDeployConfiguration", "MLDeploy", "MLDeployHTTP", "MLDeployTestSupport", "ServiceRuntime", "InMemoryBackend"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MLDeployCLITests",
            dependencies: ["MLDeploy", "MLDeployTestSupport", "mldeploy", "MLDeployONNX"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MLDeployONNXTests",
            dependencies: ["MLDeployONNX", "MLDeploy", "MLDeployTestSupport"],
            exclude: ["Resources"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MLDeployTests",
            dependencies: ["MLDeploy"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MLDeployHTTPTests",
            dependencies: [
                "MLDeploy", "MLDeployHTTP", "MLDeployCrypto", "MLDeployTestSupport",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MLDeployCryptoTests",
            dependencies: ["MLDeployCrypto"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ServiceRuntimeTests",
            dependencies: ["MLDeploy", "ServiceRuntime", "MLDeployONNX", "MLDeployTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InMemoryBackendTests",
            dependencies: ["MLDeploy", "InMemoryBackend", "ServiceRuntime", "MLDeployConformance", "MLDeployONNX"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConformanceTests",
            dependencies: [
                "MLDeploy", "ServiceRuntime", "MLDeployConformance",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MLDeployPluginTests",
            dependencies: [
                "MLDeployPlugin", "MLDeploy", "MLDeployConformance", "MLDeployCrypto", "MLDeployTestSupport", "ServiceRuntime", "mldeploy", "mldeploy-backend-wrapped",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "QuickTourTests",
            dependencies: ["MLDeploy", "InMemoryBackend"],
            swiftSettings: swiftSettings
        ),
    ]
)
