#if os(Linux)
import CTriadShims
import Glibc
import Synchronization
import TriadCore

/// Starts OS threads that are not part of Swift's cooperative pool, for the blocking work of the pool: spawning,
/// watching a worker's socket, reaping it.
enum DedicatedThread {
    /// Starts a detached thread that runs `body`.
    static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let result = DetachedThread.start {
            triad_thread_set_name(name)
            body()
        }
        precondition(result == 0, "could not start the thread \(name): errno \(result)")
    }
}

/// The one long-lived thread that spawns every worker of this process.
///
/// `PR_SET_PDEATHSIG` fires when the thread that spawned a child ends, not when its process does, so workers must
/// come from a thread that never ends, never from a short-lived or cooperative one.
final class SpawnThread: Sendable {
    static let shared = SpawnThread()

    private struct Request {
        var notBefore: UInt64
        var work: @Sendable () -> Void
    }

    private let requests = Mutex<[Request]>([])
    private let wakeFD: Int32

    private init() {
        guard case .success(let fd) = Syscall.eventFD() else { preconditionFailure("could not create an eventfd") }
        wakeFD = fd
        DedicatedThread.start(name: "triad-spawn") { [self] in loop() }
    }

    /// Runs `work` on the spawn thread, no sooner than `delay` from now.
    func run(after delay: Duration = .zero, _ work: @escaping @Sendable () -> Void) {
        let notBefore = delay.deadline(after: Syscall.now())
        requests.withLock { $0.append(Request(notBefore: notBefore, work: work)) }
        Syscall.signalEventFD(wakeFD)
    }

    private func loop() {
        while true {
            let now = Syscall.now()
            let (due, nextWake) = requests.withLock { requests -> ([Request], UInt64?) in
                let due = requests.filter { $0.notBefore <= now }
                requests.removeAll { $0.notBefore <= now }
                return (due, requests.map(\.notBefore).min())
            }
            for request in due { request.work() }
            if !due.isEmpty { continue }
            var fds = [pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
            let timeout = nextWake.map { Int32(clamping: ($0 - min($0, now)) / 1_000_000 + 1) } ?? -1
            _ = Syscall.poll(&fds, timeout: timeout)
            Syscall.drainEventFD(wakeFD)
        }
    }
}
#endif
