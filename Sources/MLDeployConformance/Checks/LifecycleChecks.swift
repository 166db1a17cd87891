import MLDeploy

extension BackendConformance {
    static let lifecycleChecks: [ConformanceCheck] = [
        ConformanceCheck("lifecycle-order", "initializer → authentication (only when credentials are given) → operations → destructor") { h in
            let (client, recorder) = try await h.client(authenticate: true)
            _ = try await client.listServices()
            try await client.shutdown()
            let expected: [LifecycleRecorder.Event] =
                h.configuration.credentials == nil ? [.initialize, .operation, .shutdown] : [.initialize, .authenticate, .operation, .shutdown]
            try h.expectEqual(recorder.events, expected, "lifecycle with credentials \(h.configuration.credentials.map { "\($0)" } ?? "none")")

            let (plain, plainRecorder) = try await h.client(authenticate: false)
            try await plain.shutdown()
            try h.expectEqual(plainRecorder.events, [.initialize, .shutdown], "lifecycle without credentials")
        },
        ConformanceCheck("use-after-shutdown", "a shut-down client refuses every operation with client-shut-down, and shutting down twice is harmless") { h in
            let (client, recorder) = try await h.client(authenticate: true)
            try await client.shutdown()
            try await client.shutdown()
            try h.expect(client.isShutDown, "isShutDown after shutdown()")
            try await h.expectError(.clientShutDown, "list after shutdown") { try await client.listServices() }
            try await h.expectError(.clientShutDown, "get after shutdown") { try await client.getService(h.name("any")) }
            try await h.expectError(.clientShutDown, "deploy after shutdown") { try await Fixtures.add(h, client).deploy() }
            try h.expectEqual(recorder.events.filter { $0 == .shutdown }.count, 1, "destructor calls")
        },
        ConformanceCheck("shutdown-waits-for-operations", "the destructor runs only after operations already in flight have finished") { h in
            let (client, recorder) = try await h.client(authenticate: true)
            let service = try await h.deploy(Fixtures.slow(h, client))
            async let call = service.consume(["x": 3, "delay": 0.3])
            // Shut down only once the call is really in flight (a loaded machine may take a while to start it).
            let deadline = ContinuousClock.now + .seconds(10)
            while client.operationsInFlight == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            try await client.shutdown()
            let response = try await call
            try h.expectEqual(response.output("y"), .integer(6), "output of the call that was in flight")
            try h.expectEqual(recorder.events.last, .shutdown, "last lifecycle event")
        },
    ]
}
