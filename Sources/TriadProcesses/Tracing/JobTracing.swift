import TriadCore

#if TracingSupport
import Tracing
#endif

// Spans around the pool's jobs, with the package trait `TracingSupport`: the caller's side opens a span named by the
// job's registered name in the caller's `ServiceContext`, carries that span's context to the worker in the job's
// header, and the worker runs the job in a span whose parent is the caller's, so that one trace crosses the process
// boundary. Without the trait, or with no tracer bootstrapped (the no-op tracer records nothing), no span is made
// and no context travels: the header keeps its old size and a worker does nothing more per job.

/// The caller's side of a traced job message.
package enum JobTracing {
    /// Opens the caller's span of a message of `jobs` jobs named `jobName`, ends it when `handle` resolves
    /// (recording the error if it fails), and returns the context to carry to the worker: empty when nothing is
    /// traced.
    package static func begin<Output: Sendable>(
        jobName: String,
        jobs: Int,
        handle: JobHandle<Output>
    ) -> [String: String] {
        #if TracingSupport
        let span = startSpan(jobName, ofKind: .client)
        guard span.isRecording else {
            span.end()
            return [:]
        }
        span.attributes["triad.job.name"] = jobName
        if jobs != 1 { span.attributes["triad.job.count"] = jobs }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(span.context, into: &carrier, using: DictionaryInjector())
        handle.whenComplete { result in
            if case .failure(let error) = result {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error, message: "\(error)"))
            }
            span.end()
        }
        return carrier
        #else
        return [:]
        #endif
    }

    /// The `ServiceContext` of the task that starts a map, kept for the chunks it submits later: as the map's
    /// window moves on, the next chunk is submitted by whichever thread delivered a result (a driver, a blocking
    /// waiter, an awaiting task's assist), whose own context is none or another caller's. Submitting each chunk in
    /// the kept context gives every chunk's span the map's caller as its parent.
    package struct CallerContext: Sendable {
        #if TracingSupport
        private let context: ServiceContext?
        #endif

        /// The calling task's context, or none.
        package init() {
            #if TracingSupport
            context = ServiceContext.current
            #endif
        }

        /// Runs `body` in the kept context.
        package func run<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
            #if TracingSupport
            let result = ServiceContext.withValue(context) { Result { () throws(E) -> T in try body() } }
            return try result.get()
            #else
            return try body()
            #endif
        }
    }

    /// Runs `body` with no `ServiceContext`, as on a driver thread: for a task that delivers other callers'
    /// results (an awaiting task's assist), whose callbacks may submit jobs, whose spans must not join the task's
    /// trace.
    package static func outsideCallerContext<T>(_ body: () -> T) -> T {
        #if TracingSupport
        return ServiceContext.withValue(nil, operation: body)
        #else
        return body()
        #endif
    }
}

/// The worker's span of one job message: open while the message's jobs run, their parent the caller's span.
/// A message that carries no context gets no span.
struct WorkerSpan {
    #if TracingSupport
    private let span: (any Span)?
    #endif

    /// Opens the span of a message of `jobs` jobs named `jobName` whose header carried `context`.
    init(jobName: String, context: [String: String], jobs: Int) {
        #if TracingSupport
        guard !context.isEmpty else {
            span = nil
            return
        }
        var parent = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(context, into: &parent, using: DictionaryExtractor())
        let span = startSpan(jobName, context: parent, ofKind: .server)
        span.attributes["triad.job.name"] = jobName
        if jobs != 1 { span.attributes["triad.job.count"] = jobs }
        self.span = span
        #endif
    }

    /// Runs `body` with the span's context as the task's `ServiceContext`, so that the job's own spans and logs
    /// join the trace.
    func run<T>(_ body: () async throws -> T) async rethrows -> T {
        #if TracingSupport
        if let span { return try await ServiceContext.withValue(span.context, operation: body) }
        #endif
        return try await body()
    }

    /// Ends the span, marking it failed with `failure`'s description when the message's jobs failed.
    func end(failure: WireJobError? = nil) {
        #if TracingSupport
        guard let span else { return }
        if let failure {
            span.setStatus(SpanStatus(code: .error, message: "\(failure.typeName): \(failure.description)"))
            span.attributes["triad.error.type"] = failure.typeName
        }
        span.end()
        #endif
    }
}

#if TracingSupport
/// Writes a trace context's fields into the string dictionary a job header carries.
private struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

/// Reads a trace context's fields from the string dictionary a job header carried.
private struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }
}
#endif
