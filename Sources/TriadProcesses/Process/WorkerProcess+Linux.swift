#if os(Linux)
import CTriadShims
import Glibc
import Synchronization
import SystemPackage
import TriadCore

/// One result message from a worker: the sequence number of the message it answers, which of the message's jobs
/// it covers, and its items (one per job for single jobs; one outcome for a part of a chunk).
struct IncomingResult {
    var sequence: UInt64
    var first: Int = 0
    var jobs: Int = 1
    /// The result's items; those left in place in the worker's lane are valid only during the supervisor's call.
    var items: [ReceivedFrame]
}

/// When a worker's driver looks at its timers next, as its supervisor may work it out while it takes results, under
/// the lock it takes anyway: a driver that then asked for a tick of its own would take that lock twice more for
/// every batch of results, against the other workers' drivers.
enum TickAfterResults: Equatable {
    /// Not worked out: the driver ticks at once.
    case tickNow
    /// Worked out with the results: the time of the next tick (monotonic nanoseconds), or nil for none until
    /// something else happens.
    case next(UInt64?)
}

/// What one worker reports to whoever supervises it. Every call comes from the worker's own driver thread, but for
/// results, which may also come from a thread that assists while it waits (`WorkerProcess.assist(supervisor:)`);
/// never two calls for one worker at once.
protocol WorkerSupervisor: AnyObject, Sendable {
    func workerDidStart(_ worker: WorkerProcess)
    func workerDidFailToStart(id: Int, error: ExecutorError, permanent: Bool)
    /// Takes results; says when the driver is to look at its timers next, if it worked that out on the way.
    func worker(_ worker: WorkerProcess, didReceive results: [IncomingResult]) -> TickAfterResults
    /// Whether the driver must look at its timers after results that another thread read: some job in flight has a
    /// time limit, or memory is watched.
    func workerWatchesTimers(_ worker: WorkerProcess) -> Bool
    /// Whether the driver should follow its idle schedule (spin, then yield) before it parks: true while a result
    /// is due soon or the next job may follow at once; false while many are in flight, when results come in
    /// batches and a spinning driver would take the CPU from the workers that produce them.
    func workerWantsSpinning(_ worker: WorkerProcess) -> Bool
    /// Checks timeouts, memory and idleness; returns when to check again (monotonic nanoseconds), or nil.
    func workerTick(_ worker: WorkerProcess, now: UInt64) -> UInt64?
    /// The worker ended; `lastStarted` is the last job it started, if it started one.
    func worker(_ worker: WorkerProcess, didExit exit: WorkerExit, violation: ExecutorError?, lastStarted: StartedJob?)
}

/// How to start a worker.
struct WorkerLaunch: Sendable {
    var path: String
    var arguments: [String]
    var environment: [String]
    var maxPayload: Int
    var handshakeTimeout: Duration
    /// Descriptors the child inherits from fd 9 up (a `Process`'s passed pipes, queues and segments).
    var passedDescriptors: [Int32] = []
    /// Payloads of at least this many bytes travel through the worker's shared lanes; nil: always inline.
    var sharedPayloadThreshold: Int? = nil
    /// How both sides wait when idle.
    var idle = IdleStrategy.balanced.schedule
    /// The bytes of each of the two rings, a power of two.
    var ringCapacity = 512 << 10
}

