import CTriadShims
import TriadCore

/// A pthread mutex with a condition variable on the monotonic clock: the one blocking primitive every TriadThreads
/// type is built on.
final class Monitor: @unchecked Sendable {
    // Guarded by itself: the pointer never changes, and the pthread objects it points to are thread-safe.
    private let raw: UnsafeMutablePointer<triad_monitor_t>

    init() {
        raw = .allocate(capacity: 1)
        let rc = triad_monitor_init(raw)
        precondition(rc == 0, "pthread mutex or condition variable could not be created (errno \(rc))")
    }

    deinit {
        triad_monitor_destroy(raw)
        raw.deallocate()
    }

    @inline(__always) func lock() { triad_monitor_lock(raw) }
    @inline(__always) func tryLock() -> Bool { triad_monitor_trylock(raw) != 0 }
    @inline(__always) func unlock() { triad_monitor_unlock(raw) }
    @inline(__always) func signal() { triad_monitor_signal(raw) }
    @inline(__always) func broadcast() { triad_monitor_broadcast(raw) }

    /// Waits for a signal, or for `deadline`. Returns `false` once the deadline has passed. Wake-ups may be
    /// spurious, so callers re-check their condition either way.
    @inline(__always) func wait(until deadline: Deadline?) -> Bool {
        guard let deadline else {
            triad_monitor_wait(raw)
            return true
        }
        return triad_monitor_wait_until(raw, deadline.nanoseconds) == 0
    }
}

/// A point on the monotonic clock, in nanoseconds.
struct Deadline: Comparable, Sendable {
    var nanoseconds: UInt64

    static var now: Deadline { Deadline(nanoseconds: triad_monotonic_ns()) }

    /// The deadline `timeout` from now; `nil` for no timeout. A negative timeout is a deadline already past.
    static func after(_ timeout: Duration?) -> Deadline? {
        guard let timeout else { return nil }
        return Deadline(nanoseconds: timeout.deadline(after: triad_monotonic_ns()))
    }

    var hasPassed: Bool { triad_monotonic_ns() >= nanoseconds }

    static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}

/// How long a waiter spins, checking for a change, before it parks in the kernel. Waking a parked thread on an idle
/// virtual CPU costs 20-25 µs here, so a short spin makes hand-offs between busy threads much cheaper.
enum Spin {
    static let budgetNanoseconds: UInt64 = 40_000
    /// The first part of the budget is spent in CPU pause hints: enough for a thread on another CPU to answer.
    static let pauseNanoseconds: UInt64 = 1_000
    /// How long a blocking wait on a job calls its executor's wait assist before it waits as usual: the time a
    /// tiny job takes on another process, with room to spare.
    static let assistNanoseconds: UInt64 = 200_000

    /// Spins until `changed` returns `true` or the budget is spent. Returns whether it saw the change.
    ///
    /// After a few microseconds of pausing the spinner yields the CPU on every round instead: if the thread it waits
    /// for shares its CPU, that thread then runs at once rather than after the spinner's time slice.
    @inline(__always) static func until(budget: UInt64 = budgetNanoseconds, _ changed: () -> Bool) -> Bool {
        if budget == 0 { return false }
        let start = triad_monotonic_ns()
        var round = 0
        while true {
            if changed() { return true }
            let elapsed = triad_monotonic_ns() &- start
            if elapsed >= budget { return false }
            if elapsed < pauseNanoseconds {
                for _ in 0..<(1 << min(round, 5)) { triad_cpu_relax() }
                round += 1
            } else {
                triad_thread_yield()
            }
        }
    }
}
