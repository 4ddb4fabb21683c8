import NIOCore
import TriadCore

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

/// The queue's state: the items, bound and unfinished count (TriadCore's ``QueueState``, shared with Threads'
/// `BlockingQueue`), and the suspended getters, putters and joiners.
@usableFromInline
struct AsyncQueueState<Element: Sendable> {
    @usableFromInline var items: QueueState<Element>
    @usableFromInline var getters = CircularBuffer<Getter<Element>>()
    @usableFromInline var putters = CircularBuffer<Putter<Element>>()
    @usableFromInline var joiners: [UnsafeContinuation<Void, Never>] = []
    @usableFromInline var nextID: UInt64 = 0

    @inlinable
    init(order: QueueOrder<Element>, maxSize: Int) {
        items = QueueState(order: order, maxSize: maxSize)
    }

    @inlinable var isFull: Bool { items.isFull }

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
            items.handedOff()
            return .handOff(getter)
        }
        guard items.put(item) != nil else {
            nextID += 1
            return .mustWait(nextID)
        }
        return .done
    }

    @inlinable
    mutating func get() -> GetOutcome {
        guard case .item(let item) = items.get() else {
            nextID += 1
            return .mustWait(nextID)
        }
        let putter = putters.popFirst()
        if let putter { _ = items.put(putter.item) }
        return .item(item, wokenPutter: putter)
    }
}
