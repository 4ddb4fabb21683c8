import TriadCore

/// Submitting to any executor that sends the pool's job messages (the process pool, the MPI cluster): building a
/// single job's work with its traced handle, and queuing a work with its handle's cancellation and counting.
/// The executor supplies where to queue a work and how to cancel one: its storage, a ``PoolWorkQueue``.
package enum PoolSubmission {
    /// The work and the handle of one job of `J`, whose executor keeps no template for it (see
    /// ``single(_:template:sequence:maxFrameSize:timeout:)``): encoded once, with the caller's trace context, and
    /// given a sink of its own, which is its handle's controller, through which cancelling the handle reaches
    /// `owner`. Queue the work with ``enqueue(single:handle:into:)``.
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
        owner: any PoolJobOwner
    ) throws(ExecutorError) -> (work: PoolWork, handle: JobHandle<J.Output>) {
        let sink = SingleJobSink<J>(jobName: name, registry: registry, metrics: metrics, owner: owner)
        let handle = JobHandle<J.Output>(jobName: name, controller: sink, tag: sequence)
        let encoded = try encode(job, named: name, sequence: sequence, maxFrameSize: maxFrameSize, handle: handle)
        let work = PoolWork(
            sequence: sequence, jobName: name, encoded: encoded, timeout: timeout, sink: sink, handle: handle
        )
        return (work, handle)
    }

    /// The work and the handle of one job of `J`, with what its executor keeps for the type: the `template`, whose
    /// sink the type's jobs share and which is their handles' controller. Encoded once, with the caller's trace
    /// context; queue the work with ``enqueue(single:handle:into:)``.
    ///
    /// - Throws: `ExecutorError.Code.codingFailed` when the job cannot be encoded or is above `maxFrameSize`; the
    ///   handle, which nobody sees, then fails too, so that its span, if traced, ends with the error.
    package static func single<J: Job>(
        _ job: J,
        template: SingleJobTemplate,
        sequence: UInt64,
        maxFrameSize: Int,
        timeout: Duration?
    ) throws(ExecutorError) -> (work: PoolWork, handle: JobHandle<J.Output>) {
        let handle = template.makeHandle(of: J.self, tag: sequence)
        let encoded = try encode(
            job, named: template.jobName, sequence: sequence, maxFrameSize: maxFrameSize, handle: handle,
            template: template
        )
        let work = PoolWork(
            sequence: sequence, jobName: template.jobName, encoded: encoded, timeout: timeout, sink: template.sink,
            handle: handle
        )
        return (work, handle)
    }

    /// Encodes a single job for `handle`, with the caller's trace context; fails the handle with the error if it
    /// cannot.
    private static func encode<J: Job, Output>(
        _ job: J,
        named name: String,
        sequence: UInt64,
        maxFrameSize: Int,
        handle: JobHandle<Output>,
        template: SingleJobTemplate? = nil
    ) throws(ExecutorError) -> EncodedJobMessage {
        do throws(ExecutorError) {
            return try JobMessages.single(
                job, named: name, sequence: sequence, maxFrameSize: maxFrameSize,
                context: JobTracing.begin(jobName: name, jobs: 1, handle: handle), template: template
            )
        } catch {
            _ = handle.fail(error)
            throw error
        }
    }

    /// Queues a single job's `work` (from one of the `single` functions, whose handle's controller already cancels
    /// it) into `queue`.
    ///
    /// - Throws: What `queue` throws (`shutDown`, say); the handle, which nobody sees, then fails too.
    package static func enqueue<Output: Sendable>(
        single work: consuming PoolWork,
        handle: JobHandle<Output>,
        into queue: some PoolWorkQueue
    ) throws(ExecutorError) {
        do throws(ExecutorError) {
            // Moved, not copied: a copy retains every reference the work holds, and a job's work is handed on
            // several times before it reaches a worker. (The queue is an object, not a closure: the thunk that
            // made its method a closure copied the work, per job.)
            try queue.enqueue(consume work)
        } catch {
            _ = handle.fail(error)
            throw error
        }
    }

    /// Queues `work` (a map's chunk) into `queue`, letting cancelling `handle` drop the work through the queue
    /// (given the work's root) and count its jobs as cancelled.
    ///
    /// A strong capture of the queue: the handler goes when the handle resolves, and every handle resolves, at the
    /// latest when the executor is shut down or dropped. (A single job's sink is its handle's controller, which
    /// holds the queue in the same way.)
    ///
    /// - Throws: What `queue` throws (`shutDown`, say); the handle, which nobody sees, then fails too.
    package static func enqueue<Output: Sendable>(
        _ work: consuming PoolWork,
        handle: JobHandle<Output>,
        metrics: PoolMetrics?,
        into queue: some PoolWorkQueue
    ) throws(ExecutorError) {
        let root = work.root
        // A cancelled handle is resolved by its cancel, so its sink never counts it: count its jobs here.
        let (jobName, jobs) = (work.jobName, work.itemCount)
        handle.setCancelHandler { _ in
            metrics?.failed(jobName, code: ExecutorError.Code.cancelled.rawValue, count: jobs)
            queue.cancel(root: root)
        }
        try enqueue(single: consume work, handle: handle, into: queue)
    }
}