/// One worker process and the dedicated thread that drives it: spawns it, checks its handshake, writes what is
/// queued for it, reads its results, runs its supervisor's timers and reaps it. Frames travel through the worker's
/// shared rings (`SharedRings`); the socket carries the worker's hello, then only doorbell bytes and its end. This is the reusable unit of
/// process supervision: a pool owns many, a single-job process would own one.
final class WorkerProcess: PoolWorker {
    let id: Int
    let pid: pid_t
    private let channel: Int32
    private let lifeline: Int32
    private let wakeFD: Int32
    /// Polls readable once the process has ended, even while a process it started holds the socket open; -1 where
    /// the kernel offers no pidfd.
    private let pidFD: Int32
    /// The read end of the worker's standard error, or -1.
    private let stderrFD: Int32
    private let lanes: SharedFrameLanes
    private let rings: SharedRings
    private let progress: SharedProgress?
    private let output: Mutex<Output>
    /// The reading side of the result ring: the driver reads it, and so may a thread that blocks waiting for a job
    /// or a task about to suspend for one (``assist(supervisor:maxBytes:)``), one at a time.
    private let incoming: Mutex<ResultAssembly>
    /// How many threads assist now (see ``beginAssist()``). Changed under `incoming`'s lock, but for the end of an
    /// assist that found the lock taken (see ``endAssist()``).
    private let assisting = Atomic<Int>(0)
    /// The flags of the result ring and its written position, which any thread may use without the lock.
    private let resultFlags: RingFlags
    /// The flags of the job ring, whose reader's spinning hint says where the worker's thread runs while it is
    /// active (see `RingFrameSource.receive()`); read under `incoming`'s lock, which says the rings are mapped.
    private let jobFlags: RingFlags
    /// Whether the pool has work in flight on this worker, as its supervisor last said (``noteWorkInFlight(_:)``),
    /// under its own lock: a hint for the threads that would read the worker's results, read without a lock.
    private let workInFlight = Atomic<Bool>(false)
    // Guards the pid against reuse: a signal is sent only while the child has not been reaped.
    private let alive = Mutex(true)

    /// What goes to the worker: the writer of its job ring, and what did not fit in the ring yet. Frames are
    /// written into the ring under this lock, so that the ring's one writer is whoever holds it, and nothing is
    /// written once the rings are unmapped.
    private struct Output: ~Copyable {
        var writer: RingWriter?
        var pending = OutgoingMessage()
        /// The worker moved its ring's read position somewhere impossible.
        var violation: WireError?

        /// Writes what is pending into the ring, as much as fits. Returns whether the worker must be rung (it
        /// parked waiting for jobs) and whether some remains for the driver.
        mutating func flush() -> (ringWorker: Bool, remains: Bool) {
            guard violation == nil, !pending.isEmpty else { return (false, !pending.isEmpty) }
            let written: Int
            do {
                guard let count = try writer?.write(pending) else {
                    // The rings are gone with the worker: what was queued is lost with it, and reported as such.
                    pending = OutgoingMessage()
                    return (false, false)
                }
                written = count
            } catch {
                violation = error
                return (false, true)
            }
            guard written > 0 else { return (false, true) }
            pending.dropFirst(written)
            return (writer?.readerIsParked() ?? false, !pending.isEmpty)
        }
    }

    private init(
        id: Int, pid: pid_t, channel: Int32, lifeline: Int32, wakeFD: Int32, pidFD: Int32, stderrFD: Int32,
        progress: SharedProgress?, lanes: SharedFrameLanes, rings: SharedRings, maxPayload: Int
    ) {
        self.rings = rings
        output = Mutex(Output(writer: rings.writer(parent: true)))
        incoming = Mutex(ResultAssembly(RingFrameReader(rings.reader(parent: true), maxPayload: maxPayload)))
        resultFlags = rings.flags(parent: true)
        jobFlags = rings.flags(parent: false)
        self.pidFD = pidFD
        self.stderrFD = stderrFD
        self.lanes = lanes
        self.id = id
        self.progress = progress
        self.pid = pid
        self.channel = channel
        self.lifeline = lifeline
        self.wakeFD = wakeFD
    }

