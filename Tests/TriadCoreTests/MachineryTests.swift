import Synchronization
import Testing
import TriadCore

/// The small shared machinery of TriadCore, driven directly.
@Suite("Machinery")
struct MachineryTests {
    @Test("a FIFO keeps its order across compactions, and one element can leave the line")
    func fifo() {
        var fifo = FIFO<Int>()
        #expect(fifo.isEmpty)
        #expect(fifo.popFirst() == nil)
        var next = 0
        var expected = 0
        for round in 0..<200 {
            for _ in 0..<(round % 7 + 3) {
                fifo.append(next)
                next += 1
            }
            for _ in 0..<(round % 5 + 1) {
                #expect(fifo.popFirst() == expected)
                expected += 1
            }
        }
        #expect(fifo.count == next - expected)
        #expect(fifo.first == expected)
        #expect(fifo.remove(firstWhere: { $0 == expected + 1 }) == expected + 1)
        #expect(fifo.remove(firstWhere: { $0 == -1 }) == nil)
        let rest = fifo.removeAll()
        #expect(rest.first == expected)
        #expect(!rest.contains(expected + 1))
        #expect(rest.count == next - expected - 1)
        #expect(fifo.isEmpty)
    }

    @Test("a FIFO takes elements back at its front, in order, and changes its front and each element in place")
    func fifoFront() {
        var fifo = FIFO<Int>()
        fifo.prepend(contentsOf: [1, 2])
        fifo.append(3)
        #expect(Array(fifo) == [1, 2, 3])
        #expect(fifo.popFirst() == 1)
        #expect(fifo.popFirst() == 2)
        // Back into the two slots just taken, then ahead of them into a new one.
        fifo.prepend(contentsOf: [10, 20])
        fifo.prepend(0)
        #expect(Array(fifo) == [0, 10, 20, 3])
        #expect(fifo.withFirst { value -> Int in
            value += 100
            return value
        } == 100)
        fifo.updateEach { $0 *= 2 }
        #expect(Array(fifo) == [200, 20, 40, 6])
        #expect(fifo.underestimatedCount == 4)
        _ = fifo.removeAll()
        #expect(fifo.withFirst { _ in true } == nil)
        #expect(Array(fifo).isEmpty)
    }

    @Test("a FIFO drains front first, keeps the rest when the body throws, and takes appends again afterwards")
    func fifoDrain() {
        struct Stop: Error {}
        var fifo = FIFO<Int>()
        for value in 0..<100 { fifo.append(value) }
        for _ in 0..<70 { _ = fifo.popFirst() }
        for value in 100..<110 { fifo.append(value) }
        var seen: [Int] = []
        fifo.drain { seen.append($0) }
        #expect(seen == Array(70..<110))
        #expect(fifo.isEmpty)
        fifo.append(1)
        fifo.append(2)
        fifo.append(3)
        seen = []
        #expect(throws: Stop.self) {
            try fifo.drain { (value: Int) throws(Stop) in
                seen.append(value)
                if value == 2 { throw Stop() }
            }
        }
        #expect(seen == [1, 2])
        #expect(Array(fifo) == [3])
        fifo.append(4)
        #expect(fifo.popFirst() == 3)
        #expect(fifo.popFirst() == 4)
        #expect(fifo.isEmpty)
    }

    @Test("a FIFO lets go of what it handed out")
    func fifoReleases() {
        final class Token {}
        weak var watched: Token?
        var fifo = FIFO<Token>()
        do {
            let token = Token()
            watched = token
            fifo.append(token)
            fifo.append(Token())
            _ = fifo.popFirst()
        }
        #expect(watched == nil)
        #expect(fifo.count == 1)
    }

    @Test("a binary heap pops in order, and removes a matching set in one pass")
    func heap() {
        var heap = BinaryHeap(ClosureOrder<Int> { $0 < $1 })
        for value in [5, 3, 9, 1, 7, 2, 8, 6, 4, 0] { heap.insert(value) }
        #expect(heap.count == 10)
        #expect(heap.first == 0)
        #expect(heap.removeAll { $0 % 3 == 0 } == [0, 3, 6, 9])
        var popped: [Int] = []
        while let value = heap.popFirst() { popped.append(value) }
        #expect(popped == [1, 2, 4, 5, 7, 8])
        #expect(heap.isEmpty)
        for value in [3, 1, 2] { heap.insert(value) }
        #expect(heap.removeAll() == [1, 2, 3])
    }

    @Test("queue states in FIFO, LIFO and priority order; equal priorities leave in the order they came")
    func queueOrders() {
        var fifo = QueueState<Int>(order: .fifo, maxSize: nil)
        var lifo = QueueState<Int>(order: .lifo, maxSize: nil)
        for item in [1, 2, 3] {
            _ = fifo.put(item)
            _ = lifo.put(item)
        }
        #expect(drain(&fifo) == [1, 2, 3])
        #expect(drain(&lifo) == [3, 2, 1])

        // Items compare by their priority only; the letters show the order they were put in.
        var priority = QueueState<(priority: Int, label: String)>(
            order: .priority(by: { $0.priority < $1.priority }),
            maxSize: nil
        )
        for (index, item) in [(2, "a"), (1, "b"), (2, "c"), (1, "d"), (2, "e"), (0, "f"), (1, "g")].enumerated() {
            _ = priority.put(item)
            #expect(priority.count == index + 1)
        }
        #expect(drain(&priority).map(\.label) == ["f", "b", "d", "g", "a", "c", "e"])

        var comparable = QueueState<Int>(order: .priority, maxSize: 0)
        #expect(comparable.maxSize == nil)
        for item in [3, 1, 2] { _ = comparable.put(item) }
        #expect(drain(&comparable) == [1, 2, 3])
    }

    @Test("a bounded queue state refuses a put when full, and counts handed-off items as unfinished")
    func queueBound() {
        var state = QueueState<Int>(order: .fifo, maxSize: 1)
        #expect(state.put(1) == .done)
        #expect(state.isFull)
        #expect(state.put(2) == nil)
        state.handedOff()
        #expect(state.unfinished == 2)
        state.close()
        #expect(state.isClosed)
        #expect(state.put(3) == .closed)
    }

    @Test("a promise resolves once and tells its callbacks in order, then its waiters")
    func promise() async {
        let shared = SharedPromise()
        let first = shared.promise.withLock { $0.addCallback { value in shared.heard("first \(value)") } }
        let second = shared.promise.withLock { $0.addCallback { value in shared.heard("second \(value)") } }
        #expect(first == nil && second == nil)
        // The waiter reads the log as soon as it resumes, on its own thread: both callbacks must have run by then.
        async let heard = { () async -> (Int, [String]) in
            let value = await withUnsafeContinuation { (continuation: UnsafeContinuation<Int, Never>) in
                let ready = shared.promise.withLock { promise -> Int? in
                    let id = promise.nextWaiterID()
                    return promise.addWaiter(continuation, id: id)
                }
                shared.waiting.store(true, ordering: .releasing)
                if let ready { continuation.resume(returning: ready) }
            }
            return (value, shared.log.withLock { $0 })
        }()
        while !shared.waiting.load(ordering: .acquiring) { await Task.yield() }
        let wakeups = shared.promise.withLock { $0.resolve(7) }
        let again = shared.promise.withLock { $0.resolve(8) }
        #expect(again == nil)
        wakeups?.run()
        let (value, log) = await heard
        #expect(value == 7)
        #expect(log == ["first 7", "second 7"])
        let resolved = shared.promise.withLock { $0.isResolved }
        #expect(resolved)
        let late = shared.promise.withLock { $0.addCallback { _ in } }
        #expect(late == 7)
    }

    @Test("a promise's waiter can leave before it resolves")
    func promiseWaiterLeaves() {
        var promise = Promise<Int>()
        let id = promise.nextWaiterID()
        #expect(promise.removeWaiter(id) == nil)
        #expect(promise.outcome == nil)
    }

    @Test("a slot buffer hands each input out once and gives the values back in order")
    func slotBuffer() async {
        let buffer = SlotBuffer<Int, Int>(Array(0..<1000))
        #expect(buffer.count == 1000)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    while let (index, input) = buffer.claim() { buffer.store(input * 2, at: index) }
                }
            }
        }
        #expect(buffer.claim() == nil)
        #expect(buffer.take() == (0..<1000).map { $0 * 2 })
        let streaming = SlotBuffer<String, Int>(["a", "b"], storesValues: false)
        #expect(streaming.claim()?.input == "a")
        #expect(streaming.claim()?.input == "b")
        #expect(streaming.claim() == nil)
    }

    @Test("a detached thread runs its body")
    func detachedThread() async {
        let shared = SharedPromise()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let rc = DetachedThread.start {
                shared.waiting.store(true, ordering: .releasing)
                continuation.resume()
            }
            #expect(rc == 0)
        }
        let ran = shared.waiting.load(ordering: .acquiring)
        #expect(ran)
    }

    @Test("a spare slot hands its object to one taker, keeps one object at a time and lets go of it at the end")
    func spareSlot() {
        weak var firstSeen: Spare?
        weak var refusedSeen: Spare?
        do {
            let slot = SpareSlot<Spare>()
            let empty = slot.take()
            #expect(empty == nil)
            let first = Spare()
            firstSeen = first
            let keptFirst = slot.keep(first)
            #expect(keptFirst)
            let refused = Spare()
            refusedSeen = refused
            let keptSecond = slot.keep(refused)
            #expect(!keptSecond)
            let taken = slot.take()
            #expect(taken === first)
            let takenAgain = slot.take()
            #expect(takenAgain == nil)
            let keptAgain = slot.keep(first)
            #expect(keptAgain)
        }
        // Dropped by the caller once refused, and by the slot when it goes.
        #expect(refusedSeen == nil)
        #expect(firstSeen == nil)
    }

    @Test("threads that take and keep through one spare slot never hold its object at once")
    func spareSlotAcrossThreads() async {
        let shared = SharedSpare()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let rc = DetachedThread.start {
                            for _ in 0..<20_000 {
                                let spare = shared.slot.take() ?? Spare()
                                if spare.inUse.exchange(true, ordering: .acquiringAndReleasing) {
                                    shared.overlaps.add(1, ordering: .relaxed)
                                }
                                spare.inUse.store(false, ordering: .releasing)
                                _ = shared.slot.keep(spare)
                            }
                            continuation.resume()
                        }
                        #expect(rc == 0)
                    }
                }
            }
        }
        #expect(shared.overlaps.load(ordering: .relaxed) == 0)
        let left = shared.slot.take()
        #expect(left != nil)
    }

    private func drain<Element>(_ state: inout QueueState<Element>) -> [Element] {
        var items: [Element] = []
        while case .item(let item)? = state.get() { items.append(item) }
        return items
    }
}

/// A promise and a log that several tasks share in a test.
private final class SharedPromise: Sendable {
    let promise = Mutex(Promise<Int>())
    let log = Mutex<[String]>([])
    let waiting = Atomic<Bool>(false)

    func heard(_ entry: String) { log.withLock { $0.append(entry) } }
}

/// An object kept in a spare slot, which says whether a thread is using it.
private final class Spare: Sendable {
    let inUse = Atomic<Bool>(false)
}

/// A spare slot that several threads share in a test, and the times two of them held its object at once.
private final class SharedSpare: Sendable {
    let slot = SpareSlot<Spare>()
    let overlaps = Atomic<Int>(0)
}
