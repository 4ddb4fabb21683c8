/// The state machine of a ``BlockingQueue``: its items in FIFO, LIFO or priority order, its bound, the count of
/// unfinished tasks, and whether it is closed.
struct QueueState<Element> {
    private enum Buffer {
        case fifo(items: [Element], head: Int)
        case lifo([Element])
        case priority(BinaryHeap<(element: Element, sequence: UInt64)>)
    }

    enum Put: Equatable {
        case done, closed
    }

    enum Get {
        case item(Element)
        case closed
    }

    private var buffer: Buffer
    private var sequence: UInt64 = 0
    let maxSize: Int?
    private(set) var count = 0
    private(set) var unfinished = 0
    private(set) var isClosed = false

    init(lifo: Bool, maxSize: Int?) {
        buffer = lifo ? .lifo([]) : .fifo(items: [], head: 0)
        self.maxSize = maxSize
    }

    init(priority areInIncreasingOrder: @escaping (Element, Element) -> Bool, maxSize: Int?) {
        // Equal priorities leave in the order they came, by sequence number.
        buffer = .priority(BinaryHeap { lhs, rhs in
            if areInIncreasingOrder(lhs.element, rhs.element) { return true }
            if areInIncreasingOrder(rhs.element, lhs.element) { return false }
            return lhs.sequence < rhs.sequence
        })
        self.maxSize = maxSize
    }

    var isFull: Bool { maxSize.map { count >= $0 } ?? false }

    /// Adds `element` unless the queue is full (`nil`: wait) or closed.
    mutating func put(_ element: Element) -> Put? {
        if isClosed { return .closed }
        if isFull { return nil }
        switch buffer {
        case .fifo(var items, let head):
            buffer = .lifo([])  // keeps `items` uniquely referenced while it changes
            items.append(element)
            buffer = .fifo(items: items, head: head)
        case .lifo(var items):
            buffer = .lifo([])
            items.append(element)
            buffer = .lifo(items)
        case .priority(var heap):
            buffer = .lifo([])
            sequence += 1
            heap.insert((element, sequence))
            buffer = .priority(heap)
        }
        count += 1
        unfinished += 1
        return .done
    }

    /// Takes the next item; `nil` when empty (wait), `.closed` when empty and closed.
    mutating func get() -> Get? {
        if count == 0 { return isClosed ? .closed : nil }
        let element: Element
        switch buffer {
        case .fifo(var items, var head):
            buffer = .lifo([])
            element = items[head]
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64, head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
            buffer = .fifo(items: items, head: head)
        case .lifo(var items):
            buffer = .lifo([])
            element = items.removeLast()
            buffer = .lifo(items)
        case .priority(var heap):
            buffer = .lifo([])
            element = heap.popFirst()!.element
            buffer = .priority(heap)
        }
        count -= 1
        return .item(element)
    }

    /// Marks one task done. Returns `false` if more tasks were marked done than items were put.
    mutating func taskDone() -> Bool {
        guard unfinished > 0 else { return false }
        unfinished -= 1
        return true
    }

    mutating func close() {
        isClosed = true
    }
}
