import Foundation
import MLDeployTestSupport
import MLDeploy
import ServiceRuntime
import Testing

/// Makes a Python service description for tests.
func pythonService(
    _ name: String = "svc",
    version: String = "1",
    code: String,
    initCode: String? = nil,
    inputs: [ParameterDefinition] = [],
    outputs: [ParameterDefinition] = [],
    artifacts: [String] = [],
    namespace: [String: ServiceObject] = [:],
    revision: String = "r1"
) -> PythonService {
    PythonService(
        info: ServiceInfo(name: name, version: version, inputs: inputs, outputs: outputs, runtime: .python, artifacts: artifacts),
        code: code,
        initCode: initCode,
        namespace: namespace,
        revision: revision
    )
}

/// Runs `body` with a runtime that is always shut down.
func withPythonRuntime(_ configure: (inout PythonRuntime.Configuration) -> Void = { _ in }, _ body: (PythonRuntime) async throws -> Void) async throws {
    var configuration = PythonRuntime.Configuration()
    configuration.callTimeout = .seconds(30)
    configure(&configuration)
    let runtime = PythonRuntime(configuration: configuration)
    do {
        try await body(runtime)
    } catch {
        await runtime.shutdown()
        throw error
    }
    await runtime.shutdown()
}

/// Bytes a real Python produces: `python3 -c SCRIPT`'s stdout.
func pythonOutput(_ script: String, environment: [String: String] = [:]) throws -> Data {
    let process = Process()
    let output = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    process.standardOutput = output
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw MLDeployError.invalidArgument("python3 failed") }
    return data
}

@Suite("Python runtime with real python3 workers")
struct PythonRuntimeTests {
    static let types: [ParameterDefinition] = [
        .init(name: "i", type: .integer), .init(name: "f", type: .numeric), .init(name: "s", type: .character), .init(name: "b", type: .logical),
        .init(name: "v", type: .vector), .init(name: "m", type: .matrix), .init(name: "d", type: .dataFrame),
    ]

    @Test("binds each type as ML Server does and reads it back unchanged")
    func everyType() async throws {
        try await withPythonRuntime { runtime throws in
            let service = pythonService(
                code: """
                    import numpy as np, pandas as pd
                    kinds = ','.join([type(i).__name__, type(f).__name__, type(s).__name__, type(b).__name__,
                                      type(v).__name__, type(m).__name__, type(d).__name__])
                    d['total'] = d['x'] * 2
                    i_out, f_out, s_out, b_out, v_out, m_out, d_out = i, f, s, b, v, m, d
                    """,
                inputs: Self.types,
                outputs: Self.types.map { .init(name: $0.name + "_out", type: $0.type) } + [.init(name: "kinds", type: .character)]
            )
            let frame = try DataFrame(["x": [1.5, 2.5, nil], "label": ["a", nil, "c"], "mixed": [1, "two", true]])
            let inputs: [String: MLValue] = [
                "i": 42, "f": 2.5, "s": "héllo \"wörld\"\n", "b": true, "v": [1, 2.5, "x", true, nil],
                "m": .matrix([[1, 2], [3, 4], [5, 6]]), "d": .dataFrame(frame),
            ]
            let response = try await runtime.run(service, inputs: inputs)
            #expect(response.success, "\(response.errorMessage ?? "")")
            #expect(response.output("kinds") == "int,float,str,bool,ndarray,matrix,DataFrame")
            for name in ["i", "f", "s", "b", "v", "m"] {
                #expect(response.output(name + "_out") == inputs[name], "\(name)")
            }
            let expected = try DataFrame(["x": [1.5, 2.5, nil], "label": ["a", nil, "c"], "mixed": [1, "two", true], "total": [3.0, 5.0, nil]])
            #expect(response.output("d_out") == .dataFrame(expected))
        }
    }

