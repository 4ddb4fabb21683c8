import CTriadShims
import TriadCore

/// One background OS thread that runs short callbacks at deadlines: the timeouts of async waits and of pool jobs.
/// Callbacks run on that thread, so they must be short and must not block.
final class DeadlineScheduler: @unchecked Sendable {
    // Guarded by `monitor`: `heap`, `actions`, `nextID`, `started`.
    static let shared = DeadlineScheduler()

    struct Token: Sendable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        var deadline: Deadline
        var id: UInt64
    }

    private struct ByDeadline: HeapOrder {
        func leavesFirst(_ lhs: Entry, _ rhs: Entry) -> Bool { lhs.deadline < rhs.deadline }
    }

    private let monitor = Monitor()
    private var heap = BinaryHeap(ByDeadline())
    private var actions: [UInt64: @Sendable () -> Void] = [:]
    private var nextID: UInt64 = 0
    private var started = false

    /// Runs `action` on the scheduler's thread once `deadline` has passed, unless cancelled first.
    func schedule(at deadline: Deadline, _ action: @escaping @Sendable () -> Void) -> Token {
        monitor.lock()
        defer { monitor.unlock() }
        nextID += 1
        let id = nextID
        actions[id] = action
        let isEarliest = heap.first.map { deadline < $0.deadline } ?? true
        heap.insert(Entry(deadline: deadline, id: id))
        if !started {
            started = true
            startThread()
        } else if isEarliest {
            monitor.signal()
        }
        return Token(id: id)
    }

    /// Drops a callback that has not run yet; cancelling one that ran or was cancelled is not an error.
    func cancel(_ token: Token) {
        monitor.lock()
        actions[token.id] = nil
        monitor.unlock()
    }

    private func startThread() {
        let rc = DetachedThread.start { [self] in
            triad_thread_set_name("triad-deadlines")
            run()
        }
        precondition(rc == 0, "the timeout thread could not be started (errno \(rc))")
    }

    private func run() -> Never {
        monitor.lock()
        while true {
            var due: [@Sendable () -> Void] = []
            let now = Deadline.now
            while let first = heap.first, first.deadline <= now {
                _ = heap.popFirst()
                if let action = actions.removeValue(forKey: first.id) { due.append(action) }
            }
            if !due.isEmpty {
                monitor.unlock()
                for action in due { action() }
                monitor.lock()
                continue
            }
            // Cancelled entries stay in the heap until their deadline; drop them early when the heap is mostly dead.
            if heap.count > 64, actions.count < heap.count / 4 {
                _ = heap.removeAll { actions[$0.id] == nil }
            }
            _ = monitor.wait(until: heap.first?.deadline)
        }
    }
}
