#if os(Linux)
import TriadCore

/// A first-in, first-out queue of `Codable` values shared by many producer and consumer processes: Triad's
/// counterpart of Python's `multiprocessing.Queue`.
///
/// ```swift
/// let queue = try ProcessQueue<Task>.anonymous(maxSize: 64)
/// // hand queue.descriptor to workers; each opens it with ProcessQueue<Task>(inheriting:)
/// try queue.put(Task(id: 1))
///
/// // in a worker:
/// let delivery = try queue.receive(timeout: .seconds(5))
/// handle(delivery.value)
/// try delivery.acknowledge()
/// ```
///
/// The queue lives in a ``SharedMemory`` segment: a ring of fixed-size slots guarded by a process-shared, robust
/// mutex. Values are encoded with `WireEncoder`; a value whose encoding is above ``slotSize`` is refused with
/// ``IPCError/Code/tooLarge`` (send large data through ``SharedMemory``).
///
/// ## Delivery guarantee
///
/// ``receive(timeout:)-7hso2`` **leases** a value to the calling process and returns a ``Delivery``. The value stays in
/// its slot until the delivery is acknowledged:
/// - ``Delivery/acknowledge()`` removes it for good: each value is acknowledged at most once.
/// - If the consumer process dies in any way (crash, `SIGKILL`) before acknowledging, the value goes back to the
///   **front** of the queue and is delivered again, to another consumer or a later one, with
///   ``Delivery/deliveryCount`` one higher. Consumers look for dead consumers' leases before they take a value,
///   at most every 100 ms, and waiting consumers and producers look every 100 ms; ``recoverAbandoned()`` looks at
///   once.
/// - ``Delivery/requeue()``, or dropping a delivery without acknowledging it, puts the value back at the front.
///
/// So no value is ever lost, and a value is never handled twice **if the consumer acknowledges before it commits
/// the value's effects** (or the effects are idempotent): a consumer that dies after receiving and before
/// handling causes exactly one redelivery and no duplicate. One that dies after handling but before acknowledging
/// causes the value to be handled again; ``Delivery/isRedelivered`` tells the next consumer so.
///
/// ``get(timeout:)-1tmdd`` is the simple form: it takes the value and removes it in one step. The value is never
/// duplicated, and is lost only if the consumer dies after `get` returned it.
///
/// A value's slot counts towards ``maxSize`` until it is acknowledged, so `put` blocks while the queue holds
/// `maxSize` values waiting or leased.
///
/// ## Death and locks
///
/// A process that dies holding the queue's lock (even `SIGKILL` in the middle of a `put`) never leaves it locked:
/// the next process to lock it repairs the queue from the slots' records and carries on; a half-written `put` is
/// dropped, a half-taken value stays in the queue. A process killed while it waits in `get` or `put` leaves
/// nothing behind.
///
/// ## Blocking and async
///
/// `put`, `get` and `receive` block the calling thread; call them from your own threads. Their `async` variants
/// return at once when they can, and otherwise wait on a dedicated thread, never blocking Swift's cooperative
/// pool. A blocked consumer spins briefly (``spin``) before it parks, which catches a value that is microseconds
/// away without the cost of waking an idle CPU.
public final class ProcessQueue<Element: Codable & Sendable>: Sendable {
    let storage: ProcessQueueStorage
    /// How long a blocked consumer spins before it parks. Zero never spins.
    public let spin: Duration
    let spinNanoseconds: Int64

    /// The default slot size: 64 KiB.
    public static var defaultSlotSize: Int { 64 << 10 }
    /// The default spin before parking: 50 µs.
    public static var defaultSpin: Duration { .microseconds(50) }

    private init(storage: ProcessQueueStorage, spin: Duration) {
        self.storage = storage
        self.spin = spin
        self.spinNanoseconds = spin.saturatingSignedNanoseconds
    }

    /// Creates a queue in a new anonymous segment. Hand it to other processes by its ``descriptor``.
    ///
    /// - Parameters:
    ///   - maxSize: The most values the queue holds, waiting or leased; more than zero.
    ///   - slotSize: The largest encoded value, in bytes. The segment takes about `maxSize × slotSize` bytes of
    ///     address space; memory is used only as slots are written.
    ///   - spin: How long a blocked consumer spins before it parks.
    /// - Throws: ``IPCError/Code/systemCallFailed`` if the system refuses the memory.
    public static func anonymous(
        maxSize: Int,
        slotSize: Int = defaultSlotSize,
        spin: Duration = defaultSpin
    ) throws(IPCError) -> ProcessQueue {
        try checkSizes(maxSize: maxSize, slotSize: slotSize)
        let memory = try SharedMemory.anonymous(
            count: ProcessQueueStorage.segmentSize(capacity: maxSize, slotSize: slotSize)
        )
        return ProcessQueue(
            storage: try .create(in: memory, capacity: maxSize, slotSize: slotSize),
            spin: spin
        )
    }

