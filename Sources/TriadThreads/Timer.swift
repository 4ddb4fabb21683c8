/// Runs an action once, on its own OS thread, after a delay, unless cancelled first: Python's `threading.Timer`.
///
/// ```swift
/// let timer = Timer(after: .seconds(2)) { print("two seconds passed") }
/// try timer.start()
/// timer.cancel()          // before the two seconds: the action never runs
/// ```
///
/// The action runs on the timer's own ``Thread``, never on Swift's cooperative pool.
public final class Timer: Sendable {
    /// How long after ``start()`` the action runs.
    public let interval: Duration

    private let cancelled = Event()
    private let fired = Event()
    private let thread: Thread<Void>

    /// Makes a timer that has not started.
    ///
    /// - Parameters:
    ///   - interval: The delay between ``start()`` and the action.
    ///   - name: The name of the timer's thread.
    ///   - daemon: Whether the timer's thread is a daemon (see ``Thread``). Timers are daemons by default, so a
    ///     pending timer does not hold up `Threading.joinNonDaemonThreads(timeout:)`.
    ///   - action: The code to run.
    public init(
        after interval: Duration,
        name: String? = nil,
        daemon: Bool = true,
        action: @escaping @Sendable () -> Void
    ) {
        self.interval = interval
        let cancelled = self.cancelled
        let fired = self.fired
        self.thread = Thread(name: name ?? "Timer", daemon: daemon) {
            do {
                try cancelled.wait(timeout: interval)
            } catch {
                // The interval passed without a cancellation: fire.
                fired.set()
                action()
            }
        }
    }

    /// Starts counting down.
    ///
    /// - Precondition: The timer has not been started before.
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/threadStartFailed`` if its thread cannot start.
    public func start() throws(ThreadingError) {
        try thread.start()
    }

    /// Stops the timer if its action has not started yet. Cancelling after it fired, or twice, is not an error.
    public func cancel() {
        cancelled.set()
    }

    /// Whether the action has started (it has fired).
    public var hasFired: Bool { fired.isSet }

    /// Whether the timer is counting down or running its action.
    public var isAlive: Bool { thread.isAlive }

    /// Blocks the calling OS thread until the timer has fired and its action returned, or was cancelled.
    ///
    /// This blocks an OS thread; from async code use the async `join()`.
    ///
    /// - Precondition: The timer was started.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func join() {
        try? thread.join()
    }

    /// Suspends the calling task until the timer has fired and its action returned, or was cancelled.
    ///
    /// - Precondition: The timer was started.
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/cancelled`` if the calling task is cancelled first.
    public func join() async throws(ThreadingError) {
        do {
            try await thread.join()
        } catch let error as ThreadingError {
            throw error
        } catch {
            // The timer's body does not throw.
        }
    }
}
