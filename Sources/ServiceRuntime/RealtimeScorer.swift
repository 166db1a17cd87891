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
    /// Adaptive batching rules by service (``RealtimeBatching/rules(options:)``); empty: off.
    private let batchingRules = Mutex<[String: RealtimeBatching]>([:])
    /// One batcher per version that batches, for its current model.
    private let batchers = Mutex<[ServiceReference: RealtimeBatcher]>([:])

    /// A scorer with nothing loaded.
    public init() {}

    /// Sets which services' concurrent calls are batched (``RealtimeBatching``), replacing the
    /// rules before: by `NAME/VERSION`, `NAME` or `*`. The local backends set them from their
    /// `realtime.batching` option.
    public func configureBatching(_ rules: [String: RealtimeBatching]) {
        self.batchingRules.withLock { $0 = rules }
        self.batchers.withLock { $0.removeAll() }
    }

    /// How many calls of `service` were batched, in how many scored batches (`nil` when its calls
    /// are not batched).
    public func batchingStatistics(for service: ServiceReference) -> (calls: Int, batches: Int)? {
        self.batchers.withLock { $0[service] }?.statistics
    }

    /// The batcher for `service`'s `model`, when its calls are batched: a rule applies and the
    /// model scores rows independently.
    private func batcher(for service: ServiceReference, model: ONNXModel) -> RealtimeBatcher? {
        guard model.scoresRowsIndependently, let rule = self.batchingRules.withLock({ RealtimeBatching.rule(in: $0, for: service) }) else { return nil }
        return self.batchers.withLock { batchers in
            // A model loaded anew (a redeployed version) drops the batcher of the old one.
            if let batcher = batchers[service], batcher.batching == rule { return batcher }
            let batcher = RealtimeBatcher(model: model, batching: rule)
            batchers[service] = batcher
            return batcher
        }
    }

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
        self.batchers.withLock { _ = $0.removeValue(forKey: service) }
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
        if let batcher = self.batcher(for: service.reference, model: model), frame.rowCount < batcher.batching.maximumBatchSize {
            scored = try await batcher.score(frame)
        } else if frame.rowCount < Self.inlineRowLimit {
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
        self.batchers.withLock { _ = $0.removeValue(forKey: reference) }
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
