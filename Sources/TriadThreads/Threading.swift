import CTriadShims
import Glibc

/// Process-wide threading functions, after the functions of Python's `threading` module.
public enum Threading {
    /// The kernel's id of the calling thread (as `gettid` returns it).
    public static var currentNativeID: Int32 { triad_thread_id() }

    /// How many non-daemon ``Thread``s are running now.
    public static var nonDaemonCount: Int { NonDaemonRegistry.shared.count }

    /// Blocks the calling OS thread until every non-daemon ``Thread`` running now, or started meanwhile, has ended.
    ///
    /// This is what Python does at interpreter exit. Daemon threads are not waited for. Called from a non-daemon
    /// thread, it does not wait for that thread itself. This blocks an OS thread: from async code use the async
    /// `joinNonDaemonThreads(timeout:)`.
    ///
    /// - Parameter timeout: How long to wait at most; `nil` waits as long as it takes.
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` if some are still running at the timeout.
    @available(*, noasync, message: "blocks an OS thread; in async code call the async variant with await")
    public static func joinNonDaemonThreads(timeout: Duration? = nil) throws(ThreadingError) {
        let me = triad_thread_tag()
        let done = NonDaemonRegistry.shared.storage.wait(until: .after(timeout), wakesOthers: false) { live in
            live.subtracting([me]).isEmpty ? true : nil
        }
        if done == nil { throw ThreadingError.timedOut(after: timeout, waitingFor: "the non-daemon threads to end") }
    }

    /// Suspends the calling task until every non-daemon ``Thread`` has ended. Never blocks a thread; the async
    /// variant of the blocking `joinNonDaemonThreads(timeout:)`.
    ///
    /// - Parameter timeout: How long to wait at most; `nil` waits as long as it takes.
    /// - Throws: ``ThreadingError`` with ``ThreadingError/Code/timedOut`` or ``ThreadingError/Code/cancelled``.
    public static func joinNonDaemonThreads(timeout: Duration? = nil) async throws(ThreadingError) {
        switch await NonDaemonRegistry.shared.storage.waitAsync(
            until: .after(timeout),
            wakesOthers: false,
            { $0.isEmpty ? true : nil }
        ) {
        case .value: return
        case .timedOut: throw ThreadingError.timedOut(after: timeout, waitingFor: "the non-daemon threads to end")
        case .cancelled: throw ThreadingError.cancelled(waitingFor: "the non-daemon threads to end")
        }
    }

    /// Makes the process wait for its non-daemon threads when it exits normally, as Python does: installs an
    /// `atexit` hook that calls the blocking `joinNonDaemonThreads(timeout:)` without a timeout.
    ///
    /// A normal exit is returning from `main` or calling `exit`. `_exit`, a crash or a signal skip the hook. Calling
    /// this again does nothing more. Daemon threads are never waited for.
    public static func joinNonDaemonThreadsAtExit() {
        NonDaemonRegistry.shared.installExitHook()
    }
}

/// The set of non-daemon threads that are running, by ``Thread/id``.
final class NonDaemonRegistry: Sendable {
    static let shared = NonDaemonRegistry()

    let storage = Guarded(Set<UInt64>())
    private let hookInstalled = Guarded(false)

    var count: Int { storage.withLock { $0.count } }

    func add(_ id: UInt64) { storage.change { _ = $0.insert(id) } }
    func remove(_ id: UInt64) { storage.change { _ = $0.remove(id) } }

    func installExitHook() {
        let install = hookInstalled.withLock { installed in
            defer { installed = true }
            return !installed
        }
        if install { atexit { try? Threading.joinNonDaemonThreads() } }
    }
}
