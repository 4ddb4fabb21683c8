import NIOCore
import Synchronization

/// The loop's sleeps: a heap of sleeping tasks' continuations under one NIO timer, set for the earliest deadline.
///
/// NIO keeps one timer here however many tasks sleep, so ten thousand sleepers cost ten thousand 24-byte heap
/// entries, not ten thousand NIO scheduled tasks (each a closure, a promise and a heap entry of NIO's). The
/// timer is armed only on the loop thread; sleeps that start elsewhere ask the loop to arm it. Cancellation,
/// which may come from any thread, only notes the sleeper and asks the loop for one sweep, which then wakes every
/// sleeper cancelled since the last sweep with `CancellationError`.
final class LoopTimers: Sendable {
    private typealias Waiter = UnsafeContinuation<Void, any Error>

    private struct State {
        var heap = SleeperHeap<Waiter>()
        /// The deadline the NIO timer is set for, and the timer, while one is set.
        var armedDeadline: UInt64?
        var armed: Scheduled<Void>?
        var sweepScheduled = false
        var isClosed = false
    }

    private let loop: any EventLoop
    private let state = Mutex(State())
    private let nextID = Atomic<UInt64>(0)

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// The number of sleepers waiting, including cancelled ones not yet swept: a test hook.
    var pendingCount: Int { state.withLock { $0.heap.count } }

    func sleep(for duration: Duration) async throws {
        let (sum, overflow) = NIODeadline.now().uptimeNanoseconds.addingReportingOverflow(
            UInt64(max(0, duration.nanoseconds))
        )
        let deadline = overflow ? Self.farFuture : min(sum, Self.farFuture)
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: Waiter) in
                let outcome = state.withLock { state -> Registration in
                    if state.isClosed { return .closed }
                    if Task.isCancelled { return .cancelled }
                    state.heap.insert(deadline: deadline, id: id, waiter: continuation)
                    if let armed = state.armedDeadline, armed <= deadline { return .asleep }
                    return .mustArm
                }
                switch outcome {
                case .closed: continuation.resume(throwing: AsyncLoopError.shutDownError)
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .asleep: break
                case .mustArm: onLoop { $0.arm() }
                }
            }
        } onCancel: {
            let mustSweep = state.withLock { state -> Bool in
                guard !state.isClosed, state.heap.noteCancelled(id), !state.sweepScheduled else { return false }
                state.sweepScheduled = true
                return true
            }
            if mustSweep { onLoop { $0.sweep() } }
        }
    }

    /// NIO's latest deadline; longer sleeps end there, some 292 years on.
    private static let farFuture = UInt64(Int64.max)

    private enum Registration {
        case closed, cancelled, asleep, mustArm
    }

    /// Runs `body` on the loop thread: at once if the caller is on it.
    private func onLoop(_ body: @escaping @Sendable (LoopTimers) -> Void) {
        if loop.inEventLoop {
            body(self)
        } else {
            loop.execute { [self] in body(self) }
        }
    }

    /// Sets the NIO timer for the earliest deadline, unless it is set for that deadline or an earlier one.
    /// Loop thread only.
    private func arm() {
        let plan = state.withLock { state -> (deadline: UInt64, replaced: Scheduled<Void>?)? in
            guard !state.isClosed, let earliest = state.heap.earliestDeadline else { return nil }
            if let armed = state.armedDeadline, armed <= earliest { return nil }
            state.armedDeadline = earliest
            defer { state.armed = nil }
            return (earliest, state.armed)
        }
        guard let plan else { return }
        plan.replaced?.cancel()
        let scheduled = loop.scheduleTask(deadline: .uptimeNanoseconds(plan.deadline)) { [self] in fire() }
        let kept = state.withLock { state -> Bool in
            guard state.armedDeadline == plan.deadline && state.armed == nil else { return false }
            state.armed = scheduled
            return true
        }
        // Not kept: the loop closed meanwhile.
        if !kept { scheduled.cancel() }
    }

    /// Wakes the sleepers whose deadline has passed, in deadline order, then sets the timer for the next one.
    /// Loop thread only.
    private func fire() {
        let due = state.withLock { state -> [Waiter] in
            state.armedDeadline = nil
            state.armed = nil
            return state.heap.popDue(now: NIODeadline.now().uptimeNanoseconds)
        }
        for waiter in due { waiter.resume() }
        arm()
    }

    /// Wakes the sleepers cancelled since the last sweep with `CancellationError`. Loop thread only.
    private func sweep() {
        let cancelled = state.withLock { state -> [Waiter] in
            state.sweepScheduled = false
            return state.heap.sweepCancelled()
        }
        for waiter in cancelled { waiter.resume(throwing: CancellationError()) }
    }

    /// Refuses new sleeps and wakes every sleeper with ``AsyncLoopError/Code/shutDown``; for the loop's shutdown,
    /// before its thread stops. Closing twice is not an error.
    func close() {
        let (sleepers, armed) = state.withLock { state -> ([Waiter], Scheduled<Void>?) in
            state.isClosed = true
            defer {
                state.armed = nil
                state.armedDeadline = nil
            }
            return (state.heap.removeAll(), state.armed)
        }
        armed?.cancel()
        for waiter in sleepers { waiter.resume(throwing: AsyncLoopError.shutDownError) }
    }
}
