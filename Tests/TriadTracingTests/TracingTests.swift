// Tracing across the process boundary exists with the package trait `TracingSupport` only:
// `swift test --traits TracingSupport --filter TriadTracingTests`.
#if TracingSupport
import Foundation
import Synchronization
import Testing
import TriadTestSupport

/// The test program, built beside the test runner.
private var programPath: String { TestPrograms.path(of: "TriadTracingTestProgram") }

/// The program's report, as it prints it (see Tests/TriadTracingTestProgram).
private struct Report: Decodable {
    struct Span: Decodable, Equatable {
        var name: String
        var kind: String
        var traceID: String
        var spanID: String
        var parentSpanID: String?
        var failed: Bool
        var jobs: Int?
    }

    var jobNames: [String: String]
    var outer: Span
    var parentSpans: [Span]
    var seen: Span?
    var failedCode: String?
    var mapped: [Span?]
    var concurrent: [Span?]
    var workerSpans: [Span]
}

/// Runs the program to its end on a thread of its own, never on the test's, and returns its exit status and output.
private func runProgram(environment extra: [String: String] = [:]) async throws -> (status: Int32, output: Data) {
    let process = Foundation.Process()
    process.executableURL = URL(fileURLWithPath: programPath)
    process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    return await withCheckedContinuation { continuation in
        Foundation.Thread {
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            continuation.resume(returning: (process.terminationStatus, data))
        }.start()
    }
}

/// Runs the program and reads its report; the program must exit 0.
private func programReport(environment extra: [String: String] = [:]) async throws -> Report {
    let (status, output) = try await runProgram(environment: extra)
    #expect(status == 0)
    return try JSONDecoder().decode(Report.self, from: output)
}

@Suite("Tracing across the process boundary")
struct TracingTests {
    @Test("a job's span in its worker has the caller's span as its parent, in the caller's trace")
    func workerSpanJoinsTheCallersTrace() async throws {
        let report = try await programReport()
        let seeName = try #require(report.jobNames["see"])

        // The caller's side: a client span per job, named by the job's registered name, under the request's span.
        let callerSpans = report.parentSpans.filter { $0.name == seeName && $0.traceID == report.outer.traceID }
        #expect(callerSpans.allSatisfy { $0.kind == "client" && $0.parentSpanID == report.outer.spanID })

        // The worker's side: the job runs in a server span of the same name whose parent is the caller's job span.
        let seen = try #require(report.seen)
        #expect(seen.name == seeName)
        #expect(seen.kind == "server")
        #expect(seen.traceID == report.outer.traceID)
        let parent = try #require(callerSpans.first { $0.spanID == seen.parentSpanID })
        #expect(parent.jobs == nil)
        #expect(!seen.spanID.isEmpty && seen.spanID != parent.spanID)
    }

    @Test("a map's chunk is one span on each side, and every job of the chunk runs in the worker's")
    func mapChunksAreTraced() async throws {
        let report = try await programReport()
        let seeName = try #require(report.jobNames["see"])
        let chunkSpans = report.parentSpans.filter { $0.name == seeName && $0.jobs == 4 }
        #expect(chunkSpans.count == 2)
        #expect(chunkSpans.allSatisfy { $0.parentSpanID == report.outer.spanID && $0.kind == "client" })
        let mapped = report.mapped.compactMap { $0 }
        try #require(mapped.count == 8)
        // Jobs 0-3 share the first chunk's worker span and 4-7 the second's; each has its chunk's span as parent.
        #expect(Set(mapped[0..<4].map(\.spanID)).count == 1)
        #expect(Set(mapped[4..<8].map(\.spanID)).count == 1)
        #expect(mapped[0].spanID != mapped[4].spanID)
        #expect(Set(mapped.compactMap(\.parentSpanID)) == Set(chunkSpans.map(\.spanID)))
        #expect(mapped.allSatisfy { $0.traceID == report.outer.traceID })
    }

    @Test("every chunk of a map has the map's caller as its parent, whichever thread submitted it")
    func laterChunksKeepTheCallersContext() async throws {
        let report = try await programReport()
        let seeName = try #require(report.jobNames["see"])
        // Six chunks of two, one in flight at a time: five were submitted as the one before came back.
        let chunkSpans = report.parentSpans.filter { $0.name == seeName && $0.jobs == 2 }
        #expect(chunkSpans.count == 6)
        #expect(chunkSpans.allSatisfy { $0.parentSpanID == report.outer.spanID && $0.traceID == report.outer.traceID })
    }

    @Test("traced jobs submitted together keep a span each rather than sharing a batch's")
    func concurrentJobsKeepTheirOwnSpans() async throws {
        let report = try await programReport()
        let seen = report.concurrent.compactMap { $0 }
        try #require(seen.count == 6)
        #expect(Set(seen.map(\.spanID)).count == 6)
        #expect(Set(seen.compactMap(\.parentSpanID)).count == 6)
        let callerIDs = Set(report.parentSpans.map(\.spanID))
        #expect(seen.allSatisfy { callerIDs.contains($0.parentSpanID ?? "") })
    }

    @Test("a failing job's spans record the error on both sides")
    func failuresAreRecorded() async throws {
        let report = try await programReport()
        let failName = try #require(report.jobNames["fail"])
        #expect(report.failedCode == "TraceTestFailure")
        let caller = report.parentSpans.filter { $0.name == failName }
        #expect(caller.count == 1 && caller.allSatisfy(\.failed))
        let worker = report.workerSpans.filter { $0.name == failName }
        #expect(worker.count == 1 && worker.allSatisfy { $0.failed && $0.parentSpanID == caller.first?.spanID })
        // The jobs that succeeded left spans without an error in the worker.
        let succeeded = report.workerSpans.filter { $0.name == report.jobNames["see"] }
        #expect(!succeeded.isEmpty && succeeded.allSatisfy { !$0.failed })
    }

    @Test("with no tracer bootstrapped, no context travels and a job runs in no trace")
    func untracedPoolCarriesNothing() async throws {
        let report = try await programReport(environment: ["TRIAD_TEST_TRACER": "off"])
        #expect(report.seen == nil)
        #expect(report.mapped.count == 8 && report.mapped.allSatisfy { $0 == nil })
        #expect(report.concurrent.count == 6 && report.concurrent.allSatisfy { $0 == nil })
        #expect(report.parentSpans.isEmpty && report.workerSpans.isEmpty)
        #expect(report.failedCode == "TraceTestFailure")
    }
}
#endif
