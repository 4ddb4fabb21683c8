/// The loop's clock: sleeps, yields and callbacks at deadlines.
extension AsyncLoop {
    /// Suspends the caller for `duration` on the loop's clock, letting other tasks run: the analogue of
    /// `asyncio.sleep`.
    ///
    /// Sleepers wake in the order of their deadlines, and sleepers with the same deadline in the order they went
    /// to sleep. However many tasks sleep, the loop keeps one NIO timer, for the earliest deadline. A sleep lasts at
    /// least `duration`; it ends later if the loop thread is busy when the deadline passes.
    ///
    /// - Parameter duration: How long to sleep. Zero or less yields once.
    /// - Throws: `CancellationError` if the caller is cancelled while sleeping (it wakes at once);
    ///   ``AsyncLoopError/Code/shutDown`` if the loop is shut down, or shuts down while the caller sleeps.
    public func sleep(for duration: Duration) async throws {
        if duration <= .zero {
            await Task.yield()
            try Task.checkCancellation()
            return
        }
        try await timers.sleep(for: duration)
    }

    /// Gives the other ready tasks a turn, then resumes: the analogue of `await asyncio.sleep(0)`.
    public func yield() async {
        await Task.yield()
    }
}

extension AsyncLoop {
    /// Runs `callback` on the loop thread once `delay` has passed: the analogue of asyncio's `loop.call_later`.
    ///
    /// The callback is synchronous and runs between tasks' steps, so it must be short; to do async work, start a
    /// task from it with ``createTask(name:_:)``. Callbacks due at the same moment run in the order they were set.
    /// The loop keeps one NIO timer for all of them and for its sleeps, so a callback set and cancelled for every
    /// request (such as a timeout) costs a heap entry, not a NIO scheduled task.
    ///
    /// - Parameters:
    ///   - delay: How long to wait, on the loop's clock.
    ///   - callback: The work to run.
    /// - Returns: A handle whose ``LoopTimerHandle/cancel()`` stops the callback if it has not run yet. A callback
    ///   set on a loop that is shut down, or shuts down first, never runs; that is not an error.
    @discardableResult
    public func callLater(_ delay: Duration, _ callback: @escaping @Sendable () -> Void) -> LoopTimerHandle {
        LoopTimerHandle(id: timers.setAlarm(after: delay, callback), timers: timers)
    }

    /// The number of ``callLater(_:_:)`` callbacks set, cancelled ones not yet swept included: a test hook.
    package var pendingCallbacks: Int { timers.pendingAlarmCount }
}

/// A callback set with ``AsyncLoop/callLater(_:_:)``: the analogue of asyncio's `TimerHandle`.
public struct LoopTimerHandle: Sendable {
    let id: UInt64
    let timers: LoopTimers

    /// Stops the callback if it has not run yet. Cancelling one that has run, or cancelling twice, is not an error.
    public func cancel() {
        timers.cancelAlarm(id)
    }
}
