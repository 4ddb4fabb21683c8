import NIOCore
import Synchronization

/// The loop's sleeps, grouped by deadline: all sleeps that end in the same millisecond share one NIO timer.
///
/// Ten thousand tasks that each sleep 10 ms then cost a handful of NIO scheduled tasks instead of ten thousand
/// entries in NIO's timer heap, whose upkeep dominated such a burst. Deadlines round up to the next whole
/// millisecond of the loop's clock, so a sleep lasts at least its duration and at most about 1 ms longer; sleepers
/// of one millisecond wake in the order they went to sleep.
final class LoopTimers: Sendable {
    private typealias Sleeper = (id: UInt64, continuation: UnsafeContinuation<Void, any Error>)

    private struct State {
        var buckets: [UInt64: [Sleeper]] = [:]
        var nextID: UInt64 = 0
    }

    private let loop: any EventLoop
    private let state = Mutex(State())

    init(loop: any EventLoop) {
        self.loop = loop
    }

    func sleep(for duration: Duration) async throws {
        let now = NIODeadline.now().uptimeNanoseconds
        let millisecond = (now + UInt64(max(0, duration.nanoseconds)) + 999_999) / 1_000_000
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let (cancelled, mustSchedule) = state.withLock { state -> (Bool, Bool) in
                    if Task.isCancelled { return (true, false) }
                    let isNew = state.buckets[millisecond] == nil
                    state.buckets[millisecond, default: []].append((id, continuation))
                    return (false, isNew)
                }
                if cancelled {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                if mustSchedule { schedule(millisecond) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.buckets[millisecond]?.firstIndex(where: { $0.id == id }) else { return nil }
                return state.buckets[millisecond]?.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    private func schedule(_ millisecond: UInt64) {
        let deadline = NIODeadline.uptimeNanoseconds(millisecond * 1_000_000)
        let scheduled = loop.scheduleTask(deadline: deadline) { [self] in fire(millisecond, error: nil) }
        scheduled.futureResult.whenFailure { [self] _ in
            // The loop shut down with sleepers pending: wake them rather than leave them suspended forever.
            fire(millisecond, error: AsyncLoopError.shutDownError)
        }
    }

    private func fire(_ millisecond: UInt64, error: (any Error)?) {
        let sleepers = state.withLock { $0.buckets.removeValue(forKey: millisecond) } ?? []
        for sleeper in sleepers {
            if let error { sleeper.continuation.resume(throwing: error) } else { sleeper.continuation.resume() }
        }
    }
}
