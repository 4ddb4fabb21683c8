#if MPI && os(Linux)
import CTriadShims
import CoreMetrics
import Glibc
import Logging
import Synchronization
import TriadCore
import TriadProcesses

/// Rank 0's storage: the state behind its lock, the engine, and what the engine's thread does with each message.
final class ClusterStorage: EngineHandler, PoolWorkQueue, @unchecked Sendable {
    // Unchecked: `state` is behind its lock; the rest is immutable or atomic.
    let engine: MPIEngine
    let registry: JobRegistry
    let configuration: MPIExecutorConfiguration
    /// The configuration the process pool's map chunks read (their frame limit and default timeout).
    let chunkConfiguration: ProcessPoolConfiguration
    let state: Mutex<ClusterState>
    /// Where jobs are counted, if anywhere.
    let metrics: ExecutorMetrics?
    /// The configuration's logger, with the executor's name as `pool` metadata.
    let logger: Logger
    private let sequence = Atomic<UInt64>(1)
    private let shutdownWaiters = Mutex<(done: Bool, waiters: [UnsafeContinuation<Void, Never>])>((false, []))

    init(engine: MPIEngine, configuration: MPIExecutorConfiguration, registry: JobRegistry) {
        self.engine = engine
        self.registry = registry
        self.configuration = configuration
        var chunkConfiguration = ProcessPoolConfiguration(workers: max(1, engine.world.size - 1))
        chunkConfiguration.maxFrameSize = configuration.maxFrameSize
        chunkConfiguration.defaultTimeout = configuration.defaultTimeout
        self.chunkConfiguration = chunkConfiguration
        metrics = ExecutorMetrics.make(
            factory: configuration.metricsFactory, prefix: configuration.metricsLabelPrefix, name: configuration.name,
            inFlight: "messages_in_flight", workers: false
        )
        var logger = configuration.logger
        logger[metadataKey: "pool"] = "\(configuration.name)"
        self.logger = logger
        state = Mutex(
            ClusterState(
                worldSize: engine.world.size, depth: configuration.pipelineDepth,
                localPool: configuration.localPoolWorkers > 0, defaultTimeout: configuration.defaultTimeout
            )
        )
    }

    func start() {
        engine.attach(self)
        let configurations = (1..<engine.world.size).map { rank in
            var rankConfiguration = RankConfiguration(
                localPoolWorkers: configuration.localPoolWorkers, maxFrameSize: configuration.maxFrameSize,
                sharedMemoryThreshold: configuration.sharedMemoryThreshold
            )
            // A lane for each rank on this node (see `ClusterLanes`).
            if configuration.sharedMemoryThreshold != nil, engine.world.nodeRanks.contains(rank),
                let offer = engine.lanes.offer(to: rank)
            {
                rankConfiguration.lane = offer
            }
            let bytes = (try? WireEncoder().encode(rankConfiguration)) ?? []
            return Outbound(rank: rank, tag: ClusterTag.configuration, bytes: bytes)
        }
        engine.post(configurations)
    }

    func nextSequence() -> UInt64 { sequence.add(1, ordering: .relaxed).oldValue }

    /// Queues a message and sends what can go now.
    func enqueue(_ work: consuming PoolWork) throws(ExecutorError) {
        let (jobName, itemCount) = (work.jobName, work.itemCount)
        metrics?.job(jobName).submitted.increment(by: itemCount)
        var pending = Optional(consume work)
        let accepted = state.withLock { state -> Bool in
            guard !state.shuttingDown else { return false }
            state.queue.append(pending.take()!)
            return true
        }
        guard accepted else {
            metrics?.failed(jobName, code: ExecutorError.Code.shutDown.rawValue, count: itemCount)
            throw ExecutorError.shutDown(jobName: jobName)
        }
        engine.wake()
    }

    func cancel(root: UInt64) {
        if let message = state.withLock({ $0.cancel(root: root) }) { engine.post(message) }
    }

    /// None: a cluster's results come through its engine's thread alone.
    func assistWaiter() -> WaitAssistSession? { nil }

    /// Nothing, for the same reason: an awaiting task suspends at once.
    func assistAwaiter(until finished: () -> Bool) {}

    // MARK: - On the engine's thread

