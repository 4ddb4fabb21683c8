/// Whether a task about to suspend for one of a pool's jobs reads the results itself first (see
/// `IdleStrategy.awaitAssist`), from how the pool's last such assists went: a pure state, kept behind the pool's lock
/// for it.
///
/// Every assist is admitted while they bring results; after ``missesBeforeBackingOff`` in a row end with the job
/// still running (the pool's jobs outlast the budget), only one await in ``probeInterval`` assists, to see whether
/// that has changed, and the first assist to bring a result admits them all again. So a pool of long jobs spends a
/// 32nd of the budget per await, and a pool of short ones loses no result to a suspension.
struct AwaitAssistPolicy: Equatable {
    /// Assists in a row that ended before their job did, after which the policy backs off.
    static let missesBeforeBackingOff = 4
    /// While it backs off, one await in this many assists.
    static let probeInterval = 32

    /// Admitted assists in a row that ended before their job did, up to ``missesBeforeBackingOff``.
    private(set) var misses = 0
    /// Awaits not admitted since the last probe.
    private(set) var skipped = 0
    /// Admitted assists that brought their job's outcome, in all.
    private(set) var hits = 0
    /// Admitted assists that read nothing because other threads were reading every worker's results, in all: they
    /// say nothing of the jobs' length, so they count as neither a hit nor a miss.
    private(set) var busy = 0

    /// Whether this await assists. Counts it among the skipped ones if not.
    mutating func admits() -> Bool {
        guard misses >= Self.missesBeforeBackingOff else { return true }
        skipped += 1
        guard skipped >= Self.probeInterval else { return false }
        skipped = 0
        return true
    }

    /// Records how an admitted assist ended: with its job's outcome in hand, or not.
    mutating func record(broughtOutcome: Bool) {
        if broughtOutcome {
            hits += 1
            misses = 0
            skipped = 0
        } else {
            misses = min(misses + 1, Self.missesBeforeBackingOff)
        }
    }

    /// Records an admitted assist that found every worker's results being read by other threads.
    mutating func recordBusy() { busy += 1 }
}
