import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TriadCore

/// Watches the loop thread from another thread and reports, through swift-log, each step that holds it longer
/// than the threshold: the mistake asyncio's debug mode exists to catch.
///
/// A step is reported twice: once when it crosses the threshold, so a loop that is stuck for good is reported at
/// all, and once when it ends, with its whole length. The second report also feeds the loop's metrics: the counter
/// `triad_loop_stalls_total` and the timer `triad_loop_stall_seconds`.
final class Watchdog: Sendable {
    /// One small thread checks every loop's watchdog; it is never shut down, like NIO's singletons.
    private static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    private let steps: StepMonitor
    private let threshold: Duration
    private let thresholdNanos: UInt64
    private let logger: Logger
    private let stalls: Counter
    private let stallLengths: CoreMetrics.Timer
    private let reported = Reported()
    private let task = Mutex<RepeatedTask?>(nil)

    init(steps: StepMonitor, threshold: Duration, logger: Logger, metrics: any MetricsFactory) {
        self.steps = steps
        self.threshold = threshold
        self.logger = logger
        thresholdNanos = max(1, threshold.saturatingNanoseconds)
        stalls = Counter(label: "triad_loop_stalls_total", factory: metrics)
        stallLengths = CoreMetrics.Timer(label: "triad_loop_stall_seconds", factory: metrics)
        let interval = TimeAmount.nanoseconds(Int64(max(1_000_000, thresholdNanos / 4)))
        let repeated = Self.group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            reportEndedStall()
            reportCurrentStep()
        }
        task.withLock { $0 = repeated }
    }

    /// Stops watching, after reporting the end of a stall that ended since the last check.
    func stop() {
        task.withLock { $0?.cancel() }
        reportEndedStall()
    }

    /// Reports, once, a step that holds the loop past the threshold now.
    private func reportCurrentStep() {
        let started = steps.startedAt.load(ordering: .acquiring)
        guard started != 0 else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        guard now > started, now - started > thresholdNanos else { return }
        let sequence = steps.sequence.load(ordering: .relaxed)
        guard reported.sequence.exchange(sequence, ordering: .relaxed) != sequence else { return }
        let name = steps.name(ofJob: steps.job.load(ordering: .relaxed))
        reported.pending.withLock { $0 = (started, name) }
        steps.stalled.store(true, ordering: .relaxed)
        let held = Double(now - started) / 1e6
        logger.warning(
            """
            the loop thread has been held for \(Int(held)) ms by \(Self.describe(name)) without suspending \
            (threshold \(threshold)); move blocking or CPU-heavy work to loop.toThread
            """,
            metadata: [
                "triad.task": .string(name ?? "unnamed"),
                "triad.heldMilliseconds": .stringConvertible(Int(held)),
            ]
        )
    }

    /// Reports the whole length of the step reported last, once it has ended, and counts it.
    private func reportEndedStall() {
        let ended = reported.pending.withLock { pending -> (length: UInt64, name: String?)? in
            guard let (start, name) = pending else { return nil }
            let end = steps.stallEnd.load(ordering: .acquiring)
            if steps.stallStart.load(ordering: .relaxed) == start, end > start {
                pending = nil
                return (end - start, name)
            }
            // A step that ended before it was marked left no end: its first report stands alone.
            if steps.startedAt.load(ordering: .acquiring) != start, !steps.stalled.load(ordering: .relaxed) {
                pending = nil
            }
            return nil
        }
        guard let ended else { return }
        stalls.increment()
        stallLengths.recordNanoseconds(Int64(clamping: ended.length))
        let held = Double(ended.length) / 1e6
        logger.warning(
            """
            the loop thread was held for \(Int(held)) ms in all by \(Self.describe(ended.name)) without suspending \
            (threshold \(threshold))
            """,
            metadata: [
                "triad.task": .string(ended.name ?? "unnamed"),
                "triad.heldMilliseconds": .stringConvertible(Int(held)),
                "triad.stepEnded": "true",
            ]
        )
    }

    private static func describe(_ name: String?) -> String {
        name.map { "task '\($0)'" } ?? "an unnamed task"
    }
}

/// What the watchdog reported last. Only the watchdog thread touches it.
private final class Reported: Sendable {
    /// The step last reported, so that each long step is reported once when it crosses the threshold.
    let sequence = Atomic<UInt64>(.max)
    /// The start and the task of a reported step whose end is still to be reported.
    let pending = Mutex<(start: UInt64, name: String?)?>(nil)
}

extension Duration {
    /// The duration as a NIO `TimeAmount`.
    var timeAmount: TimeAmount { .nanoseconds(saturatingSignedNanoseconds) }
}
