import Foundation
import MLDeployTestSupport
import ServiceRuntime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Set in the child process that runs the broken-pipe check alone.
private let brokenPipeAlone = ProcessInfo.processInfo.environment["MLDEPLOY_ISOLATED_BROKEN_PIPE"] != nil

@Suite("Pipes to child processes")
struct PipeWriterTests {
    /// `SIGPIPE` is process-wide: once any test made a Python runtime (which used to be the only
    /// place it was ignored), a write to a dead reader fails quietly whatever the writer does. So
    /// the check runs in a child process of the test binary where nothing else ran — as a
    /// `mldeploy` command talking to a backend plugin, with no Python runtime, is.
    @Test("a write to a child that is gone fails with EPIPE instead of killing the process (run alone in a child process)", .enabled(if: !brokenPipeAlone), .timeLimit(.minutes(2)))
    func brokenPipeInChild() async throws {
        let child = try await runAloneInChildProcess(filter: "PipeWriterTests/brokenPipe\\(", environmentKey: "MLDEPLOY_ISOLATED_BROKEN_PIPE")
        #expect(child.status == 0 && child.output.contains("with 1 test"), "status \(child.status): \(child.output)")
    }

    @Test("a write to a pipe whose reader has closed fails with EPIPE", .enabled(if: brokenPipeAlone))
    func brokenPipe() async throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        close(ends[0])  // the child that should read has exited
        let writer = PipeWriter(ends[1], name: "test-broken-pipe")
        let failure = await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
            writer.send(Array("a frame for nobody".utf8)) { continuation.resume(returning: $0) }
        }
        #expect(failure == EPIPE)
        writer.close()
    }
}
