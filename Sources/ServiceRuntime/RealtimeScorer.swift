import Foundation
import Metrics
import MLDeploy
import MLDeployONNX
import Synchronization

/// Scores realtime services natively: ONNX models loaded once per version and kept, data frame in
/// (`inputData`), data frame out (`outputData`), no Python on the request path.
///
/// A cached model is reused only while the stored bytes are the same, so a version redeployed by
/// another process sharing the store is picked up. The comparison is immediate when a backend hands
/// the same `Data` each call (the memory store keeps it; the file store maps each model blob once);
/// otherwise it compares bytes, still far cheaper than parsing.
public final class RealtimeScorer: Sendable {
    private let models = Mutex<[ServiceReference: (bytes: Data, model: ONNXModel)]>([:])

    /// A scorer with nothing loaded.
    public init() {}

    /// The model of `service`, parsed and checked (once per version and model).
    ///
    /// - Throws: ``MLDeploy/MLDeployError/Code/unsupported`` for an rx model or an unsupported
    ///   operator (naming it), ``MLDeploy/MLDeployError/Code/invalidArgument`` for bytes that are
    ///   not ONNX.
    public func model(for service: ServiceReference, bytes: Data) throws -> ONNXModel {
        if let cached = self.models.withLock({ $0[service] }), cached.bytes == bytes {
            Counter(label: "mldeploy_realtime_model_cache_total", dimensions: [("result", "hit")]).increment()
            return cached.model
        }
        Counter(label: "mldeploy_realtime_model_cache_total", dimensions: [("result", "load")]).increment()
        let model = try ONNXModel(data: bytes)
        let count = self.models.withLock { models in
            models[service] = (bytes, model)
            return models.count
        }
        Gauge(label: "mldeploy_realtime_models_cached").record(count)
        return model
    }

    /// Frames of at least this many rows are scored on a Dispatch thread instead of inline.
    ///
    /// Scoring is CPU-bound and synchronous. A one-row call takes microseconds, less than a thread
    /// hop, so it runs where it is. A large frame can take long enough to hold one of the few
    /// cooperative threads every task of the process shares (one per core), stalling unrelated
    /// requests behind it; those frames move off the cooperative pool.
    public static let inlineRowLimit = 256

    /// Scores `inputs["inputData"]` with the version's model.
    public func score(_ service: ServiceInfo, bytes: Data, inputs: [String: MLValue]) async throws -> ServiceResponse {
        guard let frame = inputs[RealtimeDefinition.inputs[0].name]?.dataFrameValue else {
            throw MLDeployError(code: .inputMismatch, message: "Realtime service '\(service.name)' takes one input, 'inputData': a data frame of the model's features.")
        }
        let model = try self.model(for: service.reference, bytes: bytes)
        let scored: DataFrame
        if frame.rowCount < Self.inlineRowLimit {
            scored = try model.score(frame)
        } else {
            scored = try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global(qos: .userInitiated).async {
                    continuation.resume(with: Result { try model.score(frame) })
                }
            }
        }
        return try ServiceResponse(service: service, outputs: [RealtimeDefinition.outputs[0].name: .dataFrame(scored)])
    }

    /// Forgets a version's model (deleted or replaced).
    public func evict(_ reference: ServiceReference) {
        let count = self.models.withLock { models in
            models.removeValue(forKey: reference)
            return models.count
        }
        Gauge(label: "mldeploy_realtime_models_cached").record(count)
    }
}

extension RealtimeDefinition {
    /// Checks that the local runtime can score `model` (an ONNX model of supported operators), so a
    /// deploy or redeploy fails at once — naming the unsupported operator or format — instead of at
    /// the first consume.
    public static func checkScorable(_ model: Data?) throws {
        guard let model else { return }
        _ = try ONNXModel(data: model)
    }
}
