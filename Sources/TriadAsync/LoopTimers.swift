import NIOCore
import Synchronization
import TriadCore

/// The loop's sleeps and alarms: heaps ordered by deadline under one NIO timer, set for the earliest deadline.
///
/// NIO keeps one timer here however many tasks sleep, so ten thousand sleepers cost ten thousand 24-byte heap
/// entries, not ten thousand NIO scheduled tasks (each a closure, a promise and an entry in NIO's timer heap,
/// whose cancellation searches that heap). The timer is armed only on the loop thread; sleeps that start
/// elsewhere ask the loop to arm it. Cancellation, which may come from any thread, only notes the sleeper and asks
/// the loop for one sweep, which then wakes every sleeper cancelled since the last sweep with `CancellationError`.
/// Alarms (callbacks for deadlines such as a request's timeout) live in a heap of their own; a cancelled alarm is
/// only noted, and swept once the notes outnumber the live alarms.
final class LoopTimers: Sendable {
    private typealias Waiter = UnsafeContinuation<Void, any Error>
    typealias Action = @Sendable () -> Void

    private struct State {
        var sleepers = SleeperHeap<Waiter>()
        var alarms = SleeperHeap<Action>()
        /// The deadline the NIO timer is set for, and the timer, while one is set.
        var armedDeadline: UInt64?
        var armed: Scheduled<Void>?
        var sweepScheduled = false
        var isClosed = false

        var earliestDeadline: UInt64? {
            switch (sleepers.earliestDeadline, alarms.earliestDeadline) {
            case (let sleeper?, let alarm?): min(sleeper, alarm)
            case (let sleeper, let alarm): sleeper ?? alarm
            }
        }
    }

    private let loop: any EventLoop
    private let state = Mutex(State())
    private let nextID = Atomic<UInt64>(0)

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// The number of sleepers waiting, including cancelled ones not yet swept: a test hook.
    var pendingCount: Int { state.withLock { $0.sleepers.count } }

    /// The number of alarms set, including cancelled ones not yet swept: a test hook.
    var pendingAlarmCount: Int { state.withLock { $0.alarms.count } }

    func sleep(for duration: Duration) async throws {
        let deadline = Self.deadline(after: duration)
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: Waiter) in
                let outcome = state.withLock { state -> Registration in
                    if state.isClosed { return .closed }
                    if Task.isCancelled { return .cancelled }
                    state.sleepers.insert(deadline: deadline, id: id, waiter: continuation)
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
                guard !state.isClosed, state.sleepers.noteCancelled(id), !state.sweepScheduled else { return false }
                state.sweepScheduled = true
                return true
            }
            if mustSweep { onLoop { $0.sweep() } }
        }
    }

    /// Runs `action` on the loop thread once `duration` has passed, unless ``cancelAlarm(_:)`` comes first.
    /// An alarm set on a closed loop never runs.
    ///
    /// - Returns: The alarm's id, for ``cancelAlarm(_:)``.
    func setAlarm(after duration: Duration, _ action: @escaping Action) -> UInt64 {
        let deadline = Self.deadline(after: duration)
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        let mustArm = state.withLock { state -> Bool in
            if state.isClosed { return false }
            state.alarms.insert(deadline: deadline, id: id, waiter: action)
            if let armed = state.armedDeadline, armed <= deadline { return false }
            return true
        }
        if mustArm { onLoop { $0.arm() } }
        return id
    }

    /// Cancels an alarm; cancelling one that has run, or twice, is not an error.
    func cancelAlarm(_ id: UInt64) {
        let mustSweep = state.withLock { state -> Bool in
            guard !state.isClosed else { return false }
            _ = state.alarms.noteCancelled(id)
            let notes = state.alarms.cancelledCount
            guard notes > 64, notes * 2 > state.alarms.count, !state.sweepScheduled else { return false }
            state.sweepScheduled = true
            return true
        }
        if mustSweep { onLoop { $0.sweep() } }
    }

    /// NIO's latest deadline; longer waits end there, some 292 years on.
    private static let farFuture = UInt64(Int64.max)

    private static func deadline(after duration: Duration) -> UInt64 {
        min(duration.deadline(after: NIODeadline.now().uptimeNanoseconds), farFuture)
    }

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
            guard !state.isClosed, let earliest = state.earliestDeadline else { return nil }
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

    /// Wakes the sleepers and runs the alarms whose deadline has passed, in deadline order, then sets the timer
    /// for the next deadline. Loop thread only.
    private func fire() {
        let (sleepers, alarms) = state.withLock { state in
            state.armedDeadline = nil
            state.armed = nil
            let now = NIODeadline.now().uptimeNanoseconds
            return (state.sleepers.popDue(now: now), state.alarms.popDue(now: now).due)
        }
        for waiter in sleepers.cancelled { waiter.resume(throwing: CancellationError()) }
        for waiter in sleepers.due { waiter.resume() }
        for action in alarms { action() }
        arm()
    }

    /// Wakes the sleepers cancelled since the last sweep with `CancellationError`, and drops cancelled alarms.
    /// Loop thread only.
    private func sweep() {
        // The dropped alarms are released outside the lock, in case releasing what they hold runs code.
        let (cancelled, dropped) = state.withLock { state -> ([Waiter], [Action]) in
            state.sweepScheduled = false
            let dropped = state.alarms.cancelledCount > 0 ? state.alarms.sweepCancelled() : []
            return (state.sleepers.sweepCancelled(), dropped)
        }
        for waiter in cancelled { waiter.resume(throwing: CancellationError()) }
        _ = dropped
    }

    /// Refuses new sleeps and alarms, wakes every sleeper with ``AsyncLoopError/Code/shutDown`` and drops the
    /// alarms; for the loop's shutdown, before its thread stops. Closing twice is not an error.
    func close() {
        let (sleepers, dropped, armed) = state.withLock { state -> ([Waiter], [Action], Scheduled<Void>?) in
            state.isClosed = true
            defer {
                state.armed = nil
                state.armedDeadline = nil
            }
            return (state.sleepers.removeAll(), state.alarms.removeAll(), state.armed)
        }
        armed?.cancel()
        _ = dropped
        for waiter in sleepers { waiter.resume(throwing: AsyncLoopError.shutDownError) }
    }
}
