#if os(Linux)
import CTriadShims
import Glibc
import Synchronization

/// Shuts every process pool down cleanly when the parent gets SIGINT or SIGTERM, then lets the signal take its
/// default course. Opt in with ``ProcessPool/installSignalHandlers()``.
enum SignalShutdown {
    private final class WeakStorage: Sendable {
        weak let storage: PoolStorage?
        init(_ storage: PoolStorage) { self.storage = storage }
    }

    private static let pools = Mutex<[WeakStorage]>([])
    private static let installed = Atomic<Bool>(false)
    private static let pipe: (read: Int32, write: Int32) = {
        guard case .success(let fds) = Syscall.pipe() else { preconditionFailure("could not create a pipe") }
        return fds
    }()

    static func track(_ storage: PoolStorage) {
        pools.withLock { pools in
            pools.removeAll { $0.storage == nil }
            pools.append(WeakStorage(storage))
        }
    }

    static func install() {
        guard !installed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let fds = pipe
        DedicatedThread.start(name: "triad-signals") {
            var signal: Int32 = 0
            while true {
                let count = Glibc.read(fds.read, &signal, 4)
                guard count == 4 else { continue }
                let live = pools.withLock { $0.compactMap(\.storage) }
                for storage in live { storage.killNow() }
                // Give the drivers a moment to reap, so no zombie outlives the parent's last breath.
                let deadline = Syscall.now() + 500_000_000
                while Syscall.now() < deadline && live.contains(where: { !$0.workerPIDs.isEmpty }) {
                    usleep(2_000)
                }
                triad_reraise_default(signal)
            }
        }
        signalWriteFD.store(fds.write, ordering: .releasing)
        _ = triad_install_signal_handler(SIGINT, signalHandler)
        _ = triad_install_signal_handler(SIGTERM, signalHandler)
        // A parent that started this process may have left these signals blocked; this thread takes them.
        _ = triad_unblock_signal(SIGINT)
        _ = triad_unblock_signal(SIGTERM)
    }
}

private let signalWriteFD = Atomic<Int32>(-1)

private func signalHandler(_ signal: Int32) {
    var value = signal
    _ = write(signalWriteFD.load(ordering: .relaxed), &value, 4)
}

extension ProcessPool {
    /// Makes SIGINT (Ctrl-C) and SIGTERM shut every process pool of this process down before the process ends:
    /// workers are killed and reaped, so no zombie or orphan remains, and then the signal ends the process as it
    /// would have. Call it once, after ``bootstrap(jobs:errors:)``. Calling it again is not an error.
    ///
    /// Without it, a parent killed by a signal still leaves no orphans (workers exit when their parent dies), but
    /// jobs in flight are not failed first.
    public static func installSignalHandlers() {
        SignalShutdown.install()
    }
}
#endif
