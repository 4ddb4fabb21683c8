import Synchronization
import TriadAsync

#if canImport(Glibc)
import Glibc
#endif

// Where the bytes of a parked task go: each probe parks 10k tasks, reads glibc's count of bytes in use
// (`mallinfo2().uordblks`, chunk headers included) while they are all parked, then wakes them. The difference from
// the count before, divided by 10k, is what one parked task costs the heap.
//
//     swift run -c release AsyncTimings 1 memory

#if canImport(Glibc)
let probeTasks = 10_000

// glibc's `mallinfo2()` is not in the Glibc module; it returns a struct of ten `size_t`s in memory (by a hidden
// result pointer), as any larger C struct such as `stat` is, so it is called through that type and the eighth word,
// `uordblks`, read from the result.
private typealias MallInfo2 = @convention(c) () -> stat
private let mallinfo2: MallInfo2? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallinfo2").map {
    unsafeBitCast($0, to: MallInfo2.self)
}

func heapInUse() -> Int {
    guard let mallinfo2 else { return 0 }
    precondition(MemoryLayout<stat>.size >= 10 * MemoryLayout<Int>.size)
    let info = mallinfo2()
    return withUnsafeBytes(of: info) { $0.load(fromByteOffset: 7 * MemoryLayout<Int>.size, as: Int.self) }
}

/// Continuations of parked probe tasks; the storage is reserved up front so that it does not count.
final class Parking: Sendable {
    private let parked = Mutex<[UnsafeContinuation<Void, Never>]>([])

    init() { parked.withLock { $0.reserveCapacity(probeTasks) } }

    func park(_ continuation: UnsafeContinuation<Void, Never>) {
        parked.withLock { $0.append(continuation) }
    }

    var count: Int { parked.withLock { $0.count } }

    func wakeAll() {
        let all = parked.withLock { parked in
            defer { parked.removeAll(keepingCapacity: true) }
            return parked
        }
        for continuation in all { continuation.resume() }
    }
}

@inline(never)
func notInlined() async {}

/// Parks `probeTasks` children of a discarding group (each child optionally first calls a non-inlined async
/// function), measures, wakes them. Runs in the calling task, with whatever executor preference it has.
func parkChildren(callFirst: Bool) async -> Int {
    let parking = Parking()
    let before = heapInUse()
    var during = 0
    await withDiscardingTaskGroup { group in
        for _ in 0..<probeTasks {
            let child: @Sendable @isolated(any) () async -> Void = {
                if callFirst { await notInlined() }
                await withUnsafeContinuation { parking.park($0) }
            }
            group.addTask(operation: child)
        }
        while parking.count < probeTasks { await Task.yield() }
        during = heapInUse()
        parking.wakeAll()
    }
    return (during - before) / probeTasks
}

/// Parks `probeTasks` detached tasks, which have no parent, no executor preference and no task-local values:
/// the barest task Swift makes. The runtime gives each its allocator's first slab when it is first enqueued.
func parkDetached() async -> Int {
    let parking = Parking()
    let before = heapInUse()
    var tasks: [Task<Void, Never>] = []
    tasks.reserveCapacity(probeTasks)
    let reserved = heapInUse() - before
    for _ in 0..<probeTasks {
        tasks.append(Task.detached { await withUnsafeContinuation { parking.park($0) } })
    }
    while parking.count < probeTasks { await Task.yield() }
    let during = heapInUse()
    parking.wakeAll()
    for task in tasks { await task.value }
    return (during - before - reserved) / probeTasks
}

func probeMemory(loop: AsyncLoop) async throws {
    print("heap bytes per parked task (mallinfo2 in-use delta / \(probeTasks)):")
    let bare = await Task.detached { await parkChildren(callFirst: false) }.value
    print("  group child on the global executor, parked at once:              \(bare) B")
    let called = await Task.detached { await parkChildren(callFirst: true) }.value
    print("  same, after one non-inlined async call (first allocator slab):   \(called) B")
    let preferred = await Task(executorPreference: loop.taskExecutor) { await parkChildren(callFirst: false) }.value
    print("  group child with the loop as task executor, parked at once:      \(preferred) B")
    let sleeping = try await loop.run { loop in
        let before = heapInUse()
        let operations: [@Sendable () async throws -> Void] = (0..<probeTasks).map { _ in
            { try await loop.sleep(for: .seconds(2)) }
        }
        let afterOperations = heapInUse()
        let gather = loop.createTask { _ = try await loop.gather(operations) }
        try await loop.sleep(for: .milliseconds(300))
        let during = heapInUse()
        gather.cancel()
        _ = await gather.result
        return ((during - afterOperations) / probeTasks, (afterOperations - before) / probeTasks)
    }
    print("  loop.gather of loop.sleep(2 s), all asleep:                      \(sleeping.0) B"
          + " (+ \(sleeping.1) B for the caller's closure)")
    let detached = await parkDetached()
    print("  detached task, no executor preference, parked at once:           \(detached) B")
    let waiting = try await loop.run { loop in
        let before = heapInUse()
        let futures = (0..<probeTasks).map { _ in loop.createFuture(of: Void.self) }
        for future in futures { loop.callLater(.seconds(2)) { future.succeed() } }
        let gather = loop.createTask { _ = try await loop.gather(futures: futures) }
        try await loop.sleep(for: .milliseconds(300))
        let during = heapInUse()
        gather.cancel()
        _ = await gather.result
        return (during - before) / probeTasks
    }
    print("  loop.gather(futures:) of futures set by callLater(2 s), waiting: \(waiting) B")
}
#else
func probeMemory(loop: AsyncLoop) async throws {
    print("memory probe: needs glibc's mallinfo2")
}
#endif
