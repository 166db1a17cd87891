import Foundation
import Instrumentation
import ServiceContextModule
import MLDeploy

/// The end of the chain: turns a request into a ``CurlTransfer``, hands it to the loop and waits.
struct CurlTransport: Sendable {
    let loops: [CurlLoop]
    let configuration: HTTPClient.Configuration
    let proxy: HTTPClient.ResolvedProxy

    /// The loop for a request of the current task: always the same one for a task, so one caller's
    /// requests one after another find their loop awake (it spins briefly after each completion)
    /// and their connection in its cache; different tasks spread over the loops.
    func loopForCurrentTask() -> CurlLoop {
        // One loop: it is the preferred one too, so no task-local lookup on this hot path.
        guard self.loops.count > 1 else { return self.loops[0] }
        if let preferred = CurlLoop.preferred, self.loops.contains(where: { $0 === preferred }) { return preferred }
        let key = withUnsafeCurrentTask { $0?.hashValue } ?? Int(truncatingIfNeeded: pthread_self())
        return self.loops[Int(UInt(bitPattern: key) % UInt(self.loops.count))]
    }

    nonisolated(nonsending) func execute(_ request: HTTPRequest, context: HTTPRequestContext) async throws -> HTTPResponse {
        var headers = request.headers
        headers.reserveCapacity(headers.fields.count + self.configuration.defaultHeaders.fields.count + 3)
        for field in self.configuration.defaultHeaders where !headers.contains(field.name) {
            headers.add(field.name, field.value)
        }
        if !headers.contains("User-Agent") { headers["User-Agent"] = self.configuration.userAgent }
        if !headers.contains("X-Request-ID") { headers["X-Request-ID"] = context.requestID }
        // The caller's trace continues at the server: W3C `traceparent` (and whatever else the
        // bootstrapped instrument propagates). Nothing is added when no tracer was bootstrapped.
        if let trace = ServiceContext.current {
            InstrumentationSystem.instrument.inject(trace, into: &headers, using: HTTPHeadersInjector())
        }
        try headers.validate()

        let settings = TransferSettings(
            totalTimeout: self.configuration.timeout.limit(for: request.options.kind, override: request.options.timeout),
            proxy: self.proxy.proxy(for: request.url),
            noProxy: self.proxy.noProxy,
            maximumRedirects: self.configuration.redirects.maximum,
            maximumBufferedSize: self.configuration.maximumResponseSize,
            streamBufferSize: self.configuration.streamBufferSize
        )
        let transfer = CurlTransfer(
            request: request,
            headerLines: Self.lines(of: headers),
            settings: settings,
            mode: context.responseMode
        )
        let loop = self.loopForCurrentTask()
        if context.responseMode == .streamed {
            transfer.downstream = ResponseStream(
                highWater: settings.streamBufferSize,
                resumeNetwork: { loop.resume(transfer) },
                abandon: { loop.cancel(transfer, with: MLDeployError(code: .cancelled, message: "The response body was abandoned.")) }
            )
        }
        if let body = request.body, body.iterationBehavior == .single {
            let pump = UploadPump(highWater: settings.streamBufferSize) { loop.resume(transfer) }
            transfer.upload = pump
            transfer.uploadTask = Task { await pump.pump(body) }
        }

        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<HTTPResponse, any Error>) in
                transfer.continuation = continuation
                loop.start(transfer)
            }
        } onCancel: {
            loop.cancel(transfer, with: MLDeployError(code: .cancelled, message: "\(request.method) \(CurlFailure.describe(request.url)) was cancelled."))
        }
    }
}

extension CurlTransport {
    /// `Name: value` lines for libcurl, in an array sized once.
    static func lines(of headers: HTTPHeaders) -> [String] {
        var lines: [String] = []
        lines.reserveCapacity(headers.fields.count)
        for field in headers.fields {
            lines.append("\(field.name): \(field.value)")
        }
        return lines
    }
}

/// Writes propagated trace fields into request headers.
struct HTTPHeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout HTTPHeaders) {
        headers[key] = value
    }
}
