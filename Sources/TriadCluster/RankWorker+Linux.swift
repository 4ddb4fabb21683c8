#if MPI && os(Linux)
import CTriadShims
import Glibc
import Synchronization
import TriadCore
import TriadProcesses

/// A worker rank: it runs the jobs rank 0 sends until rank 0 says stop, either in the rank itself through the
/// process pool's worker loop, or in a local process pool of its own, so that a crashing job kills only a local
/// worker process.
final class RankWorker: EngineHandler, @unchecked Sendable {
    // Unchecked: `pool` and `forwarded` are set and read on the engine's thread only (in `received` and `poll`);
    // everything else is behind its lock or atomic.
    private let engine: MPIEngine
    private let registry: JobRegistry
    private let inbox = Mutex<Inbox>(Inbox())
    private let finished = Atomic<Bool>(false)
    private let doneWake = WakeWord()
    private let finishWaiter = Mutex<UnsafeContinuation<Void, Never>?>(nil)
    private var pool: ProcessPoolExecutor?
    private var maxFrameSize = Frame.defaultMaxPayload
    private let forwards = Mutex<[UInt64: ForwardingSink]>([:])
    private let stopping = Atomic<Bool>(false)
    private let byeSent = Atomic<Bool>(false)

    private struct Inbox {
        var messages = FIFO<InboundFrames>()
        var closed = false
    }

    init(engine: MPIEngine, registry: JobRegistry) {
        self.engine = engine
        self.registry = registry
    }

    /// Serves jobs until rank 0 stops this rank, then finalises MPI and exits the process.
    func run() -> Never {
        begin()
        while !finished.load(ordering: .acquiring) {
            doneWake.sleep(nanoseconds: 100_000_000) { finished.load(ordering: .acquiring) }
        }
        exit(0)
    }

