import Hummingbird
import MLDeploy
import MLDeployONNX
import NIOCore
import OpenInference
import ServiceRuntime

extension MLDeployServer {
    /// The Open Inference Protocol (KServe V2) beside the ML Server API, on the same port and with
    /// the same tokens: every service version is a model named like the service.
    ///
    /// Health answers carry JSON bodies (`{"live": true}`, `{"ready": true}`,
    /// `{"name", "ready"}`) — kserve's client parses them, tritonclient looks at the status only.
    /// Errors are `{"error": "…"}`: 404 for an unknown model, 400 for a malformed request, inputs
    /// that do not fit, or code that raised on them. Inference takes and gives binary
    /// tensor data (`Inference-Header-Content-Length`), as tritonclient sends by default.
    func addOIPRoutes(to router: Router<ServerRequestContext>) {
        router.get("/v2/health/live") { _, _ -> Response in try Response.json(["live": true]) }
        router.get("/v2/health/ready") { _, _ -> Response in try Response.json(["ready": true]) }
        router.get("/v2") { _, _ -> Response in
            try Response.json(["name": "mldeploy", "version": .string(Self.serverVersion), "extensions": ["binary_tensor_data"]])
        }
        router.get("/v2/models/:name") { _, context -> Response in
            await self.oip { try await self.modelMetadata(try context.pathParameter("name"), version: nil) }
        }
        router.get("/v2/models/:name/versions/:version") { _, context -> Response in
            await self.oip { try await self.modelMetadata(try context.pathParameter("name"), version: try context.pathParameter("version")) }
        }
        router.get("/v2/models/:name/ready") { _, context -> Response in
            await self.oip { try await self.modelReady(try context.pathParameter("name"), version: nil) }
        }
        router.get("/v2/models/:name/versions/:version/ready") { _, context -> Response in
            await self.oip { try await self.modelReady(try context.pathParameter("name"), version: try context.pathParameter("version")) }
        }
        router.post("/v2/models/:name/infer") { request, context -> Response in
            await self.oip { try await self.infer(request, context: context, name: try context.pathParameter("name"), version: nil) }
        }
        router.post("/v2/models/:name/versions/:version/infer") { request, context -> Response in
            await self.oip { try await self.infer(request, context: context, name: try context.pathParameter("name"), version: try context.pathParameter("version")) }
        }
    }

    /// The header that says where a body's JSON ends and its binary tensor data begins.
    private var inferenceHeaderLength: HTTPFields.Element.Name { HTTPFields.Element.Name("Inference-Header-Content-Length")! }

    /// The version `/v2` reports.
    static let serverVersion = "0.1.0"

    /// Runs an OIP handler, answering its failure as the protocol does: `{"error": "…"}`.
    private func oip(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch {
            let (status, message): (HTTPResponse.Status, String)
            switch error {
            case let error as MLDeployError:
                switch error.code {
                case .notFound: status = .notFound
                case .inputMismatch, .invalidArgument, .invalidValue, .invalidName: status = .badRequest
                default: status = ServerError(error).status
                }
                message = error.message
            case let error as ServerError: (status, message) = (error.status, error.message)
            case let error as HTTPError: (status, message) = (error.status, error.body ?? "\(error.status)")
            default: (status, message) = (.internalServerError, "\(error)")
            }
            return (try? Response.json(["error": .string(message)], status: status)) ?? Response(status: status)
        }
    }

    /// `GET /v2/models/{name}[/versions/{version}]`: the version's tensors; without a version the
    /// latest's, with every version listed.
    private func modelMetadata(_ name: String, version: String?) async throws -> Response {
        let service = try await self.client.getService(name, version: version)
        let versions = version == nil ? try await self.client.listServices(name).map(\.version) : nil
        let tensors = try await self.realtimeTensors(service.info)
        let platform = switch service.info.runtime {
        case .realtime: "onnx"
        case .python: "mldeploy_python"
        default: "mldeploy_\(service.info.runtime.rawValue.lowercased())"
        }
        var metadata = OIPServiceMapping.metadata(service.info, platform: platform, tensors: tensors, versions: versions)
        if version != nil, case .object(var object) = metadata {
            object["versions"] = .array([.string(service.info.version)])
            metadata = .object(object)
        }
        return try Response.json(metadata)
    }