    /// Spawns a worker and starts its driver thread. Call it on the spawn thread only.
    static func spawn(id: Int, launch: WorkerLaunch, supervisor: any WorkerSupervisor) {
        func fail(_ what: String, _ error: Errno) {
            supervisor.workerDidFailToStart(
                id: id,
                error: ExecutorError.spawnFailed(path: launch.path, call: what, error),
                permanent: true
            )
        }
        // Each descriptor has an owner: on any failure below, those made so far close as their owners end.
        guard case .success(let pair) = Syscall.socketPair() else { return fail("socketpair", .now) }
        let parentEnd = OwnedDescriptor(pair.0)
        let childEnd = OwnedDescriptor(pair.1)
        guard case .success(let life) = Syscall.pipe() else { return fail("pipe", .now) }
        let lifeRead = OwnedDescriptor(life.read)
        let lifeWrite = OwnedDescriptor(life.write)
        guard case .success(let wake) = Syscall.eventFD() else { return fail("eventfd", .now) }
        let wakeFD = OwnedDescriptor(wake)
        let lanes: SharedFrameLanes
        let laneFDs: [Int32]
        switch SharedFrameLanes.parentSide(threshold: launch.sharedPayloadThreshold, maxPayload: launch.maxPayload) {
        case .success(let made): (lanes, laneFDs) = made
        case .failure(let error): return fail("memfd_create", error)
        }
        let madeRings = SharedRings.parentSide(capacity: launch.ringCapacity)
        if case .failure(let error) = madeRings {
            lanes.close()
            return fail("memfd_create or mmap of the shared rings", error)
        }
        guard case .success(let (rings, rawRingFD)) = madeRings else { return }
        let ringFD = OwnedDescriptor(rawRingFD)
        var pid: pid_t = 0
        let argv = [launch.path] + launch.arguments
        let shared = SharedProgress.create()
        let progressFD = OwnedDescriptor(shared?.1 ?? -1)
        // Without a pipe for its standard error the worker writes straight to the parent's, and a crash's message
        // is not kept: worth a worker all the same.
        let stderrPipe = try? Syscall.pipe().get()
        let stderrRead = OwnedDescriptor(stderrPipe?.read ?? -1)
        let stderrWrite = OwnedDescriptor(stderrPipe?.write ?? -1)
        let result = withCStrings(argv) { argv in
            withCStrings(lanes.environment(launch.environment, passing: launch.passedDescriptors.count)) { envp in
                triad_spawn_passing(
                    launch.path, argv, envp, childEnd.raw, lifeRead.raw, progressFD.raw, stderrWrite.raw,
                    laneFDs + [ringFD.raw] + launch.passedDescriptors,
                    Int32(laneFDs.count + 1 + launch.passedDescriptors.count), &pid
                )
            }
        }
        // The child's ends are the child's now: the parent keeps none, so it sees the end of the stream when the
        // child and every process it started have closed them.
        childEnd.close()
        lifeRead.close()
        progressFD.close()
        stderrWrite.close()
        ringFD.close()
        guard result == 0 else {
            shared?.0.unmap()
            rings.close()
            lanes.close()
            return fail("posix_spawn", Errno(rawValue: result))
        }
        _ = Syscall.setNonBlocking(parentEnd.raw)
        if stderrRead.raw >= 0 { _ = Syscall.setNonBlocking(stderrRead.raw) }
        let worker = WorkerProcess(
            id: id,
            pid: pid,
            channel: parentEnd.release(),
            lifeline: lifeWrite.release(),
            wakeFD: wakeFD.release(),
            pidFD: triad_pidfd_open(pid),
            stderrFD: stderrRead.release(),
            progress: shared?.0,
            lanes: lanes,
            rings: rings,
            maxPayload: launch.maxPayload
        )
        DedicatedThread.start(name: "triad-worker") {
            worker.drive(launch: launch, supervisor: supervisor)
        }
    }

    // MARK: - Used by the supervisor, from any thread

    /// Whether the worker marks the jobs it starts in a shared page.
    var tracksProgress: Bool { progress != nil }

    /// The job the worker started last, while it is alive and tracks progress. Its result may still be on its
    /// way: the worker sends the results of quick jobs together.
    var startedJob: StartedJob? {
        // The page is unmapped only after the worker is reaped, which clears `alive` under the same lock.
        alive.withLock { alive in alive ? progress?.lastStarted : nil }
    }

    /// Writes `message` into the worker's ring, as much as fits now; the driver writes the rest.
    func send(_ message: OutgoingMessage) {
        let message = lanes.externalize(message)
        output.withLock { output in
            output.pending.append(message)
            let (ringWorker, remains) = output.flush()
            // Under the lock, where the descriptors are known to be open: `finish()` closes them only after it has
            // let go of the writer under the same lock.
            if ringWorker { RingDoorbell.ring(channel) }
            if remains { Syscall.signalEventFD(wakeFD) }
        }
    }

