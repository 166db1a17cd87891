// swift-tools-version:6.1
// An example package that calls a deployed service through a typed client: MLDeploy's command
// plugin fetches the service's OpenAPI document into the target, swift-openapi-generator's build
// plugin generates the client, and MLDeploy's transport carries its calls.
//
//     swift package --allow-network-connections all --allow-writing-to-package-directory \
//         mldeploy-client --service cars --version 1.0 --url http://127.0.0.1:12800 --target cars-client \
//         --username admin --password …
//     swift run cars-client http://127.0.0.1:12800 admin …
import PackageDescription

let package = Package(
    name: "TypedClientExample",
    platforms: [.macOS(.v13)],
    dependencies: [
        // MLDeploy itself, two directories up (a real package names its URL and version).
        .package(name: "MLDeploy", path: "../.."),
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
    ],
    targets: [
        .executableTarget(
            name: "cars-client",
            dependencies: [
                .product(name: "MLDeployHTTP", package: "MLDeploy"),
                .product(name: "MLDeployOpenAPITransport", package: "MLDeploy"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            path: "Sources/CarsClient",
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
    ]
)
