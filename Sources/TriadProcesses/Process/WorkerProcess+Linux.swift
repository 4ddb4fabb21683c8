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

/// What one worker reports to whoever supervises it. Every call comes from the worker's own driver thread.
protocol WorkerSupervisor: AnyObject, Sendable {
    func workerDidStart(_ worker: WorkerProcess)
    func workerDidFailToStart(id: Int, error: ExecutorError, permanent: Bool)
    func worker(_ worker: WorkerProcess, didReceive results: [IncomingResult])
    /// Whether results are expected soon, so the driver spins briefly before it parks.
    func workerExpectsResults(_ worker: WorkerProcess) -> Bool
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
    /// Descriptors the child inherits from fd 8 up (a `Process`'s passed pipes, queues and segments).
    var passedDescriptors: [Int32] = []
    /// Payloads of at least this many bytes travel through the worker's shared lanes; nil: always inline.
    var sharedPayloadThreshold: Int? = nil
}

/// One worker process and the dedicated thread that drives it: spawns it, checks its handshake, writes what is
/// queued for it, reads its results, runs its supervisor's timers and reaps it. This is the reusable unit of
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
    private let progress: SharedProgress?
    private let output = Mutex(Output())
    // Guards the pid against reuse: a signal is sent only while the child has not been reaped.
    private let alive = Mutex(true)

    private struct Output {
        var pending = OutgoingMessage()
        var flushing = false
        var closeRequested = false
    }

    private init(
        id: Int, pid: pid_t, channel: Int32, lifeline: Int32, wakeFD: Int32, pidFD: Int32, stderrFD: Int32,
        progress: SharedProgress?, lanes: SharedFrameLanes
    ) {
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
                    laneFDs + launch.passedDescriptors, Int32(laneFDs.count + launch.passedDescriptors.count), &pid
                )
            }
        }
        // The child's ends are the child's now: the parent keeps none, so it sees the end of the stream when the
        // child and every process it started have closed them.
        childEnd.close()
        lifeRead.close()
        progressFD.close()
        stderrWrite.close()
        guard result == 0 else {
            shared?.0.unmap()
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
            lanes: lanes
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

    /// Queues `message` and writes as much as the socket takes now; the driver writes the rest.
    func send(_ message: OutgoingMessage) {
        let message = lanes.externalize(message)
        var batch = output.withLock { output -> OutgoingMessage? in
            output.pending.append(message)
            guard !output.flushing else { return nil }
            output.flushing = true
            defer { output.pending = OutgoingMessage() }
            return output.pending
        }
        guard var rest = batch.take() else { return }
        if case .success(let count) = SocketWriter.writeSome(channel, rest) { rest.dropFirst(count) }
        let needsDriver = output.withLock { output -> Bool in
            if !rest.isEmpty {
                rest.append(output.pending)
                output.pending = rest
            }
            output.flushing = false
            return !output.pending.isEmpty
        }
        if needsDriver { wake() }
    }

    /// Closes the parent's writing side once everything queued is written, so the worker ends at end of stream.
    func closeWhenFlushed() {
        output.withLock { $0.closeRequested = true }
        wake()
    }

    /// Sends `signal` to the worker unless it has already been reaped.
    func signal(_ signal: Int32) {
        alive.withLock { alive in
            if alive { Syscall.kill(pid, signal) }
        }
    }

    /// Wakes the driver thread, so it runs its supervisor's timers and writes what is queued.
    func wake() {
        Syscall.signalEventFD(wakeFD)
    }

    // MARK: - The driver thread

    private func drive(launch: WorkerLaunch, supervisor: any WorkerSupervisor) {
        let reader = SocketFrameReader(fd: channel, maxPayload: launch.maxPayload)
        var lastWords = WorkerOutput(fd: stderrFD)
        switch handshake(reader: reader, launch: launch, lastWords: &lastWords) {
        case .success:
            supervisor.workerDidStart(self)
            var violation = serve(reader: reader, supervisor: supervisor, lastWords: &lastWords)
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

    /// Reads, writes and ticks until the worker's stream ends. Returns the protocol violation that ended it, if any.
    private func serve(
        reader: SocketFrameReader,
        supervisor: any WorkerSupervisor,
        lastWords: inout WorkerOutput
    ) -> ExecutorError? {
        // The result being assembled: its header and the items received so far.
        var assemblingHeader: ResultHeader?
        var assemblingItems: [ReceivedFrame] = []
        func incoming(_ header: ResultHeader, _ items: [ReceivedFrame]) -> IncomingResult {
            IncomingResult(sequence: header.sequence, first: Int(header.first), jobs: Int(header.jobs), items: items)
        }
        var results: [IncomingResult] = []
        // Data frames decoded straight out of the lane, once the supervisor has had them.
        var mappedInResults = 0
        var nextTick: UInt64? = 0
        var spinUntil: UInt64 = 0
        var closed = false
        // Set once the pidfd says the process ended: what it wrote before is read, then the stream counts as
        // ended, whoever else (a process the job started) still holds the socket.
        var processEnded = false
        while true {
            // Read everything the socket holds and hand complete results over in one batch.
            var endOfStream = false
            readLoop: while true {
                do {
                    while let raw = try reader.nextBuffered() {
                        let frame = try lanes.resolve(raw, inPlace: assemblingHeader != nil)
                        if let header = assemblingHeader {
                            guard frame.kind == WorkerFrameKind.data else {
                                throw WorkerLoop.ProtocolError(description: "a result item is not a data frame")
                            }
                            assemblingItems.append(frame)
                            if assemblingItems.count == Int(header.count) {
                                mappedInResults += assemblingItems.count { $0.isInLane }
                                results.append(incoming(header, assemblingItems))
                                assemblingHeader = nil
                                assemblingItems = []
                            }
                        } else {
                            guard frame.kind == WorkerFrameKind.result,
                                let header = ResultHeader(payload: frame.payload)
                            else {
                                throw WorkerLoop.ProtocolError(
                                    description: "expected a result header, got a frame of kind \(frame.kind)"
                                )
                            }
                            if header.count == 0 {
                                results.append(incoming(header, []))
                            } else {
                                assemblingHeader = header
                                assemblingItems.reserveCapacity(Int(min(header.count, 1 << 16)))
                            }
                        }
                    }
                } catch {
                    signal(SIGKILL)
                    return ExecutorError.brokeProtocol(pid: pid, underlying: error)
                }
                switch reader.fill() {
                case .success(0):
                    endOfStream = true
                    break readLoop
                case .success:
                    continue
                case .failure:
                    endOfStream = processEnded
                    break readLoop
                }
            }
            if !results.isEmpty {
                supervisor.worker(self, didReceive: results)
                // Every delivery decoded its items during the call; their lane slots may be reused now.
                lanes.release(mappedInResults)
                mappedInResults = 0
                results.removeAll(keepingCapacity: true)
                spinUntil = 0
                nextTick = 0
            }
            if endOfStream {
                lastWords.drain()
                // Whether the end of the stream or of the process came first, a message cut short is reported.
                if let error = reader.endOfStreamError() {
                    return ExecutorError.brokeOff(pid: pid, underlying: error)
                }
                return nil
            }
            // Write what is queued, and close the writing side when asked and everything is out.
            let wantsWrite = flushPending(closed: &closed)
            let now = Syscall.now()
            if let tick = nextTick, tick <= now {
                nextTick = supervisor.workerTick(self, now: now)
            }
            // Spin briefly while a result is due: waking a parked CPU costs more than the spin.
            if supervisor.workerExpectsResults(self) && !wantsWrite {
                if spinUntil == 0 { spinUntil = now + 50_000 }
                if now < spinUntil {
                    triad_cpu_relax()
                    continue
                }
            }
            var fds = [
                pollfd(fd: channel, events: Int16(POLLIN) | (wantsWrite ? Int16(POLLOUT) : 0), revents: 0),
                pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: lastWords.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            _ = Syscall.poll(&fds, timeout: nextTick.map { $0.pollTimeout(from: now) } ?? -1)
            if fds[1].revents != 0 {
                Syscall.drainEventFD(wakeFD)
                nextTick = 0
            }
            if fds[2].revents != 0 { processEnded = true }
            if fds[3].revents != 0 { lastWords.drain() }
            spinUntil = 0
        }
    }

    /// Writes pending output without blocking. Returns whether some remains.
    private func flushPending(closed: inout Bool) -> Bool {
        let (batch, closeRequested) = output.withLock { output -> (OutgoingMessage?, Bool) in
            guard !output.flushing, !output.pending.isEmpty else { return (nil, output.closeRequested) }
            output.flushing = true
            defer { output.pending = OutgoingMessage() }
            return (output.pending, output.closeRequested)
        }
        guard var rest = batch else {
            if closeRequested && !closed {
                Syscall.shutdownWrite(channel)
                closed = true
            }
            return false
        }
        if case .success(let count) = SocketWriter.writeSome(channel, rest) { rest.dropFirst(count) }
        return output.withLock { output in
            if !rest.isEmpty {
                rest.append(output.pending)
                output.pending = rest
            }
            output.flushing = false
            return !output.pending.isEmpty
        }
    }

    /// Closes the socket, reaps the child (killing it if it lingers) and releases every descriptor.
    private func finish(lastWords: inout WorkerOutput) -> WorkerExit {
        Syscall.close(channel)
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

/// Calls `body` with a NULL-terminated array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
#endif
