import Logging
import NIOCore
import NIOPosix
import Synchronization
import TriadCore

/// Watches the loop thread from another thread and reports, through swift-log, each step that holds it longer
/// than the threshold: the mistake asyncio's debug mode exists to catch.
final class Watchdog: Sendable {
    /// One small thread checks every loop's watchdog; it is never shut down, like NIO's singletons.
    private static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    private let task: RepeatedTask

    init(steps: StepMonitor, threshold: Duration, logger: Logger) {
        let thresholdNanos = max(1, threshold.saturatingNanoseconds)
        let interval = TimeAmount.nanoseconds(Int64(max(1_000_000, thresholdNanos / 4)))
        let lastReported = LastReported()
        task = Self.group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let started = steps.startedAt.load(ordering: .acquiring)
            guard started != 0 else { return }
            let now = NIODeadline.now().uptimeNanoseconds
            guard now > started, now - started > thresholdNanos else { return }
            let sequence = steps.sequence.load(ordering: .relaxed)
            guard lastReported.value.exchange(sequence, ordering: .relaxed) != sequence else { return }
            let job = steps.job.load(ordering: .relaxed)
            let name = steps.name(ofJob: job)
            let held = Double(now - started) / 1e6
            let who = name.map { "task '\($0)'" } ?? "an unnamed task"
            logger.warning(
                """
                the loop thread has been held for \(Int(held)) ms by \(who) without suspending \
                (threshold \(threshold)); move blocking or CPU-heavy work to loop.toThread
                """,
                metadata: [
                    "triad.task": .string(name ?? "unnamed"),
                    "triad.heldMilliseconds": .stringConvertible(Int(held)),
                ]
            )
        }
    }

    func stop() {
        task.cancel()
    }
}

/// The step last reported, so that each long step is reported once. Only the watchdog thread touches it.
private final class LastReported: Sendable {
    let value = Atomic<UInt64>(.max)
}

extension Duration {
    /// The duration as a NIO `TimeAmount`.
    var timeAmount: TimeAmount { .nanoseconds(saturatingSignedNanoseconds) }
}
