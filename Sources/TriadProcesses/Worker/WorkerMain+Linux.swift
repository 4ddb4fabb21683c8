#if os(Linux)
import CTriadShims
import Glibc
import Synchronization
import SystemPackage
import TriadCore

/// The frame source of a worker: the ring of jobs from its parent. Between jobs it follows its pool's idle
/// schedule: spins, yields, then parks on the socket until the parent rings.
struct RingFrameSource: FrameSource {
    private let reader: RingFrameReader
    private let flags: RingFlags
    /// The flags of the ring of results, whose hint says whether the parent has a thread spinning for them.
    private let resultFlags: RingFlags
    private let channel: Int32
    private let schedule: IdleSchedule
    private let lanes: SharedFrameLanes?

    init(rings: SharedRings, channel: Int32, maxPayload: Int, schedule: IdleSchedule, lanes: SharedFrameLanes?) {
        reader = RingFrameReader(rings.reader(parent: false), maxPayload: maxPayload)
        flags = rings.flags(parent: false)
        resultFlags = rings.flags(parent: true)
        self.channel = channel
        self.schedule = schedule
        self.lanes = lanes
    }

    var hasBufferedFrame: Bool { reader.hasCompleteFrame }

    func release(_ frame: ReceivedFrame) {
        if frame.isInLane { lanes?.release(1) }
    }

    mutating func receive() throws -> ReceivedFrame? {
        var waiter = IdleWaiter(schedule)
        var ended = false
        // Read once, right after the last result went out: a thread that spins for that result will submit its
        // next job at once, so this idle spell spins where it would yield. Unless that thread shares this one's
        // CPU: then it runs only once this one yields, which it does at once; a spin would hold it off for its
        // whole length (an awaited round trip took 19 to 24 µs instead of 4 to 6 while the scheduler kept the two
        // threads on one CPU).
        var peer = resultFlags.readerSpin
        // Where this thread runs while it is active, said once per wait and on waking, and cleared before it
        // parks: a parent's thread that waits for the next job's result reads it, and yields rather than pauses
        // while this thread runs on its CPU.
        var markedActive = false
        while true {
            if let frame = try reader.nextBuffered() {
                if frame.kind == WorkerFrameKind.goodbye { return nil }
                guard let lanes else { return ReceivedFrame(frame) }
                return try lanes.resolve(frame, inPlace: true)
            }
            var ringParent = false
            let moved = try reader.fill(ringWriter: &ringParent)
            if ringParent { RingDoorbell.ring(channel) }
            if moved > 0 {
                waiter.reset()
                continue
            }
            // The ring was read after the socket ended, so it holds nothing more: the parent is gone.
            if ended {
                if let error = reader.endOfStreamError() { throw error }
                return nil
            }
            if !markedActive {
                flags.markReaderSpinning(true)
                markedActive = true
            }
            guard waiter.pause(now: Syscall.now(), peer: peer) else { continue }
            flags.markReaderSpinning(false)
            markedActive = false
            flags.raiseWaitingForBytes()
            if try reader.ringHasBytes() {
                flags.lowerWaitingForBytes()
                continue
            }
            // The worker process has nothing else to run while it waits for work, so this thread may park.
            _ = Syscall.poll(channel, events: Int16(POLLIN), timeoutMilliseconds: -1)
            flags.lowerWaitingForBytes()
            ended = RingDoorbell.drain(channel)
            flags.markReaderSpinning(true)
            markedActive = true
            waiter.reset()
            peer = resultFlags.readerSpin
        }
    }
}

/// The frame sink of a worker: the ring of results to its parent. When the ring is full it waits, by the same
/// schedule, for the parent to read.
struct RingFrameSink: FrameSink {
    private let channel: Int32
    private let progress: SharedProgress?
    private let lanes: SharedFrameLanes?
    private let schedule: IdleSchedule
    /// In a class, so that the sink stays copyable as `FrameSink` wants while one writer owns the ring's position.
    private let writer: WorkerResultRing

    init(rings: SharedRings, channel: Int32, progress: SharedProgress?, schedule: IdleSchedule, lanes: SharedFrameLanes?) {
        let writer = WorkerResultRing(rings.writer(parent: false), channel: channel)
        WorkerResultRing.current.withLock { $0 = writer }
        self.writer = writer
        self.channel = channel
        self.progress = progress
        self.schedule = schedule
        self.lanes = lanes
    }

    func jobWillStart(sequence: UInt64, ordinal: Int, timed: Bool) {
        progress?.markStarted(sequence, ordinal: ordinal, startNanoseconds: timed ? Syscall.now() : nil)
    }

    func send(_ message: OutgoingMessage) throws {
        var rest = lanes?.externalize(message) ?? message
        var waiter = IdleWaiter(schedule)
        while !rest.isEmpty {
            let written = try writer.writer.write(rest)
            if written > 0 {
                rest.dropFirst(written)
                if writer.writer.readerIsParked() { RingDoorbell.ring(channel) }
                waiter.reset()
                continue
            }
            guard waiter.pause(now: Syscall.now()) else { continue }
            writer.writer.raiseWaitingForRoom()
            if try writer.writer.room() > 0 {
                writer.writer.lowerWaitingForRoom()
                continue
            }
            _ = Syscall.poll(channel, events: Int16(POLLIN), timeoutMilliseconds: -1)
            writer.writer.lowerWaitingForRoom()
            if RingDoorbell.drain(channel) {
                throw TransportError(operation: "send", errno: .brokenPipe)
            }
            waiter.reset()
        }
    }
}

