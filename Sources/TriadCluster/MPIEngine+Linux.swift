#if MPI && os(Linux)
import CMPI
import CTriadShims
import Glibc
import Synchronization
import TriadCore
import TriadProcesses

/// A word one thread sleeps on and others wake it with; a wake that comes before the sleep is not lost.
final class WakeWord: @unchecked Sendable {
    // Unchecked: the word is only touched through the C atomics and the futex calls.
    private let word: UnsafeMutablePointer<UInt32>
    /// Set while the owner is about to sleep or sleeps, so a waker makes a system call only then.
    private let sleeping = Atomic<Bool>(false)

    init() {
        word = .allocate(capacity: 1)
        word.initialize(to: 0)
    }

    deinit { word.deallocate() }

    /// Sleeps for up to `nanoseconds` (forever when negative) unless woken since the last sleep, or `ready` says
    /// there is work already.
    func sleep(nanoseconds: Int64, unless ready: () -> Bool) {
        sleeping.store(true, ordering: .sequentiallyConsistent)
        if !ready() && triad_ipc_atomic_load32(word) == 0 { _ = triad_ipc_futex_wait(word, 0, nanoseconds) }
        sleeping.store(false, ordering: .sequentiallyConsistent)
        triad_ipc_atomic_store32(word, 0)
    }

    /// Wakes the owner if it sleeps or is about to.
    func wake() {
        guard sleeping.load(ordering: .sequentiallyConsistent) else { return }
        triad_ipc_atomic_store32(word, 1)
        _ = triad_ipc_futex_wake(word, 1)
    }
}

/// What reaches the engine's owner: a message of frames, or a small message of the cluster's own.
enum Inbound {
    case frames(InboundFrames)
    case small(source: Int, tag: Int32, bytes: [UInt8])
}

/// What drives a rank: it hears of each message on the engine's thread and gets a turn every round.
protocol EngineHandler: AnyObject, Sendable {
    /// A message arrived. Runs on the engine's thread: keep it short, and never wait in it.
    func received(_ inbound: Inbound)
    /// A turn to send what is due and check deadlines; returns whether it did anything.
    func poll(now: UInt64) -> Bool
    /// MPI has been finalised; the engine's thread ends after this.
    func finalized()
}

extension EngineHandler {
    func finalized() {}
}

/// The one thread that owns MPI in this process (MPI_THREAD_FUNNELED): it initialises MPI, sends what others post,
/// receives, hands messages to its handler, and finalises.
///
/// It never blocks in a receive: it asks `MPI_Iprobe` in a loop that spins for a short while after the last
/// activity and then sleeps, a little longer each round up to ``maxBackoff``, so an idle rank does not burn a core
/// and a busy one answers in microseconds. A post wakes it from its sleep at once.
final class MPIEngine: @unchecked Sendable {
    // Unchecked: `sends` is used on the engine's thread only; `outbox` and `handler` are behind their locks; the
    // world is written once before `started` is set, and read after.
    /// The longest the engine sleeps between two probes.
    static let maxBackoff: UInt64 = 1_000_000
    /// How long it keeps polling after the last activity before it starts sleeping: a millisecond, the longest
    /// it then sleeps, so a rank that answers within one never waits for a sleep to end. It yields the core at
    /// each turn, so polling costs little to other threads that need it. A send still in flight (a large payload
    /// the peer reads) needs no polling: the peer's receive moves it, and a probe now and then completes it.
    static let spin: UInt64 = 1_000_000

    private let outbox = Mutex<[Outbound]>([])
    private let handler = Mutex<(any EngineHandler)?>(nil)
    fileprivate let wakeWord = WakeWord()
    private let stopRequested = Atomic<Bool>(false)
    private let state = Mutex<Phase>(.starting)
    private let phaseWord = WakeWord()
    private var sends: [(request: MPI_Request?, keep: OutboundPart)] = []
    private var worldValue = MPICalls.World(rank: 0, size: 1, host: "")
    /// The shared-memory lanes to ranks on this machine, set up by the handlers.
    let lanes = ClusterLanes()