    /// `…/ready`: a version that exists is ready (the runtime loads on first call).
    private func modelReady(_ name: String, version: String?) async throws -> Response {
        _ = try await self.client.getService(name, version: version)
        return try Response.json(["name": .string(name), "ready": true])
    }

    /// A realtime version's model tensors, when the backend keeps its model here; `nil` for other
    /// versions (their tensors follow from their declared parameters).
    private func realtimeTensors(_ info: ServiceInfo) async throws -> (inputs: [OIPTensorMetadata], outputs: [OIPTensorMetadata])? {
        guard info.runtime == .realtime, let hosting = self.client.backend as? any LocalRuntimeHosting,
              let model = try? await hosting.realtimeModel(info.reference)
        else { return nil }
        return (model.inputSignatures.map(Self.tensorMetadata), model.outputSignatures.map(Self.tensorMetadata))
    }

    /// An ONNX input or output as OIP tensor metadata.
    static func tensorMetadata(_ signature: ONNXModel.TensorSignature) -> OIPTensorMetadata {
        OIPTensorMetadata(onnxName: signature.name, elementType: signature.elementType, shape: signature.shape, isSequenceOfMaps: signature.isSequenceOfMaps)
    }

    /// `POST …/infer`: the request's tensors as the version's inputs, its outputs as tensors.
    private func infer(_ request: Request, context: ServerRequestContext, name: String, version: String?) async throws -> Response {
        var request = request
        let buffer = try await request.body(limit: self.configuration.maximumJSONBodySize)
        let headerLength = try request.headers[self.inferenceHeaderLength].map { text in
            guard let length = Int(text) else {
                throw MLDeployError(code: .invalidArgument, message: "Inference-Header-Content-Length must be a byte count, not '\(text)'.")
            }
            return length
        }
        let inference = try OIPInferenceRequest(body: Array(buffer.readableBytesView), headerLength: headerLength)
        let service = try await self.client.getService(name, version: version)
        let info = service.info
        let response = try await self.calls.run(for: context.user ?? "") {
            if info.runtime == .realtime {
                return try await service.consume(["inputData": .dataFrame(try OIPRealtimeMapping.frame(inference.inputs))])
            }
            return try await service.consume(try OIPServiceMapping.inputs(inference.inputs, for: info))
        }
        // The service's code raised on these inputs: the request's failure, not the server's (as
        // Triton answers a model's execution error), with the traceback.
        guard response.success else {
            throw ServerError(.badRequest, "\(info.name)/\(info.version) raised on these inputs: \(response.errorMessage ?? "no message")")
        }
        var outputs: [OIPTensor]
        if info.runtime == .realtime {
            let frame = response.outputs["outputData"]?.dataFrameValue ?? DataFrame()
            outputs = OIPRealtimeMapping.outputs(frame, declared: try await self.realtimeTensors(info)?.outputs ?? [])
        } else {
            outputs = OIPServiceMapping.outputs(response.outputs, for: info)
        }
        if !inference.outputs.isEmpty {
            outputs = try inference.outputs.map { requested in
                guard let output = outputs.first(where: { $0.name == requested.name }) else {
                    throw MLDeployError(
                        code: .invalidArgument,
                        message: "Output '\(requested.name)' is not an output of \(info.name)/\(info.version); its outputs are \(outputs.map(\.name).joined(separator: ", "))."
                    )
                }
                return output
            }
        }
        let answer = OIPInferenceResponse(modelName: info.name, modelVersion: info.version, id: inference.id, outputs: outputs)
        let (body, jsonLength) = try answer.encoded(binary: { inference.wantsBinary($0) })
        var headers: HTTPFields = [.contentType: jsonLength == nil ? "application/json" : "application/octet-stream"]
        if let jsonLength { headers[self.inferenceHeaderLength] = String(jsonLength) }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
