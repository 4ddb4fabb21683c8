import CTriadShims
import Synchronization

/// The storage half of every TriadThreads primitive: a value-type state machine behind a ``Monitor``, with both
/// blocking waiters (OS threads parked on the condition variable, after a short spin) and async waiters (suspended
/// continuations).
///
/// Every change of state wakes every waiter, which then re-checks its condition under the lock. That is simple and
/// cannot lose a wake-up; the primitives have few waiters each, so the extra wake-ups cost little.
final class Guarded<State>: @unchecked Sendable {
    // Guarded by `monitor`: `state`, `sleepers`, `waiters`, `cancelled`. `generation` is atomic so spinners can
    // read it without the lock.
    private let monitor = Monitor()
    private var state: State
    private var sleepers = 0
    private var waiters: [UInt64: UnsafeContinuation<Wake, Never>] = [:]
    private var cancelled: Set<UInt64> = []
    private let generation = Atomic<UInt64>(0)

    /// Why a suspended async waiter was resumed.
    enum Wake: Sendable {
        case retry, timedOut, cancelled
    }

    /// How an async wait ended.
    enum Outcome<Value> {
        case value(Value)
        case timedOut
        case cancelled
    }

    init(_ state: State) {
        self.state = state
    }

    /// Reads or changes the state without waking anyone.
    @inline(__always)
    func withLock<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        monitor.lock()
        defer { monitor.unlock() }
        return try body(&state)
    }

    /// Changes the state and wakes every waiter to re-check its condition.
    @inline(__always)
    func change<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        monitor.lock()
        let result: R
        do {
            result = try body(&state)
        } catch {
            monitor.unlock()
            throw error
        }
        let woken = wakeLocked()
        monitor.unlock()
        for waiter in woken { waiter.resume(returning: .retry) }
        return result
    }

    /// Blocks the calling OS thread until `attempt` returns a value, or until `deadline`, and returns `nil` then.
    ///
    /// `attempt` runs under the lock. When it succeeds and `wakesOthers` is set (it freed room, took the last
    /// item, ...), every other waiter is woken. The thread spins for a few tens of microseconds before it parks.
    func wait<R>(
        until deadline: Deadline?,
        spin: Bool = true,
        wakesOthers: Bool,
        _ attempt: (inout State) -> R?
    ) -> R? {
        monitor.lock()
        var spun = !spin
        while true {
            if let result = attempt(&state) {
                let woken = wakesOthers ? wakeLocked() : []
                monitor.unlock()
                for waiter in woken { waiter.resume(returning: .retry) }
                return result
            }
            if let deadline, deadline.hasPassed {
                monitor.unlock()
                return nil
            }
            if !spun {
                spun = true
                let seen = generation.load(ordering: .acquiring)
                monitor.unlock()
                _ = Spin.until { generation.load(ordering: .relaxed) != seen }
                monitor.lock()
                continue
            }
            sleepers += 1
            _ = monitor.wait(until: deadline)
            sleepers -= 1
        }
    }

    /// Suspends the calling task until `attempt` returns a value, the deadline passes or the task is cancelled.
    /// Never blocks a thread.
    func waitAsync<R>(
        until deadline: Deadline?,
        wakesOthers: Bool,
        _ attempt: (inout State) -> R?
    ) async -> Outcome<R> {
        // The fast path: no continuation, no timer, when the condition already holds.
        monitor.lock()
        if let result = attempt(&state) {
            let woken = wakesOthers ? wakeLocked() : []
            monitor.unlock()
            for waiter in woken { waiter.resume(returning: .retry) }
            return .value(result)
        }
        monitor.unlock()
        if Task.isCancelled { return .cancelled }
        let id = nextWaiterID.wrappingAdd(1, ordering: .relaxed).oldValue
        let timer = deadline.map { deadline in
            DeadlineScheduler.shared.schedule(at: deadline) { [self] in resumeWaiter(id, with: .timedOut) }
        }
        defer {
            if let timer { DeadlineScheduler.shared.cancel(timer) }
            withLock { _ in _ = cancelled.remove(id) }
        }
        while true {
            var found: R?
            var immediate: Wake?
            let wake = await withTaskCancellationHandler {
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Wake, Never>) in
                    monitor.lock()
                    if let result = attempt(&state) {
                        found = result
                        let woken = wakesOthers ? wakeLocked() : []
                        monitor.unlock()
                        for waiter in woken { waiter.resume(returning: .retry) }
                        continuation.resume(returning: .retry)
                        return
                    }
                    if cancelled.contains(id) {
                        immediate = .cancelled
                    } else if let deadline, deadline.hasPassed {
                        immediate = .timedOut
                    } else {
                        waiters[id] = continuation
                    }
                    monitor.unlock()
                    if let immediate { continuation.resume(returning: immediate) }
                }
            } onCancel: { [self] in
                monitor.lock()
                let waiter = waiters.removeValue(forKey: id)
                if waiter == nil { cancelled.insert(id) }
                monitor.unlock()
                waiter?.resume(returning: .cancelled)
            }
            if let found { return .value(found) }
            switch wake {
            case .retry: continue
            case .timedOut: return .timedOut
            case .cancelled: return .cancelled
            }
        }
    }

    private func resumeWaiter(_ id: UInt64, with wake: Wake) {
        let waiter = withLock { _ in waiters.removeValue(forKey: id) }
        waiter?.resume(returning: wake)
    }

    /// Records a change, wakes parked threads and hands back the async waiters to resume once the lock is released.
    @inline(__always)
    private func wakeLocked() -> [UnsafeContinuation<Wake, Never>] {
        generation.add(1, ordering: .releasing)
        if sleepers > 0 { monitor.broadcast() }
        if waiters.isEmpty { return [] }
        defer { waiters = [:] }
        return Array(waiters.values)
    }
}

private let nextWaiterID = Atomic<UInt64>(1)
