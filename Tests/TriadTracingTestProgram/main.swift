// A program for TriadTracingTests: a process pool traced by swift-distributed-tracing's in-memory tracer, in the
// parent and in every worker (the workers are this binary started again, so both bootstrap the same tracer). The
// parent runs jobs inside a span of its own, then prints one JSON object on stdout: its own spans, what the jobs
// saw of the trace in their workers, and the spans a worker finished. With TRIAD_TEST_TRACER=off in the environment
// (which the workers inherit) nothing is bootstrapped and nothing should be traced.

#if TracingSupport
import Foundation
import InMemoryTracing
import Synchronization
import Tracing
import TriadCore
import TriadProcesses

/// A span's place in a trace, as either side saw it.
struct SpanRecord: Codable, Sendable {
    var name: String
    var kind: String
    var traceID: String
    var spanID: String
    var parentSpanID: String?
    var failed: Bool
    var jobs: Int?

    init(_ span: FinishedInMemorySpan) {
        name = span.operationName
        kind = "\(span.kind)"
        traceID = span.traceID
        spanID = span.spanID
        parentSpanID = span.parentSpanID
        failed = span.status?.code == .error
        if case .int64(let count) = span.attributes.get("triad.job.count") { jobs = Int(count) }
    }

    init(_ span: InMemorySpan) {
        name = span.operationName
        kind = "\(span.kind)"
        traceID = span.traceID
        spanID = span.spanID
        parentSpanID = span.parentSpanID
        failed = false
    }
}

/// Answers the span that the worker runs it in, as the job sees it: the task's `ServiceContext` and the worker's
/// tracer. `nil` when the job runs in no trace.
struct SeeTrace: Job {
    var index: Int
    func run() async throws -> SpanRecord? {
        guard let context = ServiceContext.current,
            let tracer = InstrumentationSystem.tracer as? InMemoryTracer,
            let span = tracer.activeSpan(identifiedBy: context)
        else { return nil }
        return SpanRecord(span)
    }
}

struct TraceTestFailure: Error, Codable {}

/// Fails in its worker, so that both sides' spans record an error.
struct FailTrace: Job {
    func run() async throws -> Int { throw TraceTestFailure() }
}

/// The spans the worker that runs it has finished.
struct WorkerSpans: Job {
    func run() async throws -> [SpanRecord] {
        (InstrumentationSystem.tracer as? InMemoryTracer)?.finishedSpans.map(SpanRecord.init) ?? []
    }
}

/// Everything the test checks.
struct Report: Codable {
    var jobNames: [String: String]
    var outer: SpanRecord
    var parentSpans: [SpanRecord]
    var seen: SpanRecord?
    /// The type of the error the failing job's handle carried.
    var failedCode: String?
    var mapped: [SpanRecord?]
    var concurrent: [SpanRecord?]
    var workerSpans: [SpanRecord]
}

let traced = ProcessInfo.processInfo.environment["TRIAD_TEST_TRACER"] != "off"
if traced {
    // Identifiers that no other process makes: the parent's and each worker's spans meet in one trace.
    let prefix = "\(getpid())-"
    let counter = Counter()
    InstrumentationSystem.bootstrap(
        InMemoryTracer(
            idGenerator: .init(
                nextTraceID: { "trace-" + prefix + counter.next() },
                nextSpanID: { "span-" + prefix + counter.next() }
            )
        )
    )
}
ProcessPool.bootstrap(jobs: [SeeTrace.self, FailTrace.self, WorkerSpans.self], errors: [TraceTestFailure.self])

/// A thread-safe counter for identifiers.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> String { String(value.withLock { $0 += 1; return $0 }) }
}

let pool = ProcessPoolExecutor(workers: 1)
let outer = startSpan("request", context: .topLevel, ofKind: .server)
let (seen, failedCode, mapped, concurrent) = try await ServiceContext.withValue(outer.context) {
    let seen = try await pool.submit(SeeTrace(index: 0)).value
    var failedCode: String?
    do { _ = try await pool.submit(FailTrace()).value } catch { failedCode = "\(type(of: error))" }
    let mapped = try await pool.map((0..<8).map(SeeTrace.init), options: MapOptions(chunkSize: 4))
    // A map whose window holds one chunk of two: every chunk after the first is submitted by the thread that
    // delivered the one before, while a task of another request awaits jobs of its own (and may read them).
    let other = startSpan("other request", context: .topLevel, ofKind: .server)
    async let otherJobs: Void = ServiceContext.withValue(other.context) {
        for index in 0..<20 { _ = try await pool.submit(SeeTrace(index: index)).value }
    }
    _ = try await pool.map((0..<12).map(SeeTrace.init), options: MapOptions(maxInFlight: 2, chunkSize: 2))
    try await otherJobs
    other.end()
    // Quick jobs submitted together travel in batches when untraced; traced ones each keep their own context.
    let handles = try (0..<6).map { try pool.submit(SeeTrace(index: $0)) }
    var concurrent: [SpanRecord?] = []
    for handle in handles { concurrent.append(try await handle.value) }
    return (seen, failedCode, mapped, concurrent)
}
outer.end()
let workerSpans = try await pool.submit(WorkerSpans()).value
await pool.shutdown()

let tracer = InstrumentationSystem.tracer as? InMemoryTracer
let report = Report(
    jobNames: ["see": SeeTrace.jobName, "fail": FailTrace.jobName],
    outer: SpanRecord((outer as? InMemorySpan) ?? InMemorySpan.stub),
    parentSpans: tracer?.finishedSpans.map(SpanRecord.init) ?? [],
    seen: seen,
    failedCode: failedCode,
    mapped: mapped,
    concurrent: concurrent,
    workerSpans: workerSpans
)
FileHandle.standardOutput.write(try JSONEncoder().encode(report))

extension InMemorySpan {
    /// The record of a span the no-op tracer made: nothing to compare with.
    static var stub: InMemorySpan {
        InMemorySpan(
            operationName: "untraced",
            context: .topLevel,
            spanContext: InMemorySpanContext(traceID: "", spanID: "", parentSpanID: nil),
            kind: .internal,
            startInstant: DefaultTracerClock.now
        ) { _ in }
    }
}
#else
import Glibc

// Built without the trait: there is nothing to trace.
_ = "built without the TracingSupport trait\n".withCString { write(2, $0, strlen($0)) }
exit(3)
#endif
