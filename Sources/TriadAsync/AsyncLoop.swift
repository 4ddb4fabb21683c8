import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// An asyncio-style event loop: one thread that runs many tasks cooperatively, on SwiftNIO.
///
/// Every task the loop runs, with its structured children (`async let`, task groups) and the tasks that
/// ``createTask(name:_:)`` starts, runs on the loop's one thread. A task that waits (for a socket, a timer, a queue)
/// hands the thread to the next ready task, in the same round-robin order as asyncio.
///
/// ```swift
/// let pages = try await AsyncLoop.run { loop in
///     try await loop.gather(urls.map { url in { try await fetch(url) } })
/// }
/// ```
///
/// `AsyncLoop.run` is the analogue of `asyncio.run`: it makes a loop, runs the body on it, cancels what the body
/// left running, and shuts the loop down. A program that keeps a loop for longer makes one with
/// ``init(options:)``, calls ``run(_:)`` as often as it likes, and calls ``shutdown()`` at the end.
///
/// ## Escapes from the loop
/// Swift's task executor preference is not inherited by unstructured tasks, so code inside the loop that writes
/// `Task { }` or `Task.detached { }`, or that hops to the `MainActor` or another actor, runs *off* the loop thread.
/// Use ``createTask(name:_:)`` instead of `Task { }`. To keep even those on one thread, a program may opt in to
/// ``installAsGlobalExecutor(options:)``.
///
/// ## Blocking
/// A step that blocks the thread (a synchronous sleep, a CPU-heavy loop, a blocking read) stalls every task, as in
/// asyncio. The watchdog reports such steps through swift-log; move the work to ``toThread(_:)``.
public final class AsyncLoop: Sendable {
    /// How a loop is set up.
    public struct Options: Sendable {
        /// The watchdog's threshold: a step that holds the loop thread longer is reported. `nil` turns it off.
        public var watchdogThreshold: Duration?
        /// Where the watchdog and the report of unretrieved task errors write.
        public var logger: Logger
        /// Where the watchdog counts stalls (`triad_loop_stalls_total`) and records their lengths
        /// (`triad_loop_stall_seconds`); `nil` means the program's `MetricsSystem.factory`.
        public var metricsFactory: (any MetricsFactory)?

        /// Makes options.
        ///
        /// - Parameters:
        ///   - watchdogThreshold: Report steps that hold the thread longer than this (100 ms by default); `nil`
        ///     turns the watchdog off.
        ///   - logger: The logger for the watchdog and for errors nobody awaited; by default `triad.async`.
        ///   - metricsFactory: Where the watchdog's metrics go; by default the program's `MetricsSystem.factory`.
        public init(
            watchdogThreshold: Duration? = .milliseconds(100),
            logger: Logger = Logger(label: "triad.async"),
            metricsFactory: (any MetricsFactory)? = nil
        ) {
            self.watchdogThreshold = watchdogThreshold
            self.logger = logger
            self.metricsFactory = metricsFactory
        }
    }

    /// The NIO event loop under this loop, for NIO code (bootstraps, AsyncHTTPClient) that should run on it.
    public let eventLoop: any EventLoop
    /// The loop as a Swift task executor, for `Task(executorPreference:)` and `withTaskExecutorPreference`.
    public var taskExecutor: any TaskExecutor { executor }
    /// The loop's options.
    public let options: Options

    let executor: LoopExecutor
    let timers: LoopTimers
    let steps: StepMonitor
    let logger: Logger
    private let group: MultiThreadedEventLoopGroup?
    private let watchdog: Watchdog?
    private let state = Mutex(LoopState())

    /// The loop the current task runs in, when it was started by ``run(_:)`` or ``createTask(name:_:)``.
    @TaskLocal public static var current: AsyncLoop?