    /// Creates a queue in a new named segment owned by this process; other processes open it by ``name``.
    ///
    /// - Parameters: As ``anonymous(maxSize:slotSize:spin:)``.
    /// - Throws: ``IPCError/Code/systemCallFailed`` if the system refuses the segment.
    public static func named(
        maxSize: Int,
        slotSize: Int = defaultSlotSize,
        spin: Duration = defaultSpin
    ) throws(IPCError) -> ProcessQueue {
        try checkSizes(maxSize: maxSize, slotSize: slotSize)
        let memory = try SharedMemory.named(
            count: ProcessQueueStorage.segmentSize(capacity: maxSize, slotSize: slotSize)
        )
        return ProcessQueue(
            storage: try .create(in: memory, capacity: maxSize, slotSize: slotSize),
            spin: spin
        )
    }

    /// Opens a queue whose segment descriptor this process inherited or received, taking ownership of it.
    ///
    /// - Throws: ``IPCError/Code/invalidSegment`` if the descriptor does not hold a queue.
    public convenience init(inheriting descriptor: IPCDescriptor, spin: Duration = defaultSpin) throws(IPCError) {
        let memory = try SharedMemory(adopting: descriptor)
        self.init(storage: try .open(memory), spin: spin)
    }

    /// Opens a named queue that another process created.
    ///
    /// - Throws: ``IPCError/Code/notFound`` if there is no such queue; ``IPCError/Code/invalidSegment``.
    public convenience init(name: String, spin: Duration = defaultSpin) throws(IPCError) {
        let memory = try SharedMemory.open(name: name)
        self.init(storage: try .open(memory), spin: spin)
    }

    private static func checkSizes(maxSize: Int, slotSize: Int) throws(IPCError) {
        precondition(maxSize > 0, "a queue's maxSize must be more than zero")
        precondition(slotSize > 0 && slotSize <= Int(UInt32.max), "a queue's slotSize must fit in 32 bits")
    }

    /// The most values the queue holds, waiting or leased.
    public var maxSize: Int { storage.capacity }
    /// The largest encoded value a slot holds, in bytes.
    public var slotSize: Int { storage.slotSize }
    /// The segment's descriptor, to hand the queue to a child process. This object still owns it.
    public var descriptor: IPCDescriptor { storage.memory.descriptor }
    /// The segment's name for ``init(name:spin:)``, or `nil` for an anonymous queue.
    public var name: String? { storage.memory.name }
    /// How many values wait to be taken; it may change at once.
    public var count: Int { storage.readyCount }
    /// Whether ``close()`` was called, by any process.
    public var isClosed: Bool { storage.isClosed }

    /// How many values are leased to consumers and not yet acknowledged; it may change at once.
    public var inFlightCount: Int {
        get throws(IPCError) {
            try storage.lock()
            defer { storage.unlock() }
            return storage.leasedCount
        }
    }

    /// Closes the queue for every process: `put` then throws ``IPCError/Code/closed``; consumers take the values
    /// still waiting, then get ``IPCError/Code/closed`` once none waits and none is leased (a leased value may
    /// yet come back). Calling it again does nothing.
    ///
    /// - Throws: ``IPCError/Code/systemCallFailed`` only if the queue's lock is broken.
    public func close() throws(IPCError) {
        try storage.lock()
        storage.close()
        storage.unlock()
        storage.wakeConsumers(all: true)
        storage.wakeProducers(all: true)
    }

    /// Returns the values leased to consumers that have died to the front of the queue, at once.
    ///
    /// - Returns: How many values came back. Zero is not an error.
    /// - Throws: ``IPCError/Code/systemCallFailed`` only if the queue's lock is broken.
    @discardableResult
    public func recoverAbandoned() throws(IPCError) -> Int {
        try storage.lock()
        let recovered = storage.sweep(force: true)
        storage.unlock()
        if recovered > 0 { storage.wakeConsumers(all: true) }
        return recovered
    }

    /// Encodes a value for a slot.
    func encode(_ value: Element) throws(IPCError) -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try WireEncoder().encode(value)
        } catch {
            throw IPCError(.encodingFailed, "encoding \(Element.self) failed: \(error)")
        }
        guard bytes.count <= storage.slotSize else {
            throw IPCError(
                .tooLarge,
                "a \(Element.self) of \(bytes.count) encoded bytes is above the queue's slot size of "
                    + "\(storage.slotSize) bytes; nothing was put. Create the queue with a larger slotSize, or send "
                    + "large data through SharedMemory"
            )
        }
        return bytes
    }

    /// Decodes a value from a slot.
    func decode(_ bytes: [UInt8]) throws(IPCError) -> Element {
        do {
            return try WireDecoder().decode(Element.self, from: bytes)
        } catch {
            throw IPCError(
                .decodingFailed,
                "a value of \(bytes.count) bytes in the queue is not a valid \(Element.self) (\(error)); it was "
                    + "removed. Do all processes use the queue with the same element type?"
            )
        }
    }
}
#endif

#if os(Linux)
extension ProcessQueue {
    /// Test hook: runs `body` with the queue's lock held, so a test can kill a process that holds it.
    package func withLockHeldForTesting(_ body: () -> Void) throws(IPCError) {
        try storage.lock()
        body()
        storage.unlock()
    }
}
#endif
