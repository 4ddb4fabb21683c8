import TriadCore

/// Submitting to any executor that sends the pool's job messages (the process pool, the MPI cluster): building a
/// single job's work with its traced handle, and queuing a work with its handle's cancellation and counting.
/// The executor supplies how to queue a work and how to cancel one: itself as the `PoolJobOwner` of a single job,
/// a closure for a map's chunk.
package enum PoolSubmission {
    /// The work and the handle of one job: encoded once, with the caller's trace context, and a sink that resolves
    /// the handle and is its controller, through which cancelling the handle reaches `owner`. `template` is what
    /// the executor keeps for jobs of `J`, if it keeps it. Queue the work with ``enqueue(single:handle:queue:)``.
    ///
    /// - Throws: `ExecutorError.Code.codingFailed` when the job cannot be encoded or is above `maxFrameSize`; the
    ///   handle, which nobody sees, then fails too, so that its span, if traced, ends with the error.
    package static func single<J: Job>(
        _ job: J,
        named name: String,
        sequence: UInt64,
        maxFrameSize: Int,
        timeout: Duration?,
        registry: JobRegistry,
        metrics: PoolMetrics?,
        owner: any PoolJobOwner,
        template: SingleJobTemplate? = nil
    ) throws(ExecutorError) -> (work: PoolWork, handle: JobHandle<J.Output>) {
        let handle: JobHandle<J.Output>
        if let template { handle = template.makeHandle(of: J.self) } else { handle = JobHandle(jobName: name) }
        let encoded: EncodedJobMessage
        do throws(ExecutorError) {
            encoded = try JobMessages.single(
                job, named: name, sequence: sequence, maxFrameSize: maxFrameSize,
                context: JobTracing.begin(jobName: name, jobs: 1, handle: handle), template: template
            )
        } catch {
            _ = handle.fail(error)
            throw error
        }
        // Type-erased at once: passed on as its concrete type, the sink's class metadata would be looked up again.
        let sink: any PoolJobSink & JobController
        if let template {
            sink = template.makeSink(
                of: J.self, handle: handle, registry: registry, metrics: metrics, owner: owner, root: sequence
            )
        } else {
            sink = SingleJobSink<J>(handle: handle, registry: registry, metrics: metrics, owner: owner, root: sequence)
        }
        handle.setController(sink)
        return (PoolWork(sequence: sequence, jobName: name, encoded: encoded, timeout: timeout, sink: sink), handle)
    }

    /// Queues a single job's `work` (from
    /// ``single(_:named:sequence:maxFrameSize:timeout:registry:metrics:owner:template:)``, whose handle's controller
    /// already cancels it) with `queue`.
    ///
    /// - Throws: What `queue` throws (`shutDown`, say); the handle, which nobody sees, then fails too.
    package static func enqueue<Output: Sendable>(
        single work: consuming PoolWork,
        handle: JobHandle<Output>,
        queue: (consuming PoolWork) throws(ExecutorError) -> Void
    ) throws(ExecutorError) {
        do throws(ExecutorError) {
            // Moved, not copied: a copy retains every reference the work holds, and a job's work is handed on
            // several times before it reaches a worker.
            try queue(consume work)
        } catch {
            _ = handle.fail(error)
            throw error
        }
    }

    /// Queues `work` (a map's chunk) with `queue`, letting cancelling `handle` drop the work through `cancel`
    /// (given the work's root) and count its jobs as cancelled.
    ///
    /// - Throws: What `queue` throws (`shutDown`, say); the handle, which nobody sees, then fails too.
    package static func enqueue<Output: Sendable>(
        _ work: consuming PoolWork,
        handle: JobHandle<Output>,
        metrics: PoolMetrics?,
        cancel: @escaping @Sendable (_ root: UInt64) -> Void,
        queue: (consuming PoolWork) throws(ExecutorError) -> Void
    ) throws(ExecutorError) {
        let root = work.root
        // A cancelled handle is resolved by its cancel, so its sink never counts it: count its jobs here.
        let (jobName, jobs) = (work.jobName, work.itemCount)
        handle.setCancelHandler { _ in
            metrics?.failed(jobName, code: ExecutorError.Code.cancelled.rawValue, count: jobs)
            cancel(root)
        }
        try enqueue(single: consume work, handle: handle, queue: queue)
    }
}

