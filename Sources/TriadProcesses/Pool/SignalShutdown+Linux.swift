#if os(Linux)
import CTriadShims
import Glibc
import Synchronization

/// Shuts every process pool down cleanly when the parent gets SIGINT or SIGTERM, then lets the signal take its
/// default course. Opt in with ``ProcessPool/installSignalHandlers()``.
enum SignalShutdown {
    /// The pools alive now, by identity. Held strongly and removed by ``untrack(_:)`` when the pool's front goes:
    /// a weak reference would give every pool's storage a side table, which makes each of the many retains and
    /// releases of the storage on a job's path take the runtime's slow path.
    private static let pools = Mutex<[ObjectIdentifier: PoolStorage]>([:])
    private static let installed = Atomic<Bool>(false)
    private static let pipe: (read: Int32, write: Int32) = {
        guard case .success(let fds) = Syscall.pipe() else { preconditionFailure("could not create a pipe") }
        return fds
    }()

    static func track(_ storage: PoolStorage) {
        pools.withLock { $0[ObjectIdentifier(storage)] = storage }
    }

    static func untrack(_ storage: PoolStorage) {
        _ = pools.withLock { $0.removeValue(forKey: ObjectIdentifier(storage)) }
    }

    /// The signal that is ending the process, or 0. Once it is set, no job handle resolves: the jobs in flight
    /// end with the process, so that no `await` returns and lets `main` exit with status 0 first.
    private static let dying = Atomic<Int32>(0)

    static var isDying: Bool { dying.load(ordering: .acquiring) != 0 }

    static func install() {
        guard !installed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let fds = pipe
        DedicatedThread.start(name: "triad-signals") {
            var signal: Int32 = 0
            while true {
                let count = Glibc.read(fds.read, &signal, 4)
                guard count == 4 else { continue }
                dying.store(signal, ordering: .releasing)
                let live = pools.withLock { Array($0.values) }
                for storage in live { storage.killNow() }
                // Give the drivers a moment to reap, so no zombie outlives the parent's last breath.
                let deadline = Syscall.now() + 2_000_000_000
                while Syscall.now() < deadline && live.contains(where: { !$0.workerPIDs.isEmpty }) {
                    _ = Syscall.poll(fds.read, events: 0, timeoutMilliseconds: 2)
                }
                triad_reraise_default(signal)
            }
        }
        signalWriteFD.store(fds.write, ordering: .releasing)
        // A `main` that returns while the pools shut down must not end the process with status 0: the exit waits
        // for the signal, which ends the process once every worker is reaped.
        atexit {
            guard SignalShutdown.isDying else { return }
            while true { pause() }
        }
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
    /// would have (a shell sees status 130 for Ctrl-C), whatever `main` was doing. Jobs in flight end with the
    /// process: their handles do not resolve, so no `await` returns to let `main` finish first.
    ///
    /// Call it once, right after ``bootstrap(jobs:errors:)``, in a command-line program that owns its signals.
    /// Calling it again is not an error. A server that drains on SIGTERM itself (for example through
    /// swift-service-lifecycle) should not install it, and should shut its pools down in its own shutdown path.
    ///
    /// Without it, a parent killed by a signal still leaves no orphans: workers exit when their parent dies.
    public static func installSignalHandlers() {
        SignalShutdown.install()
    }
}
#endif
