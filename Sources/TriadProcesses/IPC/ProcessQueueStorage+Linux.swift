#if os(Linux)
import CTriadShims
import Glibc
import SystemPackage

/// A ProcessQueue's shared segment and the operations on it.
///
/// The segment holds a header (with a process-shared robust mutex), a ring of ready slot indices in delivery
/// order, a stack of free slot indices, one record per slot and the slots' bytes. Every change happens under the
/// mutex. Each slot's `state` is the source of truth: the ring, the stack and the counters can be rebuilt from
/// the records alone, which is what `repair()` does when a process died holding the lock (EOWNERDEAD). Waiting
/// uses futex words rather than condition variables, because a process killed while waiting on a process-shared
/// condition variable can leave it owing a wake-up; a dead futex waiter leaves nothing behind.
final class ProcessQueueStorage: @unchecked Sendable {
    // @unchecked: every access to the segment's mutable state happens under the segment's own process-shared
    // mutex, or through the C shim's atomics for the words read without it.
    static let magic: UInt32 = 0x5154_5254  // "TRTQ"
    static let version: UInt32 = 1

    enum SlotState {
        static let free: UInt32 = 0
        static let ready: UInt32 = 1
        static let leased: UInt32 = 2
    }

    /// A value taken from the queue: its bytes, and where its lease lives.
    struct Taken: Sendable {
        var bytes: [UInt8]
        var slot: UInt32
        var sequence: UInt64
        var deliveries: UInt32
    }

    let memory: SharedMemory
    let header: UnsafeMutablePointer<triad_queue_header>
    let capacity: Int
    let slotSize: Int
    private let ring: UnsafeMutablePointer<UInt32>
    private let freeStack: UnsafeMutablePointer<UInt32>
    private let records: UnsafeMutablePointer<triad_queue_slot>
    private let data: UnsafeMutableRawPointer
    /// When this process last looked for leases of dead consumers, in monotonic nanoseconds.
    private var lastSweep: Int64 = 0
    let me = Syscall.currentProcess
    /// How often waiting calls look for the leases of dead consumers.
    static let sweepInterval: Int64 = 100_000_000

    private static func layout(
        capacity: Int,
        slotSize: Int
    ) -> (ring: Int, free: Int, records: Int, data: Int, total: Int) {
        func align(_ value: Int) -> Int { (value + 63) & ~63 }
        let ring = align(MemoryLayout<triad_queue_header>.size)
        let free = align(ring + 4 * capacity)
        let records = align(free + 4 * capacity)
        let data = align(records + MemoryLayout<triad_queue_slot>.stride * capacity)
        return (ring, free, records, data, data + capacity * slotSize)
    }

    static func segmentSize(capacity: Int, slotSize: Int) -> Int {
        layout(capacity: capacity, slotSize: slotSize).total
    }

    private init(memory: SharedMemory, capacity: Int, slotSize: Int) {
        let parts = Self.layout(capacity: capacity, slotSize: slotSize)
        let base = memory.baseAddress
        self.memory = memory
        self.capacity = capacity
        self.slotSize = slotSize
        self.header = base.bindMemory(to: triad_queue_header.self, capacity: 1)
        self.ring = (base + parts.ring).bindMemory(to: UInt32.self, capacity: capacity)
        self.freeStack = (base + parts.free).bindMemory(to: UInt32.self, capacity: capacity)
        self.records = (base + parts.records).bindMemory(to: triad_queue_slot.self, capacity: capacity)
        self.data = base + parts.data
    }

    /// Lays out a new queue in a fresh (zeroed) segment.
    static func create(in memory: SharedMemory, capacity: Int, slotSize: Int) throws(IPCError) -> ProcessQueueStorage {
        let storage = ProcessQueueStorage(memory: memory, capacity: capacity, slotSize: slotSize)
        let header = storage.header
        let result = triad_ipc_mutex_init(&header.pointee.mutex)
        guard result == 0 else { throw IPCError("pthread_mutex_init (process-shared, robust)", Errno(rawValue: result)) }
        header.pointee.capacity = UInt32(capacity)
        header.pointee.slotSize = UInt32(slotSize)
        for index in 0..<capacity {
            storage.freeStack[index] = UInt32(capacity - 1 - index)
        }
        header.pointee.freeCount = UInt32(capacity)
        header.pointee.version = version
        triad_ipc_atomic_store32(&header.pointee.magic, magic)
        return storage
    }

    /// Opens a queue that another process laid out.
    static func open(_ memory: SharedMemory) throws(IPCError) -> ProcessQueueStorage {
        guard memory.count >= MemoryLayout<triad_queue_header>.size else {
            throw IPCError(.invalidSegment, "the shared segment is too small to hold a ProcessQueue")
        }
        let header = memory.baseAddress.assumingMemoryBound(to: triad_queue_header.self)
        guard triad_ipc_atomic_load32(&header.pointee.magic) == magic, header.pointee.version == version else {
            throw IPCError(.invalidSegment, "the shared segment does not hold a ProcessQueue of this Triad version")
        }
        let capacity = Int(header.pointee.capacity)
        let slotSize = Int(header.pointee.slotSize)
        guard capacity > 0, memory.count >= segmentSize(capacity: capacity, slotSize: slotSize) else {
            throw IPCError(.invalidSegment, "the ProcessQueue's header does not match its segment's size")
        }
        return ProcessQueueStorage(memory: memory, capacity: capacity, slotSize: slotSize)
    }