    private enum Phase {
        case starting
        case running
        case failed(ClusterError)
        case finished
    }

    /// The engine of this process, started on first use: MPI is initialised once per process.
    static let shared: Result<MPIEngine, ClusterError> = {
        let engine = MPIEngine()
        return engine.waitForStart().map { engine }
    }()

    private init() {
        // Large payloads arrive in fresh arrays: huge pages make filling one cost a fault per 2 MiB, not per 4 KiB.
        LargeArrays.preferHugePages()
        taskExecutor = EngineTaskExecutor(engine: self)
        let result = DetachedThread.start { [self] in
            triad_thread_set_name("triad-mpi")
            // Its sleeps are microseconds long at first; the default slack of 50 µs would stretch each one.
            _ = triad_set_timer_slack(1_000)
            switch MPICalls.initialize() {
            case .success(let world):
                worldValue = world
                state.withLock { $0 = .running }
                phaseWord.wake()
                loop()
            case .failure(let error):
                state.withLock { $0 = .failed(error) }
                phaseWord.wake()
            }
        }
        precondition(result == 0, "could not start the MPI thread: errno \(result)")
    }

    private func waitForStart() -> Result<Void, ClusterError> {
        while true {
            let phase = state.withLock { $0 }
            switch phase {
            case .starting: phaseWord.sleep(nanoseconds: 10_000_000) { false }
            case .running, .finished: return .success(())
            case .failed(let error): return .failure(error)
            }
        }
    }

    /// This process's rank, the world's size and this host's name.
    var world: MPICalls.World { worldValue }

    /// Hands the engine's messages to `handler` from now on.
    func attach(_ handler: any EngineHandler) {
        self.handler.withLock { $0 = handler }
        wakeWord.wake()
    }

    /// Queues messages to send, in order, and wakes the engine.
    func post(_ outbound: Outbound) {
        outbox.withLock { $0.append(outbound) }
        wakeWord.wake()
    }

    /// Starts sending a message at once, for a task that runs on the engine's thread (a worker rank's loop): a
    /// post would wait for the engine's next round, which a long job that follows would hold up.
    func sendOnEngineThread(_ outbound: Outbound) {
        start(outbound)
    }

    /// Queues several messages at once.
    func post(_ outbounds: [Outbound]) {
        guard !outbounds.isEmpty else { return }
        outbox.withLock { $0.append(contentsOf: outbounds) }
        wakeWord.wake()
    }

    /// Wakes the engine for its handler's turn, for work that is not a message (a deadline, a shutdown).
    func wake() { wakeWord.wake() }

    /// Asks the engine to finalise MPI once everything posted so far has been sent, without waiting for it; the
    /// handler hears of it through ``EngineHandler/finalized()``.
    func requestFinish() {
        stopRequested.store(true, ordering: .releasing)
        wakeWord.wake()
    }

    /// Asks the engine to finalise MPI once everything posted so far has been sent; returns once it has. Never call
    /// it on the engine's thread.
    func finish() {
        requestFinish()
        while true {
            let phase = state.withLock { $0 }
            if case .finished = phase { return }
            if case .failed = phase { return }
            phaseWord.sleep(nanoseconds: 10_000_000) { false }
        }
    }

    /// Whether MPI has been finalised.
    var isFinished: Bool {
        state.withLock { if case .finished = $0 { true } else { false } }
    }

    private func loop() {
        var idle = Idle()
        while true {
            var busy = runJobs()
            if pump() { busy = true }
            if stopRequested.load(ordering: .acquiring) && sends.isEmpty && outbox.withLock({ $0.isEmpty })
                && jobs.withLock({ $0.isEmpty })
            {
                break
            }
            idle.wait(busy: busy, engine: self)
        }
        MPICalls.finalize()
        lanes.closeAll()
        state.withLock { $0 = .finished }
        phaseWord.wake()
        handler.withLock { $0 }?.finalized()
    }

