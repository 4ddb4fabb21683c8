import NIOCore

@usableFromInline
struct Getter<Element: Sendable> {
    @usableFromInline let id: UInt64
    @usableFromInline let continuation: UnsafeContinuation<Element, any Error>

    @inlinable
    init(id: UInt64, continuation: UnsafeContinuation<Element, any Error>) {
        self.id = id
        self.continuation = continuation
    }
}

@usableFromInline
struct Putter<Element: Sendable> {
    @usableFromInline let id: UInt64
    @usableFromInline let item: Element
    @usableFromInline let continuation: UnsafeContinuation<Void, any Error>

    @inlinable
    init(id: UInt64, item: Element, continuation: UnsafeContinuation<Void, any Error>) {
        self.id = id
        self.item = item
        self.continuation = continuation
    }
}

/// The queue's state machine: the items, the suspended getters and putters, and the unfinished count.
@usableFromInline
struct QueueState<Element: Sendable> {
    @usableFromInline var buffer: QueueBuffer<Element>
    @usableFromInline let maxSize: Int
    @usableFromInline var getters = CircularBuffer<Getter<Element>>()
    @usableFromInline var putters = CircularBuffer<Putter<Element>>()
    @usableFromInline var joiners: [UnsafeContinuation<Void, Never>] = []
    @usableFromInline var unfinished = 0
    @usableFromInline var nextID: UInt64 = 0

    @inlinable var isFull: Bool { maxSize > 0 && buffer.count >= maxSize }

    @usableFromInline
    enum PutOutcome {
        case done
        case handOff(Getter<Element>)
        case mustWait(UInt64)
    }

    @usableFromInline
    enum GetOutcome {
        case item(Element, wokenPutter: Putter<Element>?)
        case mustWait(UInt64)
    }

    @inlinable
    mutating func put(_ item: Element) -> PutOutcome {
        if let getter = getters.popFirst() {
            unfinished += 1
            return .handOff(getter)
        }
        if isFull {
            nextID += 1
            return .mustWait(nextID)
        }
        buffer.push(item)
        unfinished += 1
        return .done
    }

    @inlinable
    mutating func get() -> GetOutcome {
        guard buffer.count > 0 else {
            nextID += 1
            return .mustWait(nextID)
        }
        let item = buffer.pop()
        let putter = putters.popFirst()
        if let putter {
            buffer.push(putter.item)
            unfinished += 1
        }
        return .item(item, wokenPutter: putter)
    }
}

/// Items in FIFO, LIFO or priority order.
@usableFromInline
struct QueueBuffer<Element: Sendable> {
    @usableFromInline let order: AsyncQueue<Element>.Order.Kind
    @usableFromInline var ring = CircularBuffer<Element>()
    @usableFromInline var heap: [Element] = []

    init(order: AsyncQueue<Element>.Order.Kind) {
        self.order = order
    }

    @inlinable var count: Int {
        if case .priority = order { return heap.count }
        return ring.count
    }

    @inlinable
    mutating func push(_ item: Element) {
        switch order {
        case .fifo, .lifo: ring.append(item)
        case .priority(let less):
            heap.append(item)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard less(heap[child], heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }
    }

    @inlinable
    mutating func pop() -> Element {
        switch order {
        case .fifo: return ring.removeFirst()
        case .lifo: return ring.removeLast()
        case .priority(let less):
            heap.swapAt(0, heap.count - 1)
            let top = heap.removeLast()
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < heap.count && less(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count && less(heap[right], heap[smallest]) { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
            return top
        }
    }
}