    // MARK: The lock

    /// Takes the queue's lock, repairing the state if its last holder died with it.
    func lock() throws(IPCError) {
        let result = triad_ipc_mutex_lock(&header.pointee.mutex)
        try afterLock(result)
    }

    /// Takes the lock if it is free at once.
    func tryLock() throws(IPCError) -> Bool {
        let result = triad_ipc_mutex_trylock(&header.pointee.mutex)
        if result == EBUSY { return false }
        try afterLock(result)
        return true
    }

    private func afterLock(_ result: Int32) throws(IPCError) {
        switch result {
        case 0:
            return
        case EOWNERDEAD:
            repair()
            _ = triad_ipc_mutex_consistent(&header.pointee.mutex)
        default:
            throw IPCError("locking the queue", Errno(rawValue: result), "the queue is unusable; create a new one")
        }
    }

    func unlock() {
        _ = triad_ipc_mutex_unlock(&header.pointee.mutex)
    }

    /// Rebuilds the ring, the free stack and the counters from the slot records, after a process died holding the
    /// lock, or after leases were taken back.
    func repair() {
        var ready: [(sequence: UInt64, slot: UInt32)] = []
        var free: [UInt32] = []
        var leased: UInt32 = 0
        for index in 0..<capacity {
            switch records[index].state {
            case SlotState.ready: ready.append((records[index].sequence, UInt32(index)))
            case SlotState.leased: leased += 1
            default:
                records[index].state = SlotState.free
                free.append(UInt32(index))
            }
        }
        ready.sort { $0.sequence < $1.sequence }
        for (position, entry) in ready.enumerated() { ring[position] = entry.slot }
        for (position, slot) in free.enumerated() { freeStack[position] = slot }
        header.pointee.readyHead = 0
        header.pointee.freeCount = UInt32(free.count)
        header.pointee.leasedCount = leased
        triad_ipc_atomic_store32(&header.pointee.readyCount, UInt32(ready.count))
        // Wake everyone: what they wait for may have changed.
        _ = triad_ipc_atomic_add32(&header.pointee.notEmpty, 1)
        _ = triad_ipc_atomic_add32(&header.pointee.notFull, 1)
        _ = triad_ipc_futex_wake(&header.pointee.notEmpty, Int32.max)
        _ = triad_ipc_futex_wake(&header.pointee.notFull, Int32.max)
    }

    // MARK: Operations, with the lock held

    var isClosed: Bool { triad_ipc_atomic_load32(&header.pointee.closed) != 0 }
    var readyCount: Int { Int(triad_ipc_atomic_load32(&header.pointee.readyCount)) }
    var leasedCount: Int { Int(header.pointee.leasedCount) }