    /// How long the engine has been idle, and how it waits: polling for a short while after the last activity,
    /// yielding the core at each turn (ranks often share cores with the jobs' threads and with each other), then
    /// sleeping a little longer each round, up to ``maxBackoff``, unless a post wakes it.
    struct Idle {
        var lastActivity = triad_monotonic_ns()
        var backoff: UInt64 = 1_000

        mutating func wait(busy: Bool, engine: MPIEngine) {
            let now = triad_monotonic_ns()
            if busy {
                lastActivity = now
                backoff = 1_000
                return
            }
            if now - lastActivity < MPIEngine.spin {
                triad_thread_yield()
                return
            }
            engine.wakeWord.sleep(nanoseconds: Int64(backoff)) { engine.hasPostedWork }
            backoff = min(MPIEngine.maxBackoff, backoff * 2)
        }
    }

    private var hasPostedWork: Bool {
        !outbox.withLock { $0.isEmpty } || !jobs.withLock { $0.isEmpty }
    }

    /// One round of MPI: sends what was posted, completes finished sends, hands arrived messages to the handler
    /// and gives it its turn. Returns whether anything happened. On the engine's thread only.
    private func pump() -> Bool {
        var busy = false
        let posted = outbox.withLock { outbox -> [Outbound] in
            guard !outbox.isEmpty else { return [] }
            defer { outbox.removeAll(keepingCapacity: true) }
            return outbox
        }
        for outbound in posted { start(outbound) }
        busy = !posted.isEmpty
        var index = 0
        while index < sends.count {
            if MPICalls.test(&sends[index].request) {
                sends.remove(at: index)
            } else {
                index += 1
            }
        }
        let current = handler.withLock { $0 }
        if let current {
            var received = 0
            while received < 64, let probe = MPICalls.probe() {
                current.received(receive(probe))
                received += 1
            }
            busy = busy || received > 0
            if current.poll(now: triad_monotonic_ns()) { busy = true }
        }
        return busy
    }

    // MARK: - Tasks on the engine's thread

    private let jobs = Mutex<[UnownedJob]>([])

    /// An executor for tasks that must run on the engine's thread: a worker rank's loop, which then receives its
    /// jobs straight from MPI, with no hop to another thread and back.
    private(set) var taskExecutor: EngineTaskExecutor!

    fileprivate func enqueue(_ job: UnownedJob) {
        jobs.withLock { $0.append(job) }
        wakeWord.wake()
    }

    private func runJobs() -> Bool {
        let ready = jobs.withLock { jobs -> [UnownedJob] in
            guard !jobs.isEmpty else { return [] }
            defer { jobs.removeAll(keepingCapacity: true) }
            return jobs
        }
        let executor = taskExecutor.asUnownedTaskExecutor()
        for job in ready { job.runSynchronously(on: executor) }
        return !ready.isEmpty
    }

    /// Pumps MPI until `ready` returns a value, for a task running on the engine's thread that waits for a
    /// message (a worker rank's loop between jobs): the engine's own loop is held up meanwhile, so the waiter
    /// does its work, idling as it would.
    func pump<T>(until ready: () -> T?) -> T {
        var idle = Idle()
        while true {
            if let value = ready() { return value }
            idle.wait(busy: pump(), engine: self)
        }
    }

    private func start(_ outbound: Outbound) {
        let outbound = lanes.route(outbound)
        // The first part is the message itself; any others are the segments its envelope announced.
        for (index, part) in outbound.parts.enumerated() {
            let tag = index == 0 ? outbound.tag : ClusterTag.segment
            let request: MPI_Request?
            // The part is kept in `sends` until its send completes, so the bytes stay where they are.
            switch part {
            case .bytes(let bytes):
                request = bytes.withUnsafeBytes {
                    MPICalls.startSend($0.baseAddress, count: $0.count, to: outbound.rank, tag: tag)
                }
            case .segment(let segment):
                request = segment.withUnsafeBytes {
                    MPICalls.startSend($0.baseAddress, count: $0.count, to: outbound.rank, tag: tag)
                }
            }
            sends.append((request, part))
        }
    }

    /// The buffer of the last large message, kept for the next one: a fresh buffer of tens of mebibytes costs a
    /// page fault per page each time, more than the copy into it.
    private let spare = Mutex<Spare?>(nil)

