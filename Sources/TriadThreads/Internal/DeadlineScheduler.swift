import CTriadShims

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

    private let monitor = Monitor()
    private var heap = BinaryHeap<Entry>(by: { $0.deadline < $1.deadline })
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
        let rc = spawnThread(stackSize: 0) { [self] in
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
                let live = heap.elements.filter { actions[$0.id] != nil }
                heap.removeAll()
                for entry in live { heap.insert(entry) }
            }
            _ = monitor.wait(until: heap.first?.deadline)
        }
    }
}
