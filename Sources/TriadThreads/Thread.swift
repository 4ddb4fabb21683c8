import CTriadShims
import Synchronization
import TriadCore

/// An OS thread running a throwing body, like Python's `threading.Thread`, that hands back the body's value or error.
///
/// ```swift
/// let worker = Thread(name: "crunch") { (0..<1_000_000).reduce(0, +) }
/// try worker.start()
/// let sum = try worker.join()        // blocks this OS thread; from async code: try await worker.join()
/// ```
///
/// The body runs on a dedicated pthread, never on Swift's cooperative pool, so it may block freely.
///
/// ## Daemon threads
/// Swift ends the process when `main` returns, whatever threads are still running, so a thread cannot keep the
/// process alive by itself. Triad gives the daemon flag the meaning Python gives it at interpreter exit:
/// - A **non-daemon** thread (the default) is one the program promises to wait for.
///   `Threading.joinNonDaemonThreads(timeout:)` (or its async variant) waits for every non-daemon thread that
///   is running, and ``Threading/joinNonDaemonThreadsAtExit()`` installs an `atexit` hook that does so when the
///   process exits normally (returning from `main` or calling `exit`).
/// - A **daemon** thread is never waited for: it is stopped wherever it is when the process exits.
public final class Thread<Value: Sendable>: Sendable {
    /// The thread's name, shown by tools such as `top -H` and `gdb` (their limit is 15 bytes).
    public let name: String
    /// Whether the thread is a daemon: one that `Threading.joinNonDaemonThreads(timeout:)` does not wait for.
    public let isDaemon: Bool
    /// A number unique to this thread object within the process, fixed when it is made, never reused.
    public let id: UInt64

    private let stackSize: Int
    private let body: Mutex<(@Sendable () throws -> Value)?>
    private let storage: Guarded<ThreadLifecycle<Value>>

    /// Makes a thread that has not started yet.
    ///
    /// - Parameters:
    ///   - name: The thread's name; `nil` names it `Thread-<id>` as Python does.
    ///   - daemon: Whether the process may exit without waiting for it (see "Daemon threads" above).
    ///   - stackSize: The stack size in bytes; `nil` keeps the system default (usually 8 MiB).
    ///   - body: The code to run. Its value or error is what `join()` returns or throws.
    public init(
        name: String? = nil,
        daemon: Bool = false,
        stackSize: Int? = nil,
        _ body: @escaping @Sendable () throws -> Value
    ) {
        let id = nextThreadID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.id = id
        self.name = name ?? "Thread-\(id)"
        self.isDaemon = daemon
        self.stackSize = stackSize ?? 0
        self.body = Mutex(body)
        self.storage = Guarded(ThreadLifecycle())
    }

    /// Starts the thread.
    ///
    /// - Precondition: The thread has not been started before; a thread starts once.
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/threadStartFailed`` when the system refuses to create
    ///   a thread. The thread then counts as never started.
    public func start() throws(ThreadingError) {
        let body = self.body.withLock { body in
            defer { body = nil }
            return body
        }
        guard let body else { preconditionFailure("thread \(name) was started twice; a thread starts once") }
        storage.change { $0.start() }
        if !isDaemon { NonDaemonRegistry.shared.add(id) }
        let launch = Launch(thread: self, body: body)
        let rc = DetachedThread.start(stackSize: stackSize) { launch.run() }
        if rc != 0 {
            if !isDaemon { NonDaemonRegistry.shared.remove(id) }
            storage.change { $0.failToStart() }
            self.body.withLock { $0 = body }
            throw ThreadingError(
                .threadStartFailed,
                message: "the system refused to start thread \(name) (errno \(rc)); lower the number of threads"
            )
        }
    }

    /// Whether the thread has started and its body has not returned yet.
    public var isAlive: Bool { storage.withLock { $0.isAlive } }