    /// Tells the worker, after everything queued, that no more jobs come, so it finishes and exits.
    func closeWhenFlushed() {
        var goodbye = OutgoingMessage()
        goodbye.appendFrame(kind: WorkerFrameKind.goodbye, payload: [])
        send(goodbye)
    }

    /// Sends `signal` to the worker unless it has already been reaped.
    func signal(_ signal: Int32) {
        alive.withLock { alive in
            if alive { Syscall.kill(pid, signal) }
        }
    }

    /// Wakes the driver thread, so it runs its supervisor's timers and writes what is queued.
    func wake() {
        output.withLock { output in
            if output.writer != nil { Syscall.signalEventFD(wakeFD) }
        }
    }

    /// Reads up to `maxBytes` of the worker's results on the calling thread and hands them to `supervisor`, unless
    /// another thread is reading them now: for a thread that blocks waiting for a job, or a task about to suspend
    /// for one, so that its result reaches it without a hand-off from the driver thread. Never waits for the lock.
    func assist(supervisor: any WorkerSupervisor, maxBytes: Int = WorkerProcess.maxBytesPerPass) {
        let (pass, violated) = incoming.withLockIfAvailable { assembly in
            (readResults(assembly, supervisor: supervisor, maxBytes: maxBytes), assembly.violation != nil)
        } ?? ((active: false, tick: nil, capped: false), false)
        // The driver ends a worker that broke the protocol, starts watching the time limits of the jobs that start
        // once their predecessors' results are in, and reads what a pass that reached its bound left: it must hear
        // of all three, parked as it may be.
        if violated || pass.capped || (pass.active && supervisor.workerWatchesTimers(self)) { wake() }
    }

    /// Whether the pool has work in flight on this worker, so that results may come from it: a waiting thread or
    /// an awaiting task assists only such workers. A hint, as fresh as the pool's last state change; the thread
    /// that submitted a job sees the change that sent it.
    var hasWorkInFlight: Bool { workInFlight.load(ordering: .relaxed) }

    /// Records whether the pool has work in flight on this worker (see ``hasWorkInFlight``); the supervisor calls
    /// it under the lock of its state, so the changes follow each other as the state's do. Writes only a change,
    /// so that the flag's cache line stays shared while the worker stays busy.
    func noteWorkInFlight(_ busy: Bool) {
        if workInFlight.load(ordering: .relaxed) != busy { workInFlight.store(busy, ordering: .relaxed) }
    }

    /// Starts assisting (see ``assist(supervisor:)``): while any thread assists, the driver's flag in the result
    /// ring stays lowered, so the worker does not ring a parked driver for results that the assisting thread reads.
    ///
    /// Returns whether the worker's thread, active, runs on the calling thread's CPU now: a thread that waits for
    /// it should then yield its CPU rather than pause it.
    func beginAssist() -> Bool {
        // Under the reading side's lock, which the driver holds for its own flag changes, and which says whether
        // the rings are still mapped.
        incoming.withLock { assembly in
            startAssisting(assembly)
            return sharesCallersCPU(assembly)
        }
    }

    /// Starts assisting as ``beginAssist()`` does, unless another thread is reading the results now (the driver,
    /// most often, delivering a batch): then it returns false at once, and the caller does not assist, since the
    /// results are on their way. For an awaiting task, which must not wait for a lock that a driver holds while
    /// it delivers hundreds of results.
    ///
    /// Returns nil when it does not assist, else whether the worker's thread runs on the calling thread's CPU, as
    /// ``beginAssist()`` does.
    func tryBeginAssist() -> Bool? {
        incoming.withLockIfAvailable { assembly in
            startAssisting(assembly)
            return sharesCallersCPU(assembly)
        }
    }

    /// Whether the worker's thread, active, runs on the calling thread's CPU (see `RingFrameSource.receive()`);
    /// under `incoming`'s lock.
    private func sharesCallersCPU(_ assembly: ResultAssembly) -> Bool {
        !assembly.closed && jobFlags.readerSpin == .sameCPU
    }