/// What a child started as a worker does instead of the program's `main`.
enum WorkerMain {
    /// Runs the worker and exits the process; never returns.
    static func run(registry: JobRegistry, parentPID: pid_t) -> Never {
        // The parent decides what Ctrl-C means; a terminal's SIGINT reaches the whole process group.
        _ = triad_ignore_signal(SIGINT)
        _ = triad_ignore_signal(SIGPIPE)
        // Die with the parent: the signal for a parent that dies from now on, then a check for one already gone.
        _ = triad_set_parent_death_signal(SIGKILL)
        if getppid() != parentPID { _exit(0) }
        // A program that a job starts inherits none of the worker's descriptors: its socket, lifeline, progress
        // page and lanes belong to this process alone.
        _ = triad_cloexec_from(3)
        DedicatedThread.start(name: "triad-lifeline") {
            var byte: UInt8 = 0
            // End of file on the lifeline means the parent is gone, even while a job is running.
            while true {
                let count = Glibc.read(WorkerEnvironment.lifelineFD, &byte, 1)
                if count == 0 || (count < 0 && errno != EINTR) { _exit(0) }
            }
        }
        let maxPayload = getenv(WorkerEnvironment.maxFrameKey).flatMap { Int(String(cString: $0)) }
            ?? Frame.defaultMaxPayload
        let identity = WorkerEnvironment.identity(ofExecutableAt: WorkerEnvironment.currentExecutable) ?? 0
        // The rings first: a worker that cannot map them must fail its start, not its first job.
        guard let rings = SharedRings.workerSide() else {
            let text = "triad worker \(getpid()): could not map the shared rings at descriptor "
                + "\(SharedRings.workerFD) (errno \(errno)); the parent may run another version of Triad\n"
            _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
            exit(70)
        }
        var hello = OutgoingMessage()
        hello.appendEncodedFrames(WorkerHello(identity: identity, pid: getpid()).frameBytes)
        guard case .success = SocketWriter.writeAll(WorkerEnvironment.channelFD, hello) else { _exit(0) }
        Task.detached {
            let lanes = SharedFrameLanes.workerSide(maxPayload: maxPayload)
            let schedule = IdleSchedule.inherited(or: IdleStrategy.balanced.schedule)
            let channel = WorkerEnvironment.channelFD
            var source = RingFrameSource(
                rings: rings, channel: channel, maxPayload: maxPayload, schedule: schedule, lanes: lanes
            )
            var sink = RingFrameSink(
                rings: rings, channel: channel, progress: SharedProgress.inherited(), schedule: schedule, lanes: lanes
            )
            do {
                try await WorkerLoop(registry: registry).run(source: &source, sink: &sink)
            } catch {
                let text = "triad worker \(getpid()): stopping: \(error)\n"
                _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
                exit(70)
            }
            exit(0)
        }
        while true { pause() }
    }
}
#endif

#if os(Linux)
/// The page a worker and its parent share: the worker stores the sequence number of the job it starts, plus one
/// (zero means none), and the parent reads it after the worker died to know which job the crash hit.
struct SharedProgress: @unchecked Sendable {
    // Sendable by contract: the only access is an atomic 64-bit store by the worker and an atomic load by the
    // parent's driver thread, through the C helpers.
    let address: UnsafeMutableRawPointer

    /// The page this worker inherited, if any.
    static func inherited() -> SharedProgress? {
        triad_shared_page_map(WorkerEnvironment.progressFD, WorkerEnvironment.progressPageSize)
            .map { SharedProgress(address: $0) }
    }

    /// Makes a new page for a worker about to be spawned; returns it and the descriptor to hand down.
    static func create() -> (SharedProgress, Int32)? {
        var address: UnsafeMutableRawPointer?
        let fd = triad_shared_page_create(WorkerEnvironment.progressPageSize, &address)
        guard fd >= 0, let address else { return nil }
        return (SharedProgress(address: address), fd)
    }

    /// Notes that job `ordinal` of message `sequence` starts, at `startNanoseconds` on the monotonic clock when
    /// given. A generation count, odd while the fields change, lets the parent read the three as one.
    func markStarted(_ sequence: UInt64, ordinal: Int, startNanoseconds: UInt64?) {
        if ordinal > 0 {
            // The next job of the same message: its sequence is in place, and the parent may read the ordinal
            // with the start of the job before or after it, never another message's.
            if let startNanoseconds { triad_store_release_u64(address + 24, startNanoseconds) }
            triad_store_release_u64(address + 16, UInt64(ordinal))
            return
        }
        let generation = triad_load_acquire_u64(address)
        triad_store_release_u64(address, generation &+ 1)
        if let startNanoseconds { triad_store_release_u64(address + 24, startNanoseconds) }
        triad_store_release_u64(address + 16, UInt64(ordinal))
        triad_store_release_u64(address + 8, sequence &+ 1)
        triad_store_release_u64(address, generation &+ 2)
    }

    /// The last job started, if one was.
    var lastStarted: StartedJob? {
        var fields: (UInt64, UInt64, UInt64) = (0, 0, 0)
        // A worker that dies between the two stores of the generation leaves it odd for good: a few tries, then
        // the fields as they are.
        for _ in 0..<64 {
            let before = triad_load_acquire_u64(address)
            fields = (
                triad_load_acquire_u64(address + 8), triad_load_acquire_u64(address + 16),
                triad_load_acquire_u64(address + 24)
            )
            if before & 1 == 0 && triad_load_acquire_u64(address) == before { break }
            triad_cpu_relax()
        }
        guard fields.0 != 0 else { return nil }
        return StartedJob(sequence: fields.0 &- 1, ordinal: Int(clamping: fields.1), startNanoseconds: fields.2)
    }

    func unmap() {
        triad_shared_page_unmap(address, WorkerEnvironment.progressPageSize)
    }
}
#endif