    func received(_ inbound: Inbound) {
        switch inbound {
        case .frames(let message):
            receivedResults(message)
        case .small(let source, let tag, let bytes):
            switch tag {
            case ClusterTag.hello:
                guard let hello = try? WireDecoder().decode(RankHello.self, from: bytes) else { return }
                state.withLock { state in
                    if let index = state.slots.firstIndex(where: { $0.rank == source }) {
                        state.slots[index].host = hello.host
                    }
                }
            case ClusterTag.failure:
                guard let failure = try? WireDecoder().decode(RankFailure.self, from: bytes) else { return }
                let (resolution, started) = state.withLock {
                    $0.answer(
                        rank: source, sequence: failure.sequence, first: failure.first, count: failure.count,
                        now: triad_monotonic_ns()
                    )
                }
                started?.markRunning()
                guard let resolution else { return }
                let error = ExecutorError(
                    ExecutorError.Code(failure.code),
                    jobName: nil,
                    message: "\(failure.message) (on \(resolution.origin))"
                )
                _ = resolution.sink.fail(error, jobs: resolution.first..<resolution.first + resolution.count)
            case ClusterTag.lanes:
                guard let answer = try? WireDecoder().decode(RankLanes.self, from: bytes),
                    let threshold = configuration.sharedMemoryThreshold
                else { return }
                let joined = engine.lanes.complete(
                    with: source, answer: answer.lane, threshold: threshold, maxPayload: configuration.maxFrameSize
                )
                let reply = RankLanes(lane: nil, accepted: joined)
                let replyBytes = (try? WireEncoder().encode(reply)) ?? []
                engine.post(Outbound(rank: source, tag: ClusterTag.lanes, bytes: replyBytes))
            case ClusterTag.bye:
                let all = state.withLock { state -> Bool in
                    if let index = state.slots.firstIndex(where: { $0.rank == source }) {
                        state.slots[index].saidBye = true
                    }
                    return state.slots.allSatisfy(\.saidBye)
                }
                if all { engine.requestFinish() }
            default:
                break
            }
        }
    }

    /// Hands each part of a rank's answer to the sink of its message.
    private func receivedResults(_ message: InboundFrames) {
        guard let frames = try? message.frames(maxPayload: configuration.maxFrameSize) else {
            report("rank \(message.source) sent a message that is not whole frames; ending the run")
            MPICalls.abort(code: 70)
        }
        var index = 0
        while index < frames.count {
            guard frames[index].kind == WorkerFrameKind.result,
                let header = ResultHeader(payload: frames[index].payload)
            else {
                let kind = frames[index].kind
                report("rank \(message.source) sent a frame of kind \(kind), not a result; ending the run")
                MPICalls.abort(code: 70)
            }
            let items = Array(frames[(index + 1)..<min(frames.count, index + 1 + Int(header.count))])
            index += 1 + Int(header.count)
            let (resolution, started) = state.withLock {
                $0.answer(
                    rank: message.source, sequence: header.sequence, first: Int(header.first), count: Int(header.jobs),
                    now: triad_monotonic_ns()
                )
            }
            started?.markRunning()
            guard let resolution else { continue }
            // The items point into `message`, which lives until this function returns. An ordered map's chunk
            // that met its first failure says so here; its other jobs are one message, already on their way.
            _ = RemoteOrigin.$current.withValue(resolution.origin) {
                resolution.sink.deliver(items, first: resolution.first, count: resolution.count)
            }
        }
    }

    func poll(now: UInt64) -> Bool {
        if let signal = pendingSignal() { stopBySignal(signal) }
        let (sends, started, expired, stops) = state.withLock { state in
            let (sends, started) = state.dispatch(now: now)
            let expired = state.inFlightCount > 0 ? state.expire(now: now) : []
            return (sends, started, expired, state.stopsIfDrained())
        }
        engine.post(sends)
        for sink in started { sink.markRunning() }
        for (resolution, error) in expired {
            logger.notice(
                "\(error.message)",
                metadata: [
                    "job": "\(error.jobName ?? "")", "code": "\(error.code.rawValue)", "origin": "\(resolution.origin)",
                ]
            )
            _ = resolution.sink.fail(error, jobs: resolution.first..<resolution.first + resolution.count)
        }
        engine.post(stops)
        return !sends.isEmpty || !expired.isEmpty || !stops.isEmpty
    }