    /// Starts a loop on a new thread of its own.
    ///
    /// Call ``shutdown()`` when done; ``AsyncLoop/run(options:_:)`` does this for you.
    ///
    /// - Parameter options: The watchdog threshold and the logger.
    public convenience init(options: Options = Options()) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.init(eventLoop: group.next(), group: group, options: options)
    }

    init(eventLoop: any EventLoop, group: MultiThreadedEventLoopGroup?, options: Options) {
        self.eventLoop = eventLoop
        self.group = group
        self.options = options
        self.logger = options.logger
        let steps = StepMonitor()
        self.steps = steps
        self.executor = LoopExecutor(loop: eventLoop, steps: steps)
        self.timers = LoopTimers(loop: eventLoop)
        self.watchdog = options.watchdogThreshold.map {
            Watchdog(
                steps: steps, threshold: $0, logger: options.logger,
                metrics: options.metricsFactory ?? MetricsSystem.factory
            )
        }
    }

    /// Whether the caller runs on the loop thread.
    public var isCurrentThread: Bool { eventLoop.inEventLoop }

    /// Runs `body` on the loop and returns its value, suspending the caller meanwhile.
    ///
    /// The body and everything it starts through structured concurrency or ``createTask(name:_:)`` run on the
    /// loop thread. Cancelling the caller cancels the body.
    ///
    /// - Parameter body: The work, given this loop.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws; ``AsyncLoopError/Code/shutDown`` after ``shutdown()``.
    public func run<T: Sendable>(_ body: @escaping @Sendable (AsyncLoop) async throws -> T) async throws -> T {
        try checkOpen()
        let task = Task(executorPreference: executor) { [self] in
            let key = steps.registerCurrentTask(name: "main")
            defer { steps.unregister(key) }
            return try await AsyncLoop.$current.withValue(self) { try await body(self) }
        }
        return try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }

    /// The analogue of `asyncio.run`: makes a loop, runs `main` on it, cancels and awaits the tasks that
    /// `main` left running, shuts the loop down and returns `main`'s value.
    ///
    /// - Parameters:
    ///   - options: The new loop's options.
    ///   - main: The program's async entry point, given the loop.
    /// - Returns: What `main` returns.
    /// - Throws: What `main` throws.
    public static func run<T: Sendable>(
        options: Options = Options(),
        _ main: @escaping @Sendable (AsyncLoop) async throws -> T
    ) async throws -> T {
        let loop = AsyncLoop(options: options)
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await loop.run(main))
        } catch {
            outcome = .failure(error)
        }
        await loop.shutdown()
        return try outcome.get()
    }

    /// Runs ``run(options:_:)`` from synchronous code, blocking the calling thread until it finishes.
    ///
    /// Call it only from a thread outside Swift's cooperative pool, such as the main thread of a program with a
    /// synchronous `main`; from an async context use ``run(options:_:)``.
    ///
    /// - Parameters:
    ///   - options: The new loop's options.
    ///   - main: The program's async entry point, given the loop.
    /// - Returns: What `main` returns.
    /// - Throws: What `main` throws.
    public static func runBlocking<T: Sendable>(
        options: Options = Options(),
        _ main: @escaping @Sendable (AsyncLoop) async throws -> T
    ) throws -> T {
        let loop = AsyncLoop(options: options)
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = loop.eventLoop.makePromise(of: Void.self)
        Task(executorPreference: loop.executor) {
            let result: Result<T, any Error>
            do { result = .success(try await loop.run(main)) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.succeed()
        }
        try? done.futureResult.wait()
        try? loop.shutdownBlocking()
        return try outcome.withLock { $0! }.get()
    }

    /// Cancels the tasks still running, waits for them, and stops the loop thread.
    ///
    /// Afterwards ``run(_:)`` throws ``AsyncLoopError/Code/shutDown``. Shutting down twice is not an error.
    /// Do not call it from the loop thread itself. A task that ignores cancellation delays the shutdown until it
    /// returns, as in asyncio.
    public func shutdown() async {
        precondition(!eventLoop.inEventLoop, "AsyncLoop.shutdown() must not be called from the loop thread")
        let tasks = state.withLock { state -> [UInt64: @Sendable () async -> Void] in
            state.isShutDown = true
            return state.liveTasks
        }
        for (_, cancelAndWait) in tasks { await cancelAndWait() }
        timers.close()
        watchdog?.stop()
        try? await group?.shutdownGracefully()
    }

    private func shutdownBlocking() throws {
        state.withLock { $0.isShutDown = true }
        timers.close()
        watchdog?.stop()
        try group?.syncShutdownGracefully()
    }

    /// The number of sleeps waiting on the loop's timer, cancelled ones not yet swept included: a test hook.
    package var pendingSleeps: Int { timers.pendingCount }

    func checkOpen() throws(AsyncLoopError) {
        if state.withLock({ $0.isShutDown }) { throw AsyncLoopError.shutDownError }
    }

    /// Tracks a task that `createTask` started, so that shutdown can cancel it. Returns its key.
    func track(_ cancelAndWait: @escaping @Sendable () async -> Void) -> UInt64 {
        state.withLock { state in
            let key = state.nextTaskKey
            state.nextTaskKey += 1
            state.liveTasks[key] = cancelAndWait
            return key
        }
    }

    func untrack(_ key: UInt64) {
        _ = state.withLock { $0.liveTasks.removeValue(forKey: key) }
    }
}

private struct LoopState {
    var isShutDown = false
    var nextTaskKey: UInt64 = 0
    var liveTasks: [UInt64: @Sendable () async -> Void] = [:]
}

extension AsyncLoop {
    /// Makes this process's whole Swift concurrency run on one loop thread: even `Task {}`, `Task.detached` and
    /// the global executor's work then run on the returned loop (strict mode).
    ///
    /// This installs NIO's singleton event-loop group, sized to one loop, as Swift's global executor. It is
    /// process-wide and cannot be undone, so it is opt-in. Call it once, from the main thread, at the very start
    /// of the program, before any task runs and before anything uses NIO's singletons.
    /// The returned loop is never shut down.
    ///
    /// - Parameter options: The loop's options.
    /// - Returns: The loop, or `nil` if the runtime refused the hook (for example on Windows).
    public static func installAsGlobalExecutor(options: Options = Options()) -> AsyncLoop? {
        NIOSingletons.groupLoopCountSuggestion = 1
        guard NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() else {
            return nil
        }
        return AsyncLoop(eventLoop: MultiThreadedEventLoopGroup.singleton.next(), group: nil, options: options)
    }
}