    /// Serves jobs until rank 0 stops this rank and MPI is finalised, then returns.
    func serve() async {
        begin()
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let already = finishWaiter.withLock { waiter -> Bool in
                if finished.load(ordering: .acquiring) { return true }
                waiter = continuation
                return false
            }
            if already { continuation.resume() }
        }
    }

    private func begin() {
        let world = engine.world
        "rank \(world.rank) on host \(world.host) (pid \(getpid()))".withCString { triad_crash_set_identity($0) }
        _ = triad_crash_install()
        engine.attach(self)
        // Rank 0 learns each rank's host from its greeting, which MPI delivers before anything else the rank sends.
        let hello = (try? WireEncoder().encode(RankHello(pid: getpid(), host: world.host))) ?? []
        engine.post(Outbound(rank: 0, tag: ClusterTag.hello, bytes: hello))
    }

    func finalized() {
        let waiter = finishWaiter.withLock { waiter in
            finished.store(true, ordering: .releasing)
            defer { waiter = nil }
            return waiter
        }
        doneWake.wake()
        waiter?.resume()
    }

    func received(_ inbound: Inbound) {
        switch inbound {
        case .frames(let message):
            if pool != nil {
                forward(message)
            } else {
                inbox.withLock { $0.messages.append(message) }
            }
        case .small(_, let tag, let bytes):
            switch tag {
            case ClusterTag.configuration:
                guard let configuration = try? WireDecoder().decode(RankConfiguration.self, from: bytes) else {
                    fail("rank 0 sent a configuration this rank cannot read; run the same build on every rank")
                }
                configure(configuration)
            case ClusterTag.lanes:
                guard let answer = try? WireDecoder().decode(RankLanes.self, from: bytes) else { return }
                engine.lanes.confirm(with: 0, accepted: answer.accepted)
            case ClusterTag.stop:
                stopping.store(true, ordering: .releasing)
                inbox.withLock { $0.closed = true }
            case ClusterTag.cancel:
                guard bytes.count == 8 else { return }
                let sequence = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
                cancel(sequence: sequence)
            default:
                break
            }
        }
    }

    func poll(now: UInt64) -> Bool {
        guard let pool, stopping.load(ordering: .acquiring), forwards.withLock({ $0.isEmpty }),
            !byeSent.exchange(true, ordering: .acquiringAndReleasing)
        else { return false }
        Task {
            await pool.shutdown()
            self.sayGoodbye()
        }
        return true
    }

    private func configure(_ configuration: RankConfiguration) {
        maxFrameSize = configuration.maxFrameSize
        if let threshold = configuration.sharedMemoryThreshold, let offer = configuration.lane {
            // Rank 0 offered a lane: open it, answer with this rank's own, or with none if this machine is not rank
            // 0's (see `ClusterLanes`).
            let lane = engine.lanes.accept(
                from: 0, offer: offer, threshold: threshold, maxPayload: configuration.maxFrameSize
            )
            let answer = RankLanes(lane: lane, accepted: lane != nil)
            engine.post(Outbound(rank: 0, tag: ClusterTag.lanes, bytes: (try? WireEncoder().encode(answer)) ?? []))
        }
        if configuration.localPoolWorkers > 0 {
            var poolConfiguration = ProcessPoolConfiguration(workers: configuration.localPoolWorkers)
            poolConfiguration.registry = registry
            poolConfiguration.maxFrameSize = configuration.maxFrameSize
            pool = ProcessPoolExecutor(configuration: poolConfiguration)
            return
        }
        let maxPayload = configuration.maxFrameSize
        // The worker loop runs on the thread that owns MPI: between jobs it takes the next message straight from
        // MPI, as a single-threaded mpi4py worker does, with no hop to another thread and back.
        Task(executorPreference: engine.taskExecutor) { [self] in
            var source = RankFrameSource(worker: self, maxPayload: maxPayload)
            var sink = RankFrameSink(engine: engine)
            do {
                try await WorkerLoop(registry: registry).run(source: &source, sink: &sink)
            } catch {
                fail("stopping: \(error)")
            }
            sayGoodbye()
        }
    }

    private func sayGoodbye() {
        engine.post(Outbound(rank: 0, tag: ClusterTag.bye))
        engine.requestFinish()
    }

    private func fail(_ text: String) -> Never {
        let world = engine.world
        let line = "triad: rank \(world.rank) on host \(world.host): \(text)\n"
        _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
        MPICalls.abort(code: 70)
    }

    /// The next message for the worker loop, waiting for it; nil once rank 0 has said stop and none is left.
    /// The worker loop runs on the engine's thread, so it pumps MPI itself while it waits.
    func nextMessage() -> InboundFrames? {
        engine.pump { () -> InboundFrames?? in
            inbox.withLock { inbox in
                if let message = inbox.messages.popFirst() { return .some(message) }
                return inbox.closed ? .some(nil) : nil
            }
        }
    }

    // MARK: - The local pool

    private func forward(_ message: InboundFrames) {
        guard let pool else { return }
        let frames: [ReceivedFrame]
        do {
            frames = try message.frames(maxPayload: maxFrameSize)
        } catch {
            fail("rank 0 sent a message that is not whole frames: \(error)")
        }
        guard frames.count >= 2, let header = JobHeader(payload: frames[0].payload),
            frames[1].kind == WorkerFrameKind.data
        else {
            fail("rank 0 sent a message that is not a job")
        }
        let timeout: Duration? =
            message.timeoutNanoseconds == 0 ? nil : .nanoseconds(Int64(clamping: message.timeoutNanoseconds))
        let local = pool.nextSequence()
        let sink = ForwardingSink(
            engine: engine, sequence: header.sequence, jobs: Int(header.count), localRoot: local
        ) { [weak self] sequence in
            _ = self?.forwards.withLock { $0.removeValue(forKey: sequence) }
        }
        forwards.withLock { $0[header.sequence] = sink }
        var data = OutgoingMessage()
        data.appendFrame(kind: WorkerFrameKind.data, payload: frames[1].payload)
        let work: PoolWork
        if frames[0].kind == WorkerFrameKind.chunk {
            work = .chunk(
                sequence: local, root: local, jobName: header.jobName, data: data, first: Int(header.first),
                count: Int(header.count), timed: true, timeout: timeout, sink: sink
            )
        } else {
            var bytes: [UInt8] = []
            JobHeader(sequence: local, count: 1, jobName: header.jobName).append(kind: WorkerFrameKind.job, to: &bytes)
            var whole = OutgoingMessage()
            whole.appendEncodedFrames(bytes)
            whole.append(data)
            work = .forwarded(sequence: local, jobName: header.jobName, message: whole, timeout: timeout, sink: sink)
        }
        do {
            try pool.enqueue(forwarded: work)
        } catch {
            _ = sink.fail(error, jobs: 0..<Int(header.count))
        }
    }

    private func cancel(sequence: UInt64) {
        guard let pool, let sink = forwards.withLock({ $0[sequence] }) else { return }
        pool.cancel(root: sink.localRoot)
        sink.failRest(ExecutorError.cancelled(jobName: nil))
    }
}

/// The worker loop's frames: the messages rank 0 sent, in order, their payloads read where they arrived.
struct RankFrameSource: FrameSource {
    let worker: RankWorker
    let maxPayload: Int
    private var frames: [ReceivedFrame] = []
    private var next = 0
    /// The message the frames point into, kept alive until the loop asks for a frame past its last.
    private var current: InboundFrames?