    @Test("imports numpy and pandas only for services that use them")
    func lazyImports() async throws {
        try await withPythonRuntime { runtime throws in
            let scalar = pythonService(code: "import sys\nloaded = 'numpy' in sys.modules or 'pandas' in sys.modules", inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "loaded", type: .logical)])
            #expect(try await runtime.run(scalar, inputs: ["x": 1]).output("loaded") == false)
            let vector = pythonService("v", code: "import sys\nloaded = 'numpy' in sys.modules and 'pandas' not in sys.modules", inputs: [.init(name: "x", type: .vector)], outputs: [.init(name: "loaded", type: .logical)])
            #expect(try await runtime.run(vector, inputs: ["x": [1, 2]]).output("loaded") == true)
        }
    }

    @Test("unpickles objects made by Python, with dill when installed and plain pickle otherwise")
    func objects() async throws {
        let pickled = try pythonOutput("import pickle, sys; sys.stdout.buffer.write(pickle.dumps({'weights': [0.5, 2.0], 'bias': 1.0}))")
        let dilled = try pythonOutput("import dill, sys; sys.stdout.buffer.write(dill.dumps(lambda x: x * 3 + 1))")
        let code = "y = model['weights'][0] * x + model['bias'] + scale\nz = fn(x)\nfrom __main__ import __builtins__\nimport sys\npickler = 'dill' if 'dill' in sys.modules else 'pickle'"
        let namespace: [String: ServiceObject] = ["model": .pickled(pickled), "fn": .pickled(dilled), "scale": .value(10)]
        try await withPythonRuntime { runtime throws in
            let service = pythonService(
                code: code, inputs: [.init(name: "x", type: .numeric)],
                outputs: [.init(name: "y", type: .numeric), .init(name: "z", type: .numeric), .init(name: "pickler", type: .character)],
                namespace: namespace
            )
            let response = try await runtime.run(service, inputs: ["x": 4])
            #expect(response.output("y") == .numeric(13))
            #expect(response.output("z") == .numeric(13))
            #expect(response.output("pickler") == "dill")
        }
        // Without dill the worker falls back to pickle: a shadowing package makes `import dill` fail.
        let shadow = FileManager.default.temporaryDirectory.appendingPathComponent("nodill-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: shadow.appendingPathComponent("dill"), withIntermediateDirectories: true)
        try Data("raise ImportError('dill is hidden for this test')\n".utf8).write(to: shadow.appendingPathComponent("dill/__init__.py"))
        defer { try? FileManager.default.removeItem(at: shadow) }
        try await withPythonRuntime({ $0.environment["PYTHONPATH"] = shadow.path }) { runtime throws in
            let service = pythonService(
                code: "import sys\ny = model['bias'] + x\npickler = 'dill' if 'dill' in sys.modules and hasattr(sys.modules['dill'], 'dumps') else 'pickle'",
                inputs: [.init(name: "x", type: .numeric)],
                outputs: [.init(name: "y", type: .numeric), .init(name: "pickler", type: .character)],
                namespace: ["model": .pickled(pickled)]
            )
            let response = try await runtime.run(service, inputs: ["x": 1])
            #expect(response.output("y") == .numeric(2))
            #expect(response.output("pickler") == "pickle")
        }
    }

    @Test("runs init code once per worker, and each call in a fresh namespace and directory")
    func initOnce() async throws {
        try await withPythonRuntime({ $0.maximumWorkersPerVersion = 1 }) { runtime throws in
            let service = pythonService(
                code: """
                    state['calls'] += 1
                    leaked = 'marker' in dir()
                    marker = 1
                    calls, inits, pid = state['calls'], state['inits'], os.getpid()
                    leftovers = len(os.listdir('.'))
                    open('scratch-%d.txt' % calls, 'w').write('x')
                    """,
                initCode: "import os\nstate = {'inits': 0, 'calls': 0}\nstate['inits'] += 1\nprint('init ran')",
                inputs: [.init(name: "x", type: .integer)],
                outputs: [.init(name: "calls", type: .integer), .init(name: "inits", type: .integer), .init(name: "pid", type: .integer),
                          .init(name: "leftovers", type: .integer), .init(name: "leaked", type: .logical)]
            )
            var pids = Set<MLValue>()
            for call in 1...5 {
                let response = try await runtime.run(service, inputs: ["x": 1])
                #expect(response.output("calls") == .integer(call))
                #expect(response.output("inits") == 1)
                #expect(response.output("leaked") == false, "variables must not leak between calls")
                #expect(!response.consoleOutput.contains("init ran"), "init output is not a call's output")
                #expect(response.output("leftovers") == 0, "each call starts in an empty working directory")
                pids.insert(response.output("pid")!)
            }
            #expect(pids.count == 1)
        }
    }

    @Test("returns declared artifacts only, never through a symbolic link")
    func artifacts() async throws {
        try await withPythonRuntime { runtime throws in
            let service = pythonService(
                code: """
                    import os
                    open('answer.csv', 'w').write('a,b\\n1,2\\n')
                    open('undeclared.txt', 'w').write('no')
                    os.symlink('/etc/hostname', 'secret.txt')
                    """,
                inputs: [.init(name: "x", type: .integer)],
                artifacts: ["answer.csv", "secret.txt", "missing.bin"]
            )
            let response = try await runtime.run(service, inputs: ["x": 1])
            #expect(response.artifactNames == ["answer.csv"])
            #expect(try response.artifact("answer.csv", encoding: .utf8) == "a,b\n1,2\n")
        }
    }

    @Test("an artifact over the artifact limit fails the call (response-too-large) without being read")
    func artifactLimit() async throws {
        try await withPythonRuntime({ $0.maximumArtifactSize = 1 << 20 }) { runtime throws in
            let service = pythonService(
                code: "open('big.bin', 'wb').write(bytes(x))", inputs: [.init(name: "x", type: .integer)], artifacts: ["big.bin"]
            )
            #expect(try await runtime.run(service, inputs: ["x": .integer(1 << 20)]).artifactNames == ["big.bin"], "at the limit: returned")
            await #expect { try await runtime.run(service, inputs: ["x": .integer((1 << 20) + 1)]) } throws: { error in
                (error as? MLDeployError)?.code == .responseTooLarge && "\(error)".contains("runtime.artifact_limit_mb")
            }
        }
    }

    @Test("captures print, stderr and C-level output as console output, each call's its own")
    func console() async throws {
        // One worker, so every call after the first runs where the one before did.
        try await withPythonRuntime({ $0.maximumWorkersPerVersion = 1 }) { runtime throws in
            let service = pythonService(
                code: "import os, sys\nif x:\n    print('from print', x)\n    sys.stderr.write('from stderr\\n')\n    sys.stdout.flush()\n    os.write(1, b'from fd 1\\n')",
                inputs: [.init(name: "x", type: .integer)]
            )
            let console = try await runtime.run(service, inputs: ["x": 1]).consoleOutput
            for line in ["from print 1", "from stderr", "from fd 1"] {
                #expect(console.contains(line), "console was \(console.debugDescription)")
            }
            // The worker keeps its capture file open across calls and empties it for each one.
            let second = try await runtime.run(service, inputs: ["x": 2]).consoleOutput
            #expect(second.contains("from print 2") && !second.contains("from print 1"), "console was \(second.debugDescription)")
            #expect(second.components(separatedBy: "from fd 1").count == 2, "one call's output once: \(second.debugDescription)")
            #expect(try await runtime.run(service, inputs: ["x": 0]).consoleOutput == "", "a call that prints nothing has no console output")
            #expect(try await runtime.run(service, inputs: ["x": 3]).consoleOutput.hasPrefix("from print 3"), "output starts at the file's start")
        }
    }

    @Test("service code that closes the console's descriptor, and reuses its number, loses neither its output nor its file")
    func consoleDescriptorClosed() async throws {
        try await withPythonRuntime({ $0.maximumWorkersPerVersion = 1 }) { runtime throws in
            // Call 1 closes the worker's capture descriptor and opens a file of its own, which gets
            // the lowest free number: the one just closed. The worker must notice and reopen the
            // capture file, not read or empty the service's file as if it were the console.
            let code = """
                import os, sys
                if x == 1:
                    closed = None
                    for fd in range(3, 256):
                        try:
                            if os.readlink('/proc/self/fd/%d' % fd).endswith('console'):
                                os.close(fd)
                                closed = fd
                                break
                        except OSError:
                            pass
                    mine = os.open('/tmp/mldeploy-test-mine', os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
                    os.write(mine, b'keep me')
                    sys.mldeploy_test_mine = mine
                    print('closed', closed is not None, 'reused', mine == closed)
                else:
                    print('mine holds', open('/tmp/mldeploy-test-mine').read())
                """
            let service = pythonService(code: code, inputs: [.init(name: "x", type: .integer)])
            let first = try await runtime.run(service, inputs: ["x": 1]).consoleOutput
            #expect(first == "closed True reused True\n", "console was \(first.debugDescription)")
            let second = try await runtime.run(service, inputs: ["x": 2]).consoleOutput
            #expect(second == "mine holds keep me\n", "console was \(second.debugDescription)")
        }
    }

    @Test("an exception is a failed response with the traceback, keeping the console output")
    func exceptions() async throws {
        try await withPythonRuntime { runtime throws in
            let service = pythonService(
                code: "print('working')\ndef divide(a, b):\n    return a / b\nresult = divide(x, 0)",
                inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "result", type: .numeric)]
            )
            let response = try await runtime.run(service, inputs: ["x": 1])
            #expect(!response.success)
            let message = try #require(response.errorMessage)
            #expect(message.contains("ZeroDivisionError"))
            #expect(message.contains("return a / b"), "the traceback shows the service's own source lines")
            #expect(!message.contains("mldeploy_worker.py"), "the worker's frames are not shown")
            #expect(response.consoleOutput.contains("working"))

            let exiting = pythonService("exit", code: "import sys\nsys.exit(3)", inputs: [.init(name: "x", type: .integer)])
            let exited = try await runtime.run(exiting, inputs: ["x": 1])
            #expect(!exited.success && exited.errorMessage?.contains("SystemExit: 3") == true)
            #expect(try await runtime.run(service, inputs: ["x": 1]).errorMessage != nil, "the worker survived")
        }
    }

    @Test("init code that raises fails every call clearly, and a fixed version recovers")
    func initFailure() async throws {
        try await withPythonRuntime { runtime throws in
            let broken = pythonService(code: "y = 1", initCode: "import not_a_module", inputs: [.init(name: "x", type: .integer)])
            let response = try await runtime.run(broken, inputs: ["x": 1])
            #expect(!response.success)
            #expect(response.errorMessage?.contains("ModuleNotFoundError") == true)
            #expect(response.errorMessage?.contains("init code") == true)
            await #expect { try await runtime.warmUp(broken) } throws: { ($0 as? MLDeployError)?.code == .serviceLoadFailed }
        }
    }

    @Test("an output that cannot be its declared type is an output-mismatch error")
    func outputMismatch() async throws {
        try await withPythonRuntime { runtime throws in
            for (type, code) in [(ParameterType.integer, "n = 'text'"), (.character, "n = 5"), (.dataFrame, "n = 5"), (.integer, "n = 2.5")] {
                let service = pythonService("o\(type)".replacingOccurrences(of: ".", with: ""), code: code, inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "n", type: type)])
                await #expect { try await runtime.run(service, inputs: ["x": 1]) } throws: {
                    ($0 as? MLDeployError)?.code == .outputMismatch && "\($0)".contains("'n'")
                }
            }
        }
    }

    @Test("a call over the timeout kills its worker; the next call gets a new one")
    func timeout() async throws {
        // The limit also covers loading a new worker, so it leaves room for a busy machine's python3
        // start-up (a whole parallel test run); the sleeping call is far over it either way.
        try await withPythonRuntime({ $0.callTimeout = .seconds(2) }) { runtime throws in
            let service = pythonService(
                code: "import time\nif x > 0:\n    time.sleep(x)\nimport sys\nif not hasattr(sys, 'worker_token'):\n    import uuid\n    sys.worker_token = uuid.uuid4().int >> 80\npid = sys.worker_token",
                inputs: [.init(name: "x", type: .numeric)], outputs: [.init(name: "pid", type: .integer)]
            )
            let first = try await runtime.run(service, inputs: ["x": 0]).output("pid")
            let clock = ContinuousClock()
            let started = clock.now
            await #expect { try await runtime.run(service, inputs: ["x": 120]) } throws: { ($0 as? MLDeployError)?.code == .timeout }
            // Far below the call's 120 s, with room for a loaded machine (a whole parallel test run).
            #expect(clock.now - started < .seconds(30))
            let after = try await runtime.run(service, inputs: ["x": 0]).output("pid")
            #expect(after != nil && after != first)
        }
    }

    @Test("a worker that dies (os._exit, a segfault) fails its call with the reason and is replaced", arguments: [
        ("import os\nos._exit(7)", "exit status 7"),
        ("import ctypes\nctypes.string_at(0)", "SIGSEGV"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "SIGKILL"),
    ])
    func crashes(code: String, reason: String) async throws {
        try await withPythonRuntime { runtime throws in
            let crashing = pythonService("crash", code: "if x == 1:\n" + code.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\ny = x", inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)])
            await #expect { try await runtime.run(crashing, inputs: ["x": 1]) } throws: { error in
                (error as? MLDeployError)?.code == .workerCrashed && "\(error)".contains(reason)
            }
            #expect(try await runtime.run(crashing, inputs: ["x": 2]).output("y") == 2)
        }
    }

    @Test("the memory limit turns a huge allocation into a MemoryError, and the worker lives on")
    func memoryLimit() async throws {
        try await withPythonRuntime({ $0.memoryLimit = 512 << 20 }) { runtime throws in
            let service = pythonService("hog", code: "if x:\n    hog = bytearray(2 * 1024 * 1024 * 1024)\ny = x", inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)])
            let response = try await runtime.run(service, inputs: ["x": 1])
            #expect(!response.success && response.errorMessage?.contains("MemoryError") == true)
            #expect(try await runtime.run(service, inputs: ["x": 0]).output("y") == 0)
        }
    }

    @Test("8 concurrent calls share 2 workers, queueing in order, all succeeding")
    func concurrency() async throws {
        // No queue bound: this test is about order and sharing, and a machine busy with the rest of
        // a parallel test run may take long to start two sandboxed workers.
        try await withPythonRuntime({ $0.maximumWorkersPerVersion = 2; $0.maximumQueueWait = nil }) { runtime throws in
            let service = pythonService(
                code: "import time\ntime.sleep(0.2)\nimport sys\nif not hasattr(sys, 'worker_token'):\n    import uuid\n    sys.worker_token = uuid.uuid4().int >> 80\npid = sys.worker_token\ny = x",
                inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "pid", type: .integer), .init(name: "y", type: .integer)]
            )
            let clock = ContinuousClock()
            let started = clock.now
            let results = try await withThrowingTaskGroup(of: (Int, MLValue?, MLValue?).self) { group in
                for index in 0..<8 {
                    group.addTask {
                        let response = try await runtime.run(service, inputs: ["x": .integer(index)])
                        return (index, response.output("y"), response.output("pid"))
                    }
                }
                var results: [(Int, MLValue?, MLValue?)] = []
                for try await result in group { results.append(result) }
                return results
            }
            #expect(results.allSatisfy { $0.1 == .integer($0.0) })
            #expect(Set(results.compactMap(\.2)).count == 2)
            #expect(clock.now - started >= .milliseconds(800), "8 calls of 0.2 s on 2 workers take at least 0.8 s")
            let status = await runtime.status()
            #expect(status.workers == 2 && status.versions.first?.busy == 0)
        }
    }

    @Test("many services share a global worker limit, evicting the least recently used")
    func eviction() async throws {
        try await withPythonRuntime({
            $0.maximumWorkers = 2
            $0.maximumWorkersPerVersion = 1
        }) { runtime throws in
            for round in 0..<2 {
                for index in 0..<5 {
                    let service = pythonService("s\(index)", code: "y = x + \(index)", inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)])
                    #expect(try await runtime.run(service, inputs: ["x": .integer(round)]).output("y") == .integer(round + index))
                    #expect(await runtime.status().workers <= 2)
                }
            }
            // Concurrent calls to more services than the limit all complete.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        let service = pythonService("c\(index)", code: "import time\ntime.sleep(0.05)\ny = x", inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)])
                        _ = try await runtime.run(service, inputs: ["x": 1])
                    }
                }
                try await group.waitForAll()
            }
            #expect(await runtime.status().workers <= 2)
        }
    }

    @Test("idle workers are stopped after the idle timeout")
    func idleEviction() async throws {
        try await withPythonRuntime({ $0.idleTimeout = .milliseconds(300) }) { runtime throws in
            let service = pythonService(code: "y = x", inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)])
            _ = try await runtime.run(service, inputs: ["x": 1])
            #expect(await runtime.status().workers == 1)
            try await Task.sleep(for: .milliseconds(900))
            #expect(await runtime.status().workers == 0)
            _ = try await runtime.run(service, inputs: ["x": 1])
        }
    }

    @Test("a new revision replaces the old one's workers; warm-up starts them ahead of time")
    func revisions() async throws {
        try await withPythonRuntime({ $0.minimumWorkersPerVersion = 1 }) { runtime throws in
            let first = pythonService(code: "y = factor * x", inputs: [.init(name: "x", type: .integer)], outputs: [.init(name: "y", type: .integer)], namespace: ["factor": .value(2)], revision: "a")
            try await runtime.warmUp(first)
            #expect(await runtime.status().versions.first?.idle == 1)
            #expect(try await runtime.run(first, inputs: ["x": 5]).output("y") == 10)
            var second = first
            second.namespace = ["factor": .value(3)]
            second.revision = "b"
            #expect(try await runtime.run(second, inputs: ["x": 5]).output("y") == 15)
            #expect(await runtime.status().workers == 1)
            await runtime.evict(first.info.reference)
            #expect(await runtime.status().workers == 0)
        }
    }

    @Test("a missing interpreter is a clear python-runtime-unavailable error")
    func missingInterpreter() async throws {
        try await withPythonRuntime({ $0.interpreter = "/nonexistent/python3" }) { runtime throws in
            await #expect { try await runtime.run(pythonService(code: "y = 1"), inputs: [:]) } throws: { error in
                (error as? MLDeployError)?.code == .pythonRuntimeUnavailable && "\(error)".contains("MLDEPLOY_PYTHON")
            }
        }
    }

    @Test("reads its configuration from backend options, naming a bad key")
    func options() throws {
        let configuration = try PythonRuntime.Configuration(options: [
            "python.interpreter": "/usr/bin/python3", "python.maxWorkers": "4", "python.callTimeoutSeconds": "0", "python.memoryLimitMB": "256", "python.warmUp": "true",
        ])
        #expect(configuration.interpreter == "/usr/bin/python3" && configuration.maximumWorkersPerVersion == 4)
        #expect(configuration.callTimeout == nil && configuration.memoryLimit == 256 << 20 && configuration.warmUpOnDeploy)
        #expect { try PythonRuntime.Configuration(options: ["python.maxWorkers": "0"]) } throws: { "\($0)".contains("python.maxWorkers") }
        #expect { try PythonRuntime.Configuration(options: ["python.warmUp": "yes"]) } throws: { "\($0)".contains("python.warmUp") }
        #expect { try PythonRuntime.Configuration(options: ["python.minWorkers": "3", "python.maxWorkers": "2"]) } throws: { "\($0)".contains("exceeds") }
    }
}