    func finalized() {
        let waiters = shutdownWaiters.withLock { shutdown -> [UnsafeContinuation<Void, Never>] in
            shutdown.done = true
            defer { shutdown.waiters = [] }
            return shutdown.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: - Shutdown

    /// Stops accepting jobs; cancels the queued ones if asked; once every rank is drained, stops the ranks and
    /// finalises MPI. With `wait`, returns after that.
    func shutdown(wait: Bool, cancelPending: Bool) async {
        let (dropped, queued, first) = state.withLock { state -> ([PoolWork], Int, Bool) in
            let first = !state.shuttingDown
            state.shuttingDown = true
            let queued = state.queue.count
            return (cancelPending ? state.drainQueue() : [], queued, first)
        }
        if first {
            logger.notice(
                "shutting down: \(cancelPending ? "dropping" : "finishing") \(queued) queued messages",
                metadata: ["queued": "\(queued)", "cancelPending": "\(cancelPending)"]
            )
        }
        for work in dropped {
            _ = work.sink?.fail(ExecutorError.droppedAtShutdown(jobName: work.jobName), jobs: 0..<work.itemCount)
        }
        engine.wake()
        guard wait else { return }
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let done = shutdownWaiters.withLock { shutdown in
                if !shutdown.done { shutdown.waiters.append(continuation) }
                return shutdown.done
            }
            if done { continuation.resume() }
        }
    }

    /// How long a program that ends waits for the jobs still running on the ranks (those whose handles nobody
    /// awaited, or that ran past their timeout) before it ends the run instead.
    static let exitGrace: UInt64 = 10_000_000_000

    /// A shutdown for a program that ends without one: MPI must be finalised before the process exits, or
    /// `mpirun` reports the run as failed. A job still running after ``exitGrace`` (one that never ends, say)
    /// would hold the program forever: the run is then ended with `MPI_Abort`, naming the jobs.
    func shutdownAtExit() {
        guard !engine.isFinished else { return }
        let cancelled = state.withLock { state -> [PoolWork] in
            state.shuttingDown = true
            return state.drainQueue()
        }
        for work in cancelled {
            _ = work.sink?.fail(ExecutorError.droppedAtShutdown(jobName: work.jobName), jobs: 0..<work.itemCount)
        }
        let deadline = triad_monotonic_ns() + Self.exitGrace
        while !engine.isFinished {
            if triad_monotonic_ns() > deadline {
                let running = state.withLock { $0.inFlightReport }
                report(
                    "the program ended, but jobs still run after \(Self.exitGrace / 1_000_000_000) s: "
                        + running.joined(separator: "; ") + "; ending the run"
                )
                MPICalls.abort(code: 1)
            }
            engine.wake()
            usleep(1_000)
        }
    }

    var isShutDown: Bool { state.withLock { $0.shuttingDown } }

    // MARK: - Signals

    /// Ends this rank at a SIGINT or SIGTERM (mpirun sends SIGTERM to every rank when another rank died or when
    /// it was interrupted), after saying which job each rank was running.
    private func stopBySignal(_ signal: Int32) -> Never {
        let running = state.withLock { $0.inFlightReport }
        var text = "triad: rank 0 on host \(engine.world.host) stopped by signal \(signal)"
        text += running.isEmpty ? "; no job was running\n" : "; " + running.joined(separator: "; ") + "\n"
        report(text, raw: true)
        // mpirun forwards a rank's output through a pipe it stops reading once every rank is gone: give the line a
        // moment to get through before this rank goes.
        usleep(50_000)
        triad_reraise_default(signal)
        _exit(128 + signal)
    }

    private func report(_ text: String, raw: Bool = false) {
        let line = raw ? text : "triad: rank 0 on host \(engine.world.host): \(text)\n"
        _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
    }
}

// MARK: - Signals

private let caughtSignal = Atomic<Int32>(0)

private func clusterSignalHandler(_ signal: Int32) {
    caughtSignal.store(signal, ordering: .relaxed)
}

/// Makes SIGINT and SIGTERM set a flag that the engine's thread reads each round.
func installClusterSignalHandlers() {
    _ = triad_install_signal_handler(SIGINT, clusterSignalHandler)
    _ = triad_install_signal_handler(SIGTERM, clusterSignalHandler)
}

private func pendingSignal() -> Int32? {
    let signal = caughtSignal.load(ordering: .relaxed)
    return signal == 0 ? nil : signal
}
#endif