    init(worker: RankWorker, maxPayload: Int) {
        self.worker = worker
        self.maxPayload = maxPayload
    }

    var hasBufferedFrame: Bool { next < frames.count }

    mutating func receive() throws -> ReceivedFrame? {
        while next >= frames.count {
            frames = []
            current = nil
            guard let message = worker.nextMessage() else { return nil }
            current = message
            frames = try message.frames(maxPayload: maxPayload)
            next = 0
        }
        let frame = frames[next]
        next += 1
        if frame.kind == WorkerFrameKind.job || frame.kind == WorkerFrameKind.chunk {
            // The job's name, for the report of a crash (see `triad_crash_install`).
            frame.withPayloadBytes { bytes in
                if bytes.count > 20 {
                    triad_crash_set_job(bytes.baseAddress!.assumingMemoryBound(to: CChar.self) + 20, bytes.count - 20)
                }
            }
        }
        return frame
    }
}

/// The worker loop's answers to rank 0, sent at once: the loop runs on the engine's thread.
struct RankFrameSink: FrameSink {
    let engine: MPIEngine

    func send(_ message: OutgoingMessage) throws {
        engine.sendOnEngineThread(Outbound(rank: 0, frames: message))
    }

    /// Rank 0 times jobs from its side: a rank cannot be killed, so nothing here needs the start of each job.
    func jobWillStart(sequence: UInt64, ordinal: Int, timed: Bool) {}
}

/// The sink of a message a rank forwarded to its local pool: it sends the pool's answers on to rank 0, under the
/// sequence number rank 0 gave the message.
final class ForwardingSink: PoolOwnJobSink {
    let engine: MPIEngine
    let sequence: UInt64
    let jobs: Int
    let localRoot: UInt64
    private let answered = Mutex<(count: Int, finished: Bool)>((0, false))
    private let onFinish: @Sendable (UInt64) -> Void

    init(
        engine: MPIEngine,
        sequence: UInt64,
        jobs: Int,
        localRoot: UInt64,
        onFinish: @escaping @Sendable (UInt64) -> Void
    ) {
        self.engine = engine
        self.sequence = sequence
        self.jobs = jobs
        self.localRoot = localRoot
        self.onFinish = onFinish
    }

    func markRunning() {}

    func deliver(_ items: [ReceivedFrame], first: Int, count: Int) -> Bool {
        let (accepted, finished) = accept(count)
        guard accepted else { return false }
        var message = OutgoingMessage()
        var header: [UInt8] = []
        ResultHeader(sequence: sequence, count: UInt32(items.count), first: UInt32(first), jobs: UInt32(count))
            .append(to: &header)
        message.appendEncodedFrames(header)
        for item in items { message.appendFrame(kind: WorkerFrameKind.data, flags: item.flags, payload: item.payload) }
        engine.post(Outbound(rank: 0, frames: message))
        if finished { onFinish(sequence) }
        return false
    }

    func fail(_ error: any Error, jobs range: Range<Int>) -> Bool {
        let (accepted, finished) = accept(range.count)
        guard accepted else { return false }
        report(error, first: range.lowerBound, count: range.count)
        if finished { onFinish(sequence) }
        return false
    }

    /// Fails the jobs not answered yet, and answers nothing more.
    func failRest(_ error: any Error) {
        let rest = answered.withLock { answered -> Range<Int>? in
            guard !answered.finished else { return nil }
            answered.finished = true
            return answered.count..<jobs
        }
        guard let rest else { return }
        report(error, first: rest.lowerBound, count: rest.count)
        onFinish(sequence)
    }

    func deliverBatch(_ item: ReceivedFrame, to members: ArraySlice<PoolWork>) {
        preconditionFailure("a forwarded job travelled in a batch")
    }

    /// Counts `newly` jobs answered. Returns whether they may go to rank 0 (not once the sink has finished) and
    /// whether they are the last.
    private func accept(_ newly: Int) -> (accepted: Bool, finished: Bool) {
        answered.withLock { answered -> (Bool, Bool) in
            guard !answered.finished else { return (false, false) }
            answered.count += newly
            if answered.count >= jobs { answered.finished = true }
            return (true, answered.finished)
        }
    }

    private func report(_ error: any Error, first: Int, count: Int) {
        let executorError = error as? ExecutorError
        let failure = RankFailure(
            sequence: sequence, first: first, count: count,
            code: executorError?.code.rawValue ?? ExecutorError.Code.jobFailed.rawValue,
            message: executorError?.message ?? String(describing: error)
        )
        let bytes = (try? WireEncoder().encode(failure)) ?? []
        engine.post(Outbound(rank: 0, tag: ClusterTag.failure, bytes: bytes))
    }
}
#endif