/// What every single job of one type shares, worked out once per type by the executor that keeps it: the job's
/// name, its header with the sequence number left to stamp (see `JobHeader.singleTemplate(jobName:)`), its path
/// through the codec, and the classes of its handle and sink.
///
/// The classes are kept because code generic over the job, as `submit` is, asks the runtime for the metadata of
/// `JobHandle<J.Output>` and `SingleJobSink<J>` each time it makes one: hashed look-ups, for every job. Made from a
/// metatype kept here, a handle or a sink costs its allocation alone. A class, so that handing a template on
/// costs one retain, not one for each of its fields.
package final class SingleJobTemplate: @unchecked Sendable {
    // Sendable by contract: every field is immutable, and metatypes are.
    package let jobName: String
    package let header: [UInt8]
    package let encodingPlan: WireEncodingPlan
    /// A buffer that a small job's encoding borrows (see `JobMessages.single`), one thread at a time.
    private let scratch = SpareSlot<JobBytesScratch>()
    /// The job type, `JobHandle<J.Output>` and `SingleJobSink<J>`, for the one `J` the template was made for.
    let jobType: Any.Type
    private let handleClass: AnyObject.Type
    private let sinkClass: AnyObject.Type

    /// The template of jobs of type `J`, named `jobName`.
    package init<J: Job>(of type: J.Type, jobName: String) {
        self.jobName = jobName
        header = JobHeader.singleTemplate(jobName: jobName)
        encodingPlan = WireEncodingPlan(for: J.self)
        jobType = J.self
        handleClass = JobHandle<J.Output>.self
        sinkClass = SingleJobSink<J>.self
    }

    /// The spare buffer for encoding a job, or a new one while another thread has it; hand it back with
    /// ``keepScratch(_:)``.
    package func takeScratch() -> JobBytesScratch {
        scratch.take() ?? JobBytesScratch()
    }

    /// Keeps `buffer` as the spare, unless another thread kept one first.
    package func keepScratch(_ buffer: JobBytesScratch) {
        _ = scratch.keep(buffer)
    }

    /// A pending handle for a job of `J`.
    ///
    /// - Precondition: `J` is the type the template was made for (checked in debug builds).
    package func makeHandle<J: Job>(of type: J.Type) -> JobHandle<J.Output> {
        assert(jobType == J.self, "the template of \(jobType) made a handle for \(J.self)")
        // The class kept is exactly `JobHandle<J.Output>`, so the cast only restores its static type.
        return unsafeBitCast(handleClass, to: JobHandle<J.Output>.Type.self).init(jobName: jobName)
    }

    /// The sink of a job of `J`, with the arguments of `SingleJobSink.init`, type-erased.
    ///
    /// - Precondition: `J` is the type the template was made for (checked in debug builds).
    package func makeSink<J: Job>(
        of type: J.Type,
        handle: JobHandle<J.Output>,
        registry: JobRegistry,
        metrics: PoolMetrics?,
        owner: any PoolJobOwner,
        root: UInt64
    ) -> any PoolJobSink & JobController {
        assert(jobType == J.self, "the template of \(jobType) made a sink for \(J.self)")
        return unsafeBitCast(sinkClass, to: SingleJobSink<J>.Type.self).init(
            handle: handle, registry: registry, metrics: metrics, owner: owner, root: root
        )
    }
}

/// A buffer in which a job is encoded before its bytes are kept in its work (see `SingleJobTemplate.takeScratch()`).
package final class JobBytesScratch {
    package var bytes: [UInt8] = []
}