    /// A buffer that has no owner: the one kept, or one to free.
    private struct Spare: @unchecked Sendable {
        // Unchecked: a spare buffer is owned by the lock that holds it, or by the one caller that took it out.
        var buffer: UnsafeMutableRawBufferPointer
    }

    private func largeBuffer(_ count: Int) -> UnsafeMutableRawBufferPointer {
        let kept = spare.withLock { spare -> Spare? in
            guard let kept = spare, kept.buffer.count >= count, kept.buffer.count <= 2 * count else { return nil }
            spare = nil
            return kept
        }
        if let kept { return kept.buffer }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        if count >= WireLargeBuffers.minimumBytes { triad_ipc_advise_huge_pages(buffer.baseAddress, buffer.count) }
        return buffer
    }

    /// Keeps a large message's buffer for the next one, in place of a smaller one kept before.
    private func keep(_ buffer: UnsafeMutableRawBufferPointer) {
        let offered = Spare(buffer: buffer)
        let dropped = spare.withLock { spare -> Spare? in
            guard offered.buffer.count >= FramesEnvelope.inlineLimit else { return offered }
            if let kept = spare, kept.buffer.count >= offered.buffer.count { return offered }
            defer { spare = offered }
            return spare
        }
        dropped?.buffer.deallocate()
    }

    private func receive(_ probe: MPICalls.Probe) -> Inbound {
        guard probe.tag == ClusterTag.frames else {
            var bytes = [UInt8](repeating: 0, count: probe.count)
            bytes.withUnsafeMutableBytes {
                MPICalls.receive(into: $0.baseAddress, count: probe.count, from: probe.source, tag: probe.tag)
            }
            return .small(source: probe.source, tag: probe.tag, bytes: bytes)
        }
        let first = UnsafeMutableRawBufferPointer.allocate(byteCount: max(probe.count, 1), alignment: 16)
        MPICalls.receive(into: first.baseAddress, count: probe.count, from: probe.source, tag: probe.tag)
        let envelope = FramesEnvelope(UnsafeRawBufferPointer(rebasing: first[0..<probe.count]))
            ?? FramesEnvelope(timeoutNanoseconds: 0, segments: 0)
        guard envelope.segments > 0 else {
            return .frames(
                InboundFrames(
                    source: probe.source, timeoutNanoseconds: envelope.timeoutNanoseconds,
                    buffer: UnsafeMutableRawBufferPointer(rebasing: first[0..<probe.count]), start: FramesEnvelope.size,
                    owner: first, lanes: lanes
                )
            )
        }
        var sizes: [Int] = []
        var total = 0
        for index in 0..<Int(envelope.segments) {
            let size = Int(
                UInt64(littleEndian: UnsafeRawPointer(first.baseAddress!).loadUnaligned(
                    fromByteOffset: FramesEnvelope.size + 8 * index, as: UInt64.self
                ))
            )
            sizes.append(size)
            total += size
        }
        first.deallocate()
        // One buffer for the whole message: each segment is read straight into its place.
        let buffer = largeBuffer(total)
        var offset = 0
        for size in sizes {
            MPICalls.receive(
                into: buffer.baseAddress! + offset, count: size, from: probe.source, tag: ClusterTag.segment
            )
            offset += size
        }
        return .frames(
            InboundFrames(
                source: probe.source, timeoutNanoseconds: envelope.timeoutNanoseconds,
                buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<total]), start: 0, owner: buffer,
                recycle: { [self] in keep($0) }, lanes: lanes
            )
        )
    }
}
#endif

#if MPI && os(Linux)
/// Runs tasks on the thread that owns MPI, between its rounds.
final class EngineTaskExecutor: TaskExecutor, @unchecked Sendable {
    // Unchecked: the engine is Sendable by its own contract; this only forwards to it.
    unowned let engine: MPIEngine

    init(engine: MPIEngine) { self.engine = engine }

    func enqueue(_ job: consuming ExecutorJob) {
        engine.enqueue(UnownedJob(job))
    }
}
#endif
