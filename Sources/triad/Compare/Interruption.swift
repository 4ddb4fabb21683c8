import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Turns SIGINT and SIGTERM into the cancellation of the lab's task, so that a run stops at the measurement under
/// way, its executors and Python children are shut down, and the rows measured so far are still reported. A second
/// signal ends the process at once.
///
/// A run started with SIGINT ignored (a background job of a script) keeps ignoring it, as Unix programs do; it still
/// stops cleanly on SIGTERM.
final class Interruption: Sendable {
    private struct State {
        var signal: Int32?
        var cancel: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    private init() {}

    /// Installs the handlers, once per process.
    static func install() -> Interruption {
        let interruption = Interruption()
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return interruption }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        signalPipe.store(fds[1], ordering: .releasing)
        let readEnd = fds[0]
        Foundation.Thread.detachNewThread {
            var number: Int32 = 0
            while true {
                let count = read(readEnd, &number, 4)
                if count == 4 { interruption.received(number) } else if count < 0 && errno != EINTR { return }
            }
        }
        for signal in [SIGINT, SIGTERM] {
            var current = sigaction()
            sigaction(signal, nil, &current)
            // An ignored SIGINT stays ignored; SIGTERM is always ours.
            if signal == SIGINT && isIgnored(current) { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                signalSeen.store(number, ordering: .relaxed)
                var value = number
                _ = write(signalPipe.load(ordering: .relaxed), &value, 4)
            }
            action.sa_flags = Int32(SA_RESTART)
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
        return interruption
    }

    /// Whether a signal has arrived; safe to ask from anywhere, as soon as the handler has run.
    static var signalled: Bool { signalSeen.load(ordering: .relaxed) != 0 }

    private static func isIgnored(_ action: sigaction) -> Bool {
        let handler = unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self)
        return handler == 1  // SIG_IGN
    }

    /// Runs `body` in a task that the first signal cancels, and returns its value.
    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await body() }
        let already = state.withLock { state -> Bool in
            state.cancel = { task.cancel() }
            return state.signal != nil
        }
        if already { task.cancel() }
        return try await task.value
    }

    /// The number of the signal that stopped the run, if one did.
    var signalNumber: Int32? { state.withLock { $0.signal } }

    /// The name of the signal that stopped the run, such as `SIGINT`.
    var signalName: String? {
        signalNumber.map { $0 == SIGINT ? "SIGINT" : $0 == SIGTERM ? "SIGTERM" : "signal \($0)" }
    }

    private func received(_ signal: Int32) {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            if state.signal != nil { _exit(128 + signal) }
            state.signal = signal
            return state.cancel
        }
        standardError(
            "triad compare: \(signal == SIGINT ? "SIGINT" : "SIGTERM"): stopping after the rows measured so far")
        cancel?()
    }
}

private let signalPipe = Atomic<Int32>(-1)
private let signalSeen = Atomic<Int32>(0)