    private func startAssisting(_ assembly: ResultAssembly) {
        guard !assembly.closed else { return }
        if assisting.wrappingAdd(1, ordering: .relaxed).oldValue == 0 {
            resultFlags.lowerWaitingForBytes()
            // The worker then spins 10 µs, not 1, before it yields between jobs: the next job follows each
            // result at once (see `IdleWaiter.step(now:peer:)`).
            resultFlags.markReaderSpinning(true)
        }
    }

    /// Stops assisting. The last thread to stop raises the driver's flag again and looks at the ring once more:
    /// what came in meanwhile either made the worker ring, or is seen here and the driver is woken for it. If
    /// another thread holds the reading side's lock, it does not wait for it (an awaiting task must not): the last
    /// thread to stop then wakes the driver, which raises its flag itself before it parks.
    func endAssist() {
        let ended = incoming.withLockIfAvailable { assembly -> Bool in
            guard !assembly.closed, assisting.load(ordering: .relaxed) > 0 else { return false }
            guard assisting.wrappingSubtract(1, ordering: .relaxed).oldValue == 1 else { return false }
            resultFlags.markReaderSpinning(false)
            resultFlags.raiseWaitingForBytes()
            return resultFlags.hasBytes()
        }
        if let wakeDriver = ended {
            if wakeDriver { wake() }
            return
        }
        var count = assisting.load(ordering: .relaxed)
        while count > 0 {
            let (exchanged, original) = assisting.compareExchange(
                expected: count, desired: count - 1, ordering: .relaxed
            )
            if exchanged { break }
            count = original
        }
        if count == 1 { wake() }
    }

    /// Reads what the result ring holds, up to a bound, and hands the complete results to `supervisor`; called
    /// under `incoming`'s lock. Returns whether any bytes came, and when to tick next: as the supervisor said, if it
    /// took results, else at once if bytes came. A protocol violation is kept in `assembly` for the driver, which
    /// ends the worker.
    private func readResults(
        _ assembly: ResultAssembly,
        supervisor: any WorkerSupervisor,
        maxBytes: Int = WorkerProcess.maxBytesPerPass
    ) -> (active: Bool, tick: TickAfterResults?, capped: Bool) {
        guard !assembly.closed, assembly.violation == nil else { return (false, nil, false) }
        var results: [IncomingResult] = []
        // Data frames decoded straight out of the lane, once the supervisor has had them.
        var mapped = 0
        var movedThisPass = 0
        func incoming(_ header: ResultHeader, _ items: [ReceivedFrame]) -> IncomingResult {
            IncomingResult(sequence: header.sequence, first: Int(header.first), jobs: Int(header.jobs), items: items)
        }
        do {
            while true {
                while let raw = try assembly.reader.nextBuffered() {
                    let frame = try lanes.resolve(raw, inPlace: assembly.header != nil)
                    if let header = assembly.header {
                        guard frame.kind == WorkerFrameKind.data else {
                            throw WorkerLoop.ProtocolError(description: "a result item is not a data frame")
                        }
                        assembly.items.append(frame)
                        if assembly.items.count == Int(header.count) {
                            mapped += assembly.items.count { $0.isInLane }
                            results.append(incoming(header, assembly.items))
                            assembly.header = nil
                            assembly.items = []
                        }
                    } else {
                        guard frame.kind == WorkerFrameKind.result, let header = ResultHeader(payload: frame.payload)
                        else {
                            throw WorkerLoop.ProtocolError(
                                description: "expected a result header, got a frame of kind \(frame.kind)"
                            )
                        }
                        if header.count == 0 {
                            results.append(incoming(header, []))
                        } else {
                            assembly.header = header
                            assembly.items.reserveCapacity(Int(min(header.count, 1 << 16)))
                        }
                    }
                }
                var ringWorker = false
                let moved = try assembly.reader.fill(ringWriter: &ringWorker)
                if ringWorker { RingDoorbell.ring(channel) }
                guard moved > 0 else { break }
                // Hand over what has come (and let the driver look at its timers) however fast results come.
                movedThisPass += moved
                if movedThisPass >= maxBytes { break }
            }
        } catch {
            assembly.violation = error
        }
        var tick: TickAfterResults? = movedThisPass > 0 ? .tickNow : nil
        if !results.isEmpty {
            tick = supervisor.worker(self, didReceive: results)
            // Every delivery decoded its items during the call; their lane slots may be reused now.
            lanes.release(mapped)
        }
        return (movedThisPass > 0, tick, movedThisPass >= maxBytes)
    }

