import Logging
import ServiceLifecycle
import Synchronization
import TriadCore

/// How an ``ExecutorService`` drains its executor when its service group shuts down gracefully.
public struct DrainPolicy: Sendable, Hashable {
    /// How long the jobs allowed to finish have, from the start of the drain, before the executor is stopped at
    /// once. Defaults to 30 seconds.
    public var gracePeriod: Duration
    /// Whether the jobs that have not started fail at once with `ExecutorError.Code.shutDown` instead of running
    /// within the grace period. Defaults to `false`: every job accepted before the drain runs.
    public var cancelPending: Bool

    /// Makes a drain policy.
    ///
    /// - Parameters:
    ///   - gracePeriod: How long the jobs allowed to finish have before the executor is stopped at once.
    ///   - cancelPending: Whether jobs that have not started fail at once instead of running.
    public init(gracePeriod: Duration = .seconds(30), cancelPending: Bool = false) {
        self.gracePeriod = gracePeriod
        self.cancelPending = cancelPending
    }
}

/// Any executor as a swift-service-lifecycle `Service`, so that it starts and stops with the application.
///
/// Put it in the application's `ServiceGroup` beside the HTTP server:
///
/// ```swift
/// let pool = ProcessPoolExecutor(workers: 4)
/// let group = ServiceGroup(
///     services: [ExecutorService(pool, name: "thumbnails"), server],
///     gracefulShutdownSignals: [.sigterm],
///     cancellationSignals: [.sigint],
///     logger: logger
/// )
/// try await group.run()
/// ```
///
/// ``run()`` serves until the group shuts down gracefully (the orchestrator's SIGTERM, say). Then it drains: the
/// executor stops accepting jobs, so a `submit` throws `ExecutorError.Code.shutDown`; the jobs already
/// accepted run, within ``DrainPolicy/gracePeriod`` (the pending ones fail at once with
/// ``DrainPolicy/cancelPending``). What is still running when the grace period ends is stopped at once: a process
/// pool kills its workers, and their jobs fail with `ExecutorError.Code.cancelled`. Cancellation of the
/// group, such as a second signal listed in its `cancellationSignals`, or a graceful shutdown that the group's own
/// limit cut short, stops the executor at once too. Threads cannot be killed: an executor that is not an
/// `InterruptibleExecutor` (the thread pool, the loop's executor) cancels its pending jobs and leaves
/// the running ones to finish on their own.
///
/// The service logs the drain at `notice`, and a drain that had to stop jobs at `warning`, with the executor's name
/// as `executor` metadata.
public struct ExecutorService<Wrapped: Executor>: Service, CustomStringConvertible {
    /// The executor the service runs.
    public let executor: Wrapped
    /// How the service drains the executor at graceful shutdown.
    public let drain: DrainPolicy
    /// The name the service logs under, as `executor` metadata.
    public let name: String
    private let logger: Logger

    /// Makes a service of `executor`.
    ///
    /// - Parameters:
    ///   - executor: The executor; the service shuts it down when the group shuts down.
    ///   - name: The name the service logs under; the executor's type by default.
    ///   - drain: How to drain at graceful shutdown.
    ///   - logger: Where the drain is logged.
    public init(
        _ executor: Wrapped,
        name: String? = nil,
        drain: DrainPolicy = DrainPolicy(),
        logger: Logger = Logger(label: "triad.executor")
    ) {
        self.executor = executor
        self.drain = drain
        self.name = name ?? String(describing: Wrapped.self)
        var logger = logger
        logger[metadataKey: "executor"] = "\(self.name)"
        self.logger = logger
    }

    /// The service's name, for the service group's logs.
    public var description: String { "ExecutorService(\(name))" }

    /// Serves until the group shuts down, then drains the executor as ``drain`` says. Returns once the executor
    /// has stopped; never throws.
    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            // Cancelled before any graceful shutdown: the group is going down at once.
            logger.notice("the service group was cancelled; stopping the executor at once")
            await stopNow()
            return
        }
        logger.notice(
            "draining: no new jobs; the jobs accepted have \(drain.gracePeriod) to finish",
            metadata: ["cancelPending": "\(drain.cancelPending)"]
        )
        await executor.shutdown(wait: false, cancelPending: drain.cancelPending)
        switch await waitForDrain() {
        case .drained:
            logger.notice("drained: every accepted job finished")
        case .gracePeriodOver:
            logger.warning("the grace period of \(drain.gracePeriod) is over; stopping the jobs still running")
            await stopNow()
        case .cancelled:
            logger.warning("the service group was cancelled while draining; stopping the jobs still running")
            await stopNow()
        }
    }

    private enum DrainOutcome: Sendable {
        case drained, gracePeriodOver, cancelled
    }

    /// Waits for the executor to finish its jobs, for the grace period to end, or for this task to be cancelled,
    /// whichever comes first.
    private func waitForDrain() async -> DrainOutcome {
        let race = DrainRace()
        let executor = self.executor
        let gracePeriod = drain.gracePeriod
        // Unstructured, so that an executor that cannot be stopped does not hold the service past its grace period.
        Task {
            await executor.shutdown(wait: true, cancelPending: false)
            race.finish(.drained)
        }
        let timer = Task {
            try? await Task.sleep(for: gracePeriod)
            race.finish(.gracePeriodOver)
        }
        let outcome = await withTaskCancellationHandler {
            await race.outcome()
        } onCancel: {
            race.finish(.cancelled)
        }
        timer.cancel()
        return outcome
    }

    /// Stops the executor at once when it can, else cancels its pending jobs.
    private func stopNow() async {
        if let interruptible = executor as? any InterruptibleExecutor {
            await interruptible.stopNow()
        } else {
            await executor.shutdown(wait: false, cancelPending: true)
        }
    }

    /// The first of the drain's outcomes to come, once.
    private final class DrainRace: Sendable {
        private let promise = Mutex(Promise<DrainOutcome>())

        func finish(_ outcome: DrainOutcome) {
            promise.withLock { $0.resolve(outcome) }?.run()
        }

        func outcome() async -> DrainOutcome {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<DrainOutcome, Never>) in
                if let outcome = promise.withLock({ $0.addWaiter(continuation) }) { continuation.resume(returning: outcome) }
            }
        }
    }
}
