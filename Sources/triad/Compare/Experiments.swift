import Synchronization
import TriadAsync
import TriadCore
import TriadProcesses
import TriadThreads

#if canImport(Glibc)
    import Glibc
#endif

/// The experiments behind claims 5 to 7, in Swift: each observes what the claim asserts instead of assuming it.
/// The Python script runs the same three, so their figures have the same names.
enum SwiftExperiments {
    /// The experiments' names, in claim order.
    static let names = ["async-threads", "process-memory", "shared-memory"]

    static func run(_ name: String) async throws -> (claim: Int, observed: String, figures: [String: Double]) {
        switch name {
        case "async-threads": try await asyncThreads()
        case "process-memory": try await processMemory()
        default: try await sharedMemory()
        }
    }

    /// Claim 5: 200 tasks on one loop note the thread they run on before and after every await.
    private static func asyncThreads() async throws -> (claim: Int, observed: String, figures: [String: Double]) {
        let seen = Mutex<Set<UInt>>([])
        let options = AsyncLoop.Options(watchdogThreshold: nil)
        let processThreads = try await AsyncLoop.run(options: options) { loop in
            let operations: [@Sendable () async throws -> Void] = (0..<200).map { index in
                {
                    for _ in 0..<3 {
                        seen.withLock { _ = $0.insert(UInt(pthread_self())) }
                        try await loop.sleep(for: .milliseconds(index % 3))
                    }
                    seen.withLock { _ = $0.insert(UInt(pthread_self())) }
                }
            }
            _ = try await loop.gather(operations)
            return threadCount()
        }
        let distinct = seen.withLock { $0.count }
        return (
            5,
            "200 tasks ran on \(distinct) thread\(distinct == 1 ? "" : "s") (the process had \(processThreads) "
                + "OS thread\(processThreads == 1 ? "" : "s") in all)",
            ["tasks": 200, "distinctThreads": Double(distinct), "processThreads": Double(processThreads)]
        )
    }

    /// Claim 6: a worker process writes a global, then a byte of shared memory; this process reads both.
    private static func processMemory() async throws -> (claim: Int, observed: String, figures: [String: Double]) {
        labGlobal.store(0, ordering: .sequentiallyConsistent)
        let pool = ProcessPoolExecutor(workers: 1)
        let childSaw: [Int]
        do {
            childSaw = try await pool.map([WriteGlobalJob(value: 42)])
            await pool.shutdown()
        } catch {
            await pool.shutdown(wait: true, cancelPending: true)
            throw error
        }
        let plainSeen = labGlobal.load(ordering: .sequentiallyConsistent) == 42

        let memory = try SharedMemory.anonymous(count: 8)
        defer { memory.release() }
        let process = TriadProcesses.Process(WriteSharedByteJob(), passing: [memory.descriptor])
        try process.start()
        _ = try await process.value
        let sharedSeen = memory.withUnsafeMutableBytes { $0[0] } == 42
        return (
            6,
            "the worker read back its own write: \(childSaw == [42] ? "yes" : "no"); the parent saw the plain "
                + "write: \(plainSeen ? "yes" : "no"); it saw the write through shared memory: \(sharedSeen ? "yes" : "no")",
            [
                "childSawOwnWrite": childSaw == [42] ? 1 : 0, "parentSawPlainWrite": plainSeen ? 1 : 0,
                "parentSawSharedMemoryWrite": sharedSeen ? 1 : 0,
            ]
        )
    }

    /// Claim 7: one thread writes a value another reads after an event; one task does the same for another task.
    private static func sharedMemory() async throws -> (claim: Int, observed: String, figures: [String: Double]) {
        let box = Mutex<Int>(0)
        let written = TriadThreads.Event()
        let reader = TriadThreads.Thread(name: "lab-reader") { () -> Int in
            written.wait()
            return box.withLock { $0 }
        }
        let writer = TriadThreads.Thread(name: "lab-writer") { () -> Void in
            box.withLock { $0 = 42 }
            written.set()
        }
        try reader.start()
        try writer.start()
        let threadSaw = try await reader.join()
        try await writer.join()

        let taskSaw = try await AsyncLoop.run(options: AsyncLoop.Options(watchdogThreshold: nil)) { loop in
            let cell = Mutex<Int>(0)
            let event = AsyncEvent()
            let seen = try await loop.gather([
                { @Sendable in
                    try await event.wait()
                    return cell.withLock { $0 }
                },
                { @Sendable in
                    cell.withLock { $0 = 42 }
                    event.set()
                    return 0
                },
            ])
            return seen[0]
        }
        return (
            7,
            "a thread saw another thread's write: \(threadSaw == 42 ? "yes" : "no"); a task saw another task's "
                + "write: \(taskSaw == 42 ? "yes" : "no")",
            ["threadSawWrite": threadSaw == 42 ? 1 : 0, "taskSawWrite": taskSaw == 42 ? 1 : 0]
        )
    }

    /// The OS threads of this process, counted in /proc/self/task.
    private static func threadCount() -> Int {
        guard let folder = opendir("/proc/self/task") else { return 0 }
        defer { closedir(folder) }
        var count = 0
        while let entry = readdir(folder) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
        }
        return count
    }
}

/// A global of this process that a worker process writes in its own copy.
let labGlobal = Atomic<Int>(0)

/// Writes ``labGlobal`` where it runs and returns what it then reads there.
struct WriteGlobalJob: Job {
    static var jobName: String { "triad.compare.write-global" }
    var value: Int

    func run() async throws -> Int {
        labGlobal.store(value, ordering: .sequentiallyConsistent)
        return labGlobal.load(ordering: .sequentiallyConsistent)
    }
}

/// Writes 42 into the first byte of the shared segment passed to its process.
struct WriteSharedByteJob: Job {
    static var jobName: String { "triad.compare.write-shared-byte" }

    func run() async throws -> Int {
        let memory = try SharedMemory(adopting: .passed(0))
        memory.withUnsafeMutableBytes { $0[0] = 42 }
        memory.release()
        return 42
    }
}