    // MARK: - The driver thread

    private func drive(launch: WorkerLaunch, supervisor: any WorkerSupervisor) {
        let reader = SocketFrameReader(fd: channel, maxPayload: launch.maxPayload)
        var lastWords = WorkerOutput(fd: stderrFD)
        switch handshake(reader: reader, launch: launch, lastWords: &lastWords) {
        case .success:
            supervisor.workerDidStart(self)
            var violation = serve(launch: launch, supervisor: supervisor, lastWords: &lastWords)
            let exit = finish(lastWords: &lastWords)
            // A worker killed by a signal in the middle of a message crashed: the signal, not the cut, says why.
            if exit.signal != nil, (violation?.underlying as? WireError)?.code == .truncated { violation = nil }
            let lastStarted = progress?.lastStarted
            progress?.unmap()
            supervisor.worker(self, didExit: exit, violation: violation, lastStarted: lastStarted)
        case .failure(let failure):
            signal(SIGKILL)
            let exit = finish(lastWords: &lastWords)
            progress?.unmap()
            let error = failure.exitedEarly ? failure.error.adding(" (the worker \(exit))") : failure.error
            supervisor.workerDidFailToStart(id: id, error: error, permanent: failure.permanent)
        }
    }

    private struct StartFailure: Error {
        var error: ExecutorError
        var permanent: Bool
        var exitedEarly = false
    }