    /// The kernel's id of the thread (as `gettid` returns it) once it runs; `nil` before that. Like Python's
    /// `native_id`, it stays readable after the thread ends, but the system may give it to a later thread.
    public var nativeID: Int32? { storage.withLock { $0.nativeID } }

    /// The body's outcome once the thread has finished; `nil` while it has not. Never blocks.
    public var result: Result<Value, any Error>? { storage.withLock { $0.result } }

    /// Blocks the calling OS thread until the thread ends, then returns the body's value or throws its error.
    ///
    /// Joining a finished thread again returns the same outcome. This blocks an OS thread: do not call it from
    /// async code; use the async `join()` there.
    ///
    /// - Precondition: The thread was started, and the caller is not the thread itself.
    /// - Throws: The error the body threw.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func join() throws -> Value {
        try join(deadline: nil, timeout: nil)
    }

    /// Blocks the calling OS thread until the thread ends or `timeout` passes.
    ///
    /// This blocks an OS thread: from async code use the async `join(timeout:)`.
    ///
    /// - Precondition: The thread was started, and the caller is not the thread itself.
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if the thread is still running at the
    ///   timeout (it keeps running; join again later), or the error the body threw.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public func join(timeout: Duration) throws -> Value {
        try join(deadline: .after(timeout), timeout: timeout)
    }

    /// Suspends the calling task until the thread ends, then returns the body's value or throws its error. Never
    /// blocks a thread; this is the blocking `join()`.
    ///
    /// - Precondition: The thread was started.
    /// - Throws: The error the body threw, or ``ThreadingError`` with ``ThreadingError/Code/cancelled`` if the
    ///   calling task is cancelled while it waits (the thread keeps running).
    public func join() async throws -> Value {
        try await joinAsync(deadline: nil, timeout: nil)
    }

    /// Suspends the calling task until the thread ends or `timeout` passes. Never blocks a thread.
    ///
    /// - Precondition: The thread was started.
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` or ``ThreadingError/Code/cancelled``,
    ///   or the error the body threw.
    public func join(timeout: Duration) async throws -> Value {
        try await joinAsync(deadline: .after(timeout), timeout: timeout)
    }

    private func join(deadline: Deadline?, timeout: Duration?) throws -> Value {
        let phase = storage.withLock { $0.phase }
        precondition(phase != .created, "thread \(name) was joined before it was started; call start() first")
        precondition(triad_thread_tag() != id, "thread \(name) tried to join itself, which would never return")
        let outcome = storage.wait(until: deadline, wakesOthers: false) { $0.result }
        guard let outcome else { throw ThreadingError.timedOut(after: timeout, waitingFor: "thread \(name) to end") }
        return try outcome.get()
    }

    private func joinAsync(deadline: Deadline?, timeout: Duration?) async throws -> Value {
        let phase = storage.withLock { $0.phase }
        precondition(phase != .created, "thread \(name) was joined before it was started; call start() first")
        switch await storage.waitAsync(until: deadline, wakesOthers: false, { $0.result }) {
        case .value(let outcome): return try outcome.get()
        case .timedOut: throw ThreadingError.timedOut(after: timeout, waitingFor: "thread \(name) to end")
        case .cancelled: throw ThreadingError.cancelled(waitingFor: "thread \(name) to end")
        }
    }

    /// What the new pthread needs, passed to it as one retained object.
    private final class Launch: Sendable {
        let thread: Thread
        let body: @Sendable () throws -> Value

        init(thread: Thread, body: @escaping @Sendable () throws -> Value) {
            self.thread = thread
            self.body = body
        }

        func run() {
            triad_thread_set_tag(thread.id)
            triad_thread_set_name(thread.name)
            let nativeID = triad_thread_id()
            thread.storage.change { $0.run(nativeID: nativeID) }
            let outcome = Result { try body() }
            thread.storage.change { $0.finish(outcome) }
            if !thread.isDaemon { NonDaemonRegistry.shared.remove(thread.id) }
        }
    }
}

private let nextThreadID = Atomic<UInt64>(1)