    /// Stores a value in a free slot; `false` if there is none. Returns whether a consumer waits to be woken.
    func put(_ bytes: UnsafeRawBufferPointer) -> (stored: Bool, wake: Bool) {
        guard header.pointee.freeCount > 0 else { return (false, false) }
        header.pointee.freeCount -= 1
        let slot = Int(freeStack[Int(header.pointee.freeCount)])
        if bytes.count > 0 {
            (data + slot * slotSize).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        records[slot].length = UInt32(bytes.count)
        records[slot].deliveries = 0
        records[slot].sequence = header.pointee.nextSequence
        header.pointee.nextSequence += 1
        records[slot].state = SlotState.ready  // the commit point
        let ready = Int(header.pointee.readyCount)
        ring[(Int(header.pointee.readyHead) + ready) % capacity] = UInt32(slot)
        triad_ipc_atomic_store32(&header.pointee.readyCount, UInt32(ready + 1))
        _ = triad_ipc_atomic_add32(&header.pointee.notEmpty, 1)
        return (true, triad_ipc_atomic_load32(&header.pointee.emptyWaiters) > 0)
    }

    /// Takes the first ready value, leasing its slot to this process or freeing it. Returns the value and whether
    /// a producer waits to be woken (when a slot was freed).
    func take(lease: Bool) -> (taken: Taken?, wake: Bool) {
        let ready = Int(header.pointee.readyCount)
        guard ready > 0 else { return (nil, false) }
        let slot = Int(ring[Int(header.pointee.readyHead)])
        header.pointee.readyHead = UInt32((Int(header.pointee.readyHead) + 1) % capacity)
        triad_ipc_atomic_store32(&header.pointee.readyCount, UInt32(ready - 1))
        let length = Int(records[slot].length)
        let bytes = [UInt8](UnsafeRawBufferPointer(start: data + slot * slotSize, count: length))
        records[slot].deliveries += 1
        let taken = Taken(
            bytes: bytes, slot: UInt32(slot), sequence: records[slot].sequence, deliveries: records[slot].deliveries
        )
        if lease {
            records[slot].ownerPid = me.pid
            records[slot].ownerStart = me.start
            records[slot].state = SlotState.leased  // the commit point
            header.pointee.leasedCount += 1
            return (taken, false)
        }
        return (taken, free(slot))
    }

    /// Frees a slot: the commit point, then the stack. Returns whether a producer waits to be woken.
    private func free(_ slot: Int) -> Bool {
        records[slot].state = SlotState.free
        freeStack[Int(header.pointee.freeCount)] = UInt32(slot)
        header.pointee.freeCount += 1
        _ = triad_ipc_atomic_add32(&header.pointee.notFull, 1)
        return triad_ipc_atomic_load32(&header.pointee.fullWaiters) > 0
    }

    /// Whether this process still holds the lease of `taken`.
    private func holdsLease(_ taken: Taken) -> Bool {
        let record = records[Int(taken.slot)]
        return record.state == SlotState.leased && record.sequence == taken.sequence && record.ownerPid == me.pid
            && record.ownerStart == me.start
    }

    /// Ends a lease by freeing the slot. `nil` if the lease was no longer held.
    func acknowledge(_ taken: Taken) -> Bool? {
        guard holdsLease(taken) else { return nil }
        header.pointee.leasedCount -= 1
        return free(Int(taken.slot))
    }

    /// Ends a lease by putting the value back at the front of the queue. `false` if the lease was no longer held.
    func requeue(_ taken: Taken) -> Bool {
        guard holdsLease(taken) else { return false }
        records[Int(taken.slot)].state = SlotState.ready
        repair()
        return true
    }

    /// Takes back the leases of consumers that died, at most every `sweepInterval` unless `force`. Returns how many.
    func sweep(force: Bool) -> Int {
        guard header.pointee.leasedCount > 0 else { return 0 }
        let now = IPCDeadline.now
        guard force || now - lastSweep >= Self.sweepInterval else { return 0 }
        lastSweep = now
        var recovered = 0
        var checked: [Int32: Bool] = [:]
        for index in 0..<capacity where records[index].state == SlotState.leased {
            let pid = records[index].ownerPid
            let start = records[index].ownerStart
            let alive = checked[pid] ?? Syscall.isAlive(pid: pid, start: start)
            checked[pid] = alive
            if !alive {
                records[index].state = SlotState.ready
                recovered += 1
            }
        }
        if recovered > 0 { repair() }
        return recovered
    }

    func close() {
        triad_ipc_atomic_store32(&header.pointee.closed, 1)
        _ = triad_ipc_atomic_add32(&header.pointee.notEmpty, 1)
        _ = triad_ipc_atomic_add32(&header.pointee.notFull, 1)
    }

    // MARK: Waiting, without the lock

    /// Wakes the consumers parked on `notEmpty` (`all`, or one) or the producers parked on `notFull`.
    func wakeConsumers(all: Bool = false) {
        _ = triad_ipc_futex_wake(&header.pointee.notEmpty, all ? Int32.max : 1)
    }

    func wakeProducers(all: Bool = false) {
        _ = triad_ipc_futex_wake(&header.pointee.notFull, all ? Int32.max : 1)
    }

    /// Registers as a waiter for a ready value; call with the lock held. Returns the futex word's value to wait on.
    func prepareToWaitForValue() -> UInt32 {
        _ = triad_ipc_atomic_add32(&header.pointee.emptyWaiters, 1)
        return triad_ipc_atomic_load32(&header.pointee.notEmpty)
    }

    func prepareToWaitForRoom() -> UInt32 {
        _ = triad_ipc_atomic_add32(&header.pointee.fullWaiters, 1)
        return triad_ipc_atomic_load32(&header.pointee.notFull)
    }

    /// Parks until `notEmpty` moves from `seen`, or `nanoseconds` pass; call without the lock.
    func waitForValue(seen: UInt32, nanoseconds: Int64) {
        _ = triad_ipc_futex_wait(&header.pointee.notEmpty, seen, nanoseconds)
        _ = triad_ipc_atomic_sub32(&header.pointee.emptyWaiters, 1)
    }

    func waitForRoom(seen: UInt32, nanoseconds: Int64) {
        _ = triad_ipc_futex_wait(&header.pointee.notFull, seen, nanoseconds)
        _ = triad_ipc_atomic_sub32(&header.pointee.fullWaiters, 1)
    }

    /// Spins for up to `nanoseconds` until a value looks ready or the queue closes; a cheap way to catch a reply
    /// that is microseconds away without paying for a wake-up.
    func spinForValue(nanoseconds: Int64) {
        guard nanoseconds > 0 else { return }
        let end = IPCDeadline.now + nanoseconds
        var round = 0
        while triad_ipc_atomic_load32(&header.pointee.readyCount) == 0 && !isClosed {
            triad_ipc_cpu_relax()
            round += 1
            if round & 7 == 0 {
                if IPCDeadline.now >= end { return }
                // The producer may be waiting for this very CPU (two processes, one core free): let it run.
                sched_yield()
            }
        }
    }
}
#endif