/// Where an executor queues its works, and cancels them: its storage.
package protocol PoolWorkQueue: PoolJobOwner {
    /// Queues `work`, moving it.
    ///
    /// - Throws: `ExecutorError.Code.shutDown` once the executor no longer takes work.
    func enqueue(_ work: consuming PoolWork) throws(ExecutorError)
}

/// What every single job of one type shares, worked out once per type by the executor that keeps it: the job's
/// name, its header with the sequence number left to stamp (see `JobHeader.singleTemplate(jobName:)`), its path
/// through the codec, a buffer to encode it in, the class of its handle, and the sink that all its jobs share.
///
/// The class is kept because code generic over the job, as `submit` is, asks the runtime for the metadata of
/// `JobHandle<J.Output>` each time it makes one: a hashed look-up, for every job. Made from a metatype kept here,
/// a handle costs its allocation alone. A class, so that handing a template on costs one retain, not one for each
/// of its fields.
package final class SingleJobTemplate: @unchecked Sendable {
    // Sendable by contract: every field is immutable, metatypes are, and the scratch slot hands its buffer to one
    // thread at a time.
    package let jobName: String
    package let header: [UInt8]
    package let encodingPlan: WireEncodingPlan
    /// The sink of every job of the type (a `SingleJobSink<J>`), which is also their handles' controller.
    package let sink: any PoolJobSink
    private let controller: any JobController
    /// A buffer that a small job's encoding borrows (see `JobMessages.single`), one thread at a time.
    private let scratch = SpareSlot<JobBytesScratch>()
    /// The job type and `JobHandle<J.Output>`, for the one `J` the template was made for.
    let jobType: Any.Type
    private let handleClass: AnyObject.Type

    /// The template of jobs of type `J`, named `jobName`, whose sink decodes errors with `registry`, counts
    /// outcomes in `metrics`, and cancels jobs through `owner`.
    package init<J: Job>(
        of type: J.Type,
        jobName: String,
        registry: JobRegistry,
        metrics: PoolMetrics? = nil,
        owner: (any PoolJobOwner)? = nil
    ) {
        self.jobName = jobName
        header = JobHeader.singleTemplate(jobName: jobName)
        encodingPlan = WireEncodingPlan(for: J.self)
        let sink = SingleJobSink<J>(jobName: jobName, registry: registry, metrics: metrics, owner: owner)
        self.sink = sink
        controller = sink
        jobType = J.self
        handleClass = JobHandle<J.Output>.self
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

    /// A pending handle for a job of `J` whose sequence number is `tag`, controlled by the type's sink.
    ///
    /// - Precondition: `J` is the type the template was made for (checked in debug builds).
    package func makeHandle<J: Job>(of type: J.Type, tag: UInt64) -> JobHandle<J.Output> {
        assert(jobType == J.self, "the template of \(jobType) made a handle for \(J.self)")
        // The class kept is exactly `JobHandle<J.Output>`, so the cast only restores its static type.
        return unsafeBitCast(handleClass, to: JobHandle<J.Output>.Type.self).init(
            jobName: jobName, controller: controller, tag: tag
        )
    }
}

/// A buffer in which a job is encoded before its bytes are kept in its work (see `SingleJobTemplate.takeScratch()`).
package final class JobBytesScratch {
    /// Unchecked for exclusive access, which would cost a run-time check per job: one thread at a time holds the
    /// buffer (see `SpareSlot`), and it swaps the array out before it uses it.
    @exclusivity(unchecked) package var bytes: [UInt8] = []
}