    private func handshake(
        reader: SocketFrameReader,
        launch: WorkerLaunch,
        lastWords: inout WorkerOutput
    ) -> Result<Void, StartFailure> {
        let deadline = launch.handshakeTimeout.deadline(after: Syscall.now())
        while true {
            do {
                if let frame = try reader.nextBuffered() {
                    return check(hello: frame, launch: launch)
                }
            } catch {
                return .failure(
                    StartFailure(
                        error: ExecutorError.noHandshake(pid: pid, underlying: error),
                        permanent: true
                    )
                )
            }
            let now = Syscall.now()
            guard now < deadline else {
                return .failure(
                    StartFailure(
                        error: ExecutorError.handshakeTimedOut(
                            pid: pid, path: launch.path, after: launch.handshakeTimeout
                        ),
                        permanent: true
                    )
                )
            }
            var fds = [
                pollfd(fd: channel, events: Int16(POLLIN), revents: 0),
                pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: lastWords.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            _ = Syscall.poll(&fds, timeout: deadline.pollTimeout(from: now))
            if fds[2].revents != 0 { lastWords.drain() }
            let processEnded = fds[1].revents != 0
            let streamEnded: Bool
            switch reader.fill() {
            case .success(0): streamEnded = true
            case .failure(.again): streamEnded = processEnded
            default: streamEnded = false
            }
            if streamEnded {
                return .failure(
                    StartFailure(
                        error: ExecutorError.endedBeforeHandshake(pid: pid, path: launch.path),
                        permanent: false,
                        exitedEarly: true
                    )
                )
            }
        }
    }

    private func check(hello frame: Frame, launch: WorkerLaunch) -> Result<Void, StartFailure> {
        func refuse(_ message: String) -> Result<Void, StartFailure> {
            .failure(StartFailure(error: ExecutorError.handshakeRefused(message), permanent: true))
        }
        guard frame.kind == WorkerFrameKind.hello,
            let hello = try? WireDecoder().decode(WorkerHello.self, from: frame.payload)
        else {
            return refuse("worker process \(pid) sent a frame of kind \(frame.kind) instead of its hello")
        }
        guard hello.version == WorkerHello.currentVersion else {
            return refuse(
                "worker process \(pid) speaks worker protocol version \(hello.version), this pool speaks "
                    + "\(WorkerHello.currentVersion); rebuild the worker program from the same sources"
            )
        }
        let expected = WorkerEnvironment.identity(ofExecutableAt: launch.path)
        guard hello.identity == expected else {
            return refuse(
                "worker process \(pid) runs a different binary than \(launch.path) (identity "
                    + "\(String(hello.identity, radix: 16)) instead of \(String(expected ?? 0, radix: 16))); "
                    + "the program was probably rebuilt while the pool ran: start the pool again"
            )
        }
        return .success(())
    }

    /// Reads, writes and ticks until the worker ends. Returns the protocol violation that ended it, if any.
    private func serve(
        launch: WorkerLaunch,
        supervisor: any WorkerSupervisor,
        lastWords: inout WorkerOutput
    ) -> ExecutorError? {
        var nextTick: UInt64? = 0
        var waiter = IdleWaiter(launch.idle)
        var wantsSpinning: Bool?
        // Set once the socket has ended or the pidfd says the process ended. The ring is read once more after
        // that, since the worker wrote everything it wrote before it ended; then the worker counts as gone, whoever
        // else (a process a job started) still holds the socket.
        var ended = false
        func violated(_ error: any Error) -> ExecutorError {
            signal(SIGKILL)
            return ExecutorError.brokeProtocol(pid: pid, underlying: error)
        }
        while true {
            let endedBeforeReading = ended
            // Read what the ring holds and hand complete results over.
            let (read, violation) = incoming.withLock { assembly in
                (readResults(assembly, supervisor: supervisor), assembly.violation)
            }
            if let violation { return violated(violation) }
            let active = read.active
            switch read.tick {
            case .tickNow?: nextTick = 0
            case .next(let next)?: nextTick = next
            case nil: break
            }
            if endedBeforeReading {
                lastWords.drain()
                // Whether the end of the stream or of the process came first, a message cut short is reported.
                let error = incoming.withLock { assembly -> WireError? in
                    if let error = assembly.reader.endOfStreamError() { return error }
                    guard let header = assembly.header else { return nil }
                    return WireError(
                        .truncated,
                        "the stream ended after \(assembly.items.count) of the \(header.count) items of a result"
                    )
                }
                if let error { return ExecutorError.brokeOff(pid: pid, underlying: error) }
                return nil
            }
            // Write what did not fit in the ring before.
            let (ringWorker, remains, outputViolation) = output.withLock { output in
                let (ringWorker, remains) = output.flush()
                return (ringWorker, remains, output.violation)
            }
            if let outputViolation { return violated(outputViolation) }
            if ringWorker { RingDoorbell.ring(channel) }
            let now = Syscall.now()
            if let tick = nextTick, tick <= now {
                nextTick = supervisor.workerTick(self, now: now)
            }
            if active {
                waiter.reset()
                wantsSpinning = nil
                continue
            }
            // Follow the idle schedule while a result or the next job may come at once; otherwise park now. The
            // supervisor is asked once per idle spell, not at every turn: it takes the pool's lock. (While it spins,
            // the driver does not look at its wake descriptor, so a timer asked for then runs up to a spell late.)
            // While a thread assists, it reads the results itself, and a driver that spun or yielded as well would
            // only take a CPU from it or from the worker: the driver parks at once.
            if wantsSpinning == nil { wantsSpinning = supervisor.workerWantsSpinning(self) }
            if wantsSpinning == true && assisting.load(ordering: .relaxed) == 0 && !waiter.pause(now: now) { continue }
            // Park: raise the flags, look once more, then poll until the worker rings, the pool wakes this
            // driver, the process ends or a timer is due.
            if remains { output.withLock { $0.writer?.raiseWaitingForRoom() } }
            let ready: Bool
            do {
                let room = remains ? try output.withLock { output throws(WireError) in try output.writer?.room() ?? 0 } : 0
                let hasBytes = try incoming.withLock { assembly throws(WireError) in
                    // While a thread assists, it reads the results, and the worker need not ring this driver. (An
                    // assist that ended without this lock left the flags to the driver: see `endAssist()`.)
                    if assisting.load(ordering: .relaxed) == 0 {
                        resultFlags.markReaderSpinning(false)
                        resultFlags.raiseWaitingForBytes()
                    }
                    return try assembly.reader.ringHasBytes()
                }
                ready = hasBytes || room > 0
            } catch {
                return violated(error)
            }
            if !ready {
                var fds = [
                    pollfd(fd: channel, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: lastWords.descriptor, events: Int16(POLLIN), revents: 0),
                ]
                _ = Syscall.poll(&fds, timeout: nextTick.map { $0.pollTimeout(from: now) } ?? -1)
                if fds[0].revents != 0, RingDoorbell.drain(channel) { ended = true }
                if fds[1].revents != 0 {
                    Syscall.drainEventFD(wakeFD)
                    nextTick = 0
                }
                if fds[2].revents != 0 { ended = true }
                if fds[3].revents != 0 { lastWords.drain() }
            }
            incoming.withLock { _ in resultFlags.lowerWaitingForBytes() }
            if remains { output.withLock { $0.writer?.lowerWaitingForRoom() } }
            waiter.reset()
            wantsSpinning = nil
        }
    }

    /// The most bytes the driver reads from the ring before it hands results over and looks at its timers.
    static let maxBytesPerPass = 4 << 20

    /// Closes the socket, reaps the child (killing it if it lingers) and releases every descriptor.
    private func finish(lastWords: inout WorkerOutput) -> WorkerExit {
        // Nothing is written into the rings, and no other thread touches the socket or the wake descriptor, from
        // now on.
        output.withLock { output in
            output.writer = nil
            output.pending = OutgoingMessage()
        }
        // Nor read: an assisting thread finds the reading side closed.
        incoming.withLock { $0.closed = true }
        Syscall.close(channel)
        rings.close()
        // A worker whose stream ended exits on its own; one that lingers past two seconds is killed.
        if pidFD >= 0 {
            if case .success(0) = Syscall.poll(pidFD, events: Int16(POLLIN), timeoutMilliseconds: 2_000) {
                signal(SIGKILL)
                _ = Syscall.poll(pidFD, events: Int16(POLLIN), timeoutMilliseconds: -1)
            }
        } else {
            let deadline = Syscall.now() + 2_000_000_000
            while !Syscall.hasEnded(pid) {
                if Syscall.now() > deadline { signal(SIGKILL) }
                _ = Syscall.poll(lifeline, events: 0, timeoutMilliseconds: 2)
            }
        }
        // Reaped under the lock, so a signal is never sent to a pid the kernel may have handed on.
        let status = alive.withLock { alive -> Int32? in
            alive = false
            return try? Syscall.reap(pid).get()
        }
        lastWords.drain()
        lastWords.close()
        Syscall.close(lifeline)
        Syscall.close(wakeFD)
        if pidFD >= 0 { Syscall.close(pidFD) }
        lanes.close()
        let output = lastWords.lastLines
        guard let status else { return WorkerExit(pid: pid, signal: nil, exitStatus: nil, lastOutput: output) }
        if triad_wifsignaled(status) != 0 {
            return WorkerExit(pid: pid, signal: triad_wtermsig(status), exitStatus: nil, lastOutput: output)
        }
        return WorkerExit(pid: pid, signal: nil, exitStatus: triad_wexitstatus(status), lastOutput: output)
    }
}

/// The reading side of a worker's result ring and the result being assembled from it, guarded by the worker's
/// `incoming` lock.
private final class ResultAssembly {
    let reader: RingFrameReader
    /// The header of the result being assembled, and its items received so far.
    var header: ResultHeader?
    var items: [ReceivedFrame] = []
    /// A protocol violation found while reading, kept for the driver, which ends the worker.
    var violation: (any Error)?
    /// Set before the rings are unmapped; nothing is read afterwards.
    var closed = false

    init(_ reader: RingFrameReader) { self.reader = reader }
}

/// Calls `body` with a NULL-terminated array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
#endif
