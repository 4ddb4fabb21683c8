import Glibc
import TriadCore
import TriadProcesses
import TriadThreads
import TriadWireMacros

// The ProcessesBenchmarks workloads as a plain release program, printing the median of several runs in the same
// form as peers/processes_peer.py. Under the harness, tiny jobs measure about twice as slow as here; the likely
// cause is its malloc interposer, which wraps every allocation in the parent and in the workers (they run the same
// binary), but this version of the harness does not build without it, so that is not proven.
// Run: `swift run -c release ProcessesTimings [runs]`, or `ProcessesTimings idle` for the CPU an idle pool uses;
// `ProcessesTimings map|map-codable|tiny|tiny-codable|roundtrip|roundtrip-pool|roundtrip-blocking [runs]` for one row
// alone (for profiles), `ProcessesTimings submit [runs]` for what submitting alone costs the submitting thread,
// `ProcessesTimings roundtrip-blocks` for the awaited round trip's spread over time, and
// `ProcessesTimings codec [runs]` for the codec benchmark's struct rows.

/// A tiny job through `Codable`.
struct Tiny: Job {
    var value: Int
    func run() async throws -> Int { value &+ 1 }
}

/// The same job with its own wire functions.
struct TinyWire: Job {
    var value: Int
    func run() async throws -> Int { value &+ 1 }
}

extension TinyWire: WireCodable {
    func encode(to writer: inout WireWriter) { writer.write(value) }
    init(from reader: inout WireReader) throws(WireError) { value = try reader.read(Int.self) }
}

/// The same job with its wire functions derived by the macro: one line instead of the extension above.
@WireCodable
struct TinyMacro: Job {
    var value: Int
    func run() async throws -> Int { value &+ 1 }
}

/// A job that holds its worker until told to stop: a file at `path` appears.
struct HoldUntilFile: Job {
    var path: String
    func run() async throws -> Int {
        while access(path, F_OK) != 0 { try await Task.sleep(for: .milliseconds(1)) }
        return 0
    }
}

/// The codec benchmark's struct (`CodecBenchmarks`, `peers/codec_peer.py`) through plain `Codable`.
struct Sample: Codable {
    var id: Int
    var name: String
    var values: [Double]
}

/// The same struct with its wire functions derived by `@WireCodable`: the compiler makes of them the very functions
/// that `CodecBenchmarks` writes by hand for its `WireSample`.
@WireCodable
struct WireSample {
    var id: Int
    var name: String
    var values: [Double]
}

/// Bytes to a worker and back.
struct EchoBytes: Job {
    var bytes: [UInt8]
    func run() async throws -> [UInt8] { bytes }
}

// In a worker, this call runs the worker and never returns.
ProcessPool.bootstrap(jobs: [Tiny.self, TinyWire.self, TinyMacro.self, EchoBytes.self, HoldUntilFile.self])

let runs = CommandLine.arguments.dropFirst().last.flatMap { Int($0) } ?? 15
// `ProcessesTimings idle` measures only the CPU an idle pool uses.

/// Runs `body` `runs` times and returns the median wall time in milliseconds.
nonisolated func medianMilliseconds(_ body: () async throws -> Void) async rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try await body()
        let elapsed = (ContinuousClock.now - start).components
        times.append(Double(elapsed.seconds) * 1e3 + Double(elapsed.attoseconds) / 1e15)
    }
    return times.sorted()[times.count / 2]
}

/// 10k jobs submitted, then awaited in order.
nonisolated func submitAndAwait<J: Job>(_ pool: ProcessPoolExecutor, _ make: (Int) -> J) async throws {
    let handles = try (0..<10_000).map { try pool.submit(make($0)) }
    for handle in handles { _ = try await handle.value }
}

nonisolated func measure() async throws {
    let pool = benchPool(workers: 2)
    _ = try await pool.map((0..<1000).map { Tiny(value: $0) })
    let tiny = try await medianMilliseconds { try await submitAndAwait(pool, Tiny.init) }
    print("10k tiny jobs submitted and awaited: median \(tiny) ms = \(Int(10_000 / tiny * 1000)) jobs/s")
    let tinyWire = try await medianMilliseconds { try await submitAndAwait(pool, TinyWire.init) }
    let tinyWireRate = Int(10_000 / tinyWire * 1000)
    print("10k tiny WireCodable jobs submitted and awaited: median \(tinyWire) ms = \(tinyWireRate) jobs/s")
    let items = (0..<200_000).map { Tiny(value: $0) }
    let map = try await medianMilliseconds { _ = try await pool.map(items) }
    print("map over 200k tiny items: median \(map) ms = \(Int(200_000 / map * 1000)) items/s")
    let wireItems = (0..<200_000).map { TinyWire(value: $0) }
    let wireMap = try await medianMilliseconds { _ = try await pool.map(wireItems) }
    print("map over 200k tiny WireCodable items: median \(wireMap) ms = \(Int(200_000 / wireMap * 1000)) items/s")
    let macroItems = (0..<200_000).map { TinyMacro(value: $0) }
    let macroMap = try await medianMilliseconds { _ = try await pool.map(macroItems) }
    print("map over 200k tiny @WireCodable items: median \(macroMap) ms = \(Int(200_000 / macroMap * 1000)) items/s")
    await pool.shutdown()
}

/// A pool of `workers` with the idle strategy of `TRIAD_BENCH_IDLE` (`<spin µs>,<yield µs>[,<await assist µs>]`), if
/// set.
func benchPool(workers: Int) -> ProcessPoolExecutor {
    var configuration = ProcessPoolConfiguration(workers: workers)
    if let text = getenv("TRIAD_BENCH_IDLE").map({ String(cString: $0) }) {
        let parts = text.split(separator: ",").compactMap { Int($0) }
        if parts.count == 2 || parts.count == 3 {
            configuration.idleStrategy = IdleStrategy(
                spin: .microseconds(parts[0]),
                yield: .microseconds(parts[1]),
                awaitAssist: parts.count == 3 ? .microseconds(parts[2]) : IdleStrategy.balanced.awaitAssist
            )
        }
    }
    return ProcessPoolExecutor(configuration: configuration)
}

/// A tiny job submitted and awaited 1000 times in turn on a warm pool of `workers`; the median of the runs' means.
/// With more than one worker, the other workers sit idle: what they cost the round trip is what it measures.
nonisolated func roundTrip(workers: Int = 1) async throws {
    let pool = benchPool(workers: workers)
    for index in 0..<workers * 4 { _ = try await pool.submit(Tiny(value: index)).value }
    let total = try await medianMilliseconds {
        for index in 0..<1000 { _ = try await pool.submit(Tiny(value: index)).value }
    }
    let label = workers == 1 ? "1 warm worker" : "pool of \(workers), one job at a time"
    print("sequential round trip, \(label): median \(total) µs")
    await pool.shutdown()
}

/// 20,000 awaited round trips on one warm worker in blocks of 1000, with each block's median, 90th and 99th
/// percentile and how many took over 10 µs: a run's medians alone hide the spells when the scheduler keeps the
/// awaiting task and the worker on one CPU, or when they run on two (`taskset -c 0` keeps them on one throughout).
nonisolated func roundTripBlocks() async throws {
    let pool = benchPool(workers: 1)
    for index in 0..<10 { _ = try await pool.submit(Tiny(value: index)).value }
    var times: [Int64] = []
    times.reserveCapacity(20_000)
    for index in 0..<20_000 {
        let start = ContinuousClock.now
        _ = try await pool.submit(Tiny(value: index)).value
        let elapsed = (ContinuousClock.now - start).components
        times.append(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }
    for block in 0..<20 {
        let sorted = times[(block * 1000)..<((block + 1) * 1000)].sorted()
        let slow = sorted.count { $0 > 10_000 }
        print(
            "round trips \(block * 1000)..<\((block + 1) * 1000): median \(sorted[500]) ns, 90th \(sorted[900]) ns, "
                + "99th \(sorted[990]) ns, \(slow) over 10 µs"
        )
    }
    await pool.shutdown()
}

/// 10k structs encoded and decoded by the wire codec, through plain `Codable` and through `WireCodable`: the
/// codec benchmark's struct rows as a plain program, beside `peers/codec_peer.py`'s pickle rows.
nonisolated func codec() async throws {
    let structs = (0..<10_000).map { Sample(id: $0, name: "sample \($0)", values: [1, 2, 3]) }
    let wireStructs = structs.map { WireSample(id: $0.id, name: $0.name, values: $0.values) }
    let plain = try await medianMilliseconds {
        let bytes = try WireEncoder().encode(structs)
        let decoded = try WireDecoder().decode([Sample].self, from: bytes)
        precondition(decoded.count == 10_000)
    }
    print("wire codec, 10k structs encoded and decoded through Codable: median \(plain) ms")
    let wire = try await medianMilliseconds {
        let bytes = try WireEncoder().encode(wireStructs)
        let decoded = try WireDecoder().decode([WireSample].self, from: bytes)
        precondition(decoded.count == 10_000)
    }
    print("wire codec, 10k WireCodable structs encoded and decoded: median \(wire) ms")
}

/// The same round trip waited for by a plain OS thread that blocks (`JobHandle.wait()`), so no task has to be woken
/// on Swift's cooperative pool when the result arrives.
nonisolated func roundTripBlocking() async throws {
    let pool = benchPool(workers: 1)
    _ = try await pool.submit(Tiny(value: 0)).value
    let thread = TriadThreads.Thread(name: "round-trip") { () throws -> Double in
        var times: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            for index in 0..<1000 { _ = try pool.submit(Tiny(value: index)).wait() }
            let elapsed = (ContinuousClock.now - start).components
            times.append(Double(elapsed.seconds) * 1e3 + Double(elapsed.attoseconds) / 1e15)
        }
        return times.sorted()[times.count / 2]
    }
    try thread.start()
    let total = try await thread.join()
    print("sequential round trip, 1 warm worker, blocking wait: median \(total) µs")
    await pool.shutdown()
}

/// 64 MiB to a worker and back.
nonisolated func largePayload() async throws {
    let pool = ProcessPoolExecutor(workers: 1)
    let bytes = (0..<(64 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    _ = try await pool.submit(EchoBytes(bytes: bytes)).value
    let time = try await medianMilliseconds { _ = try await pool.submit(EchoBytes(bytes: bytes)).value }
    print("64 MiB [UInt8] to a worker and back: median \(time) ms = \(Double(128 << 20) / time / 1e6) GB/s")
    await pool.shutdown()
}

/// A fresh pool of 2 until its first job's result; the pool is killed outside the measured time.
nonisolated func firstResult() async throws {
    var times: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        let pool = ProcessPoolExecutor(workers: 2)
        _ = try await pool.submit(Tiny(value: 1)).value
        let elapsed = (ContinuousClock.now - start).components
        times.append(Double(elapsed.seconds) * 1e3 + Double(elapsed.attoseconds) / 1e15)
        await pool.kill()
    }
    print("pool of 2 to its first result: median \(times.sorted()[times.count / 2]) ms")
}

/// The CPU time, in seconds, that the threads of process `pid` (`"self"` for this one) have used so far, to the
/// nanosecond: the first field of each thread's /proc schedstat.
func cpuSeconds(of pid: String) -> Double {
    guard let directory = opendir("/proc/\(pid)/task") else { return 0 }
    defer { closedir(directory) }
    var total = 0.0
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard !name.hasPrefix("."), let file = fopen("/proc/\(pid)/task/\(name)/schedstat", "r") else { continue }
        var nanoseconds: UInt64 = 0
        withUnsafeMutablePointer(to: &nanoseconds) { pointer in
            withVaList([pointer]) { arguments in _ = vfscanf(file, "%llu", arguments) }
        }
        fclose(file)
        total += Double(nanoseconds) / 1e9
    }
    return total
}

/// The CPU time a pool of 2 warm, idle workers uses in 10 seconds, the parent's and the workers' together, as a
/// share of one core.
nonisolated func idlePool() async throws {
    let pool = benchPool(workers: 2)
    _ = try await pool.map((0..<1000).map { Tiny(value: $0) })
    let pids = ["self"] + pool.workerPIDs.map(String.init)
    let before = pids.map(cpuSeconds(of:)).reduce(0, +)
    try await Task.sleep(for: .seconds(10))
    let used = pids.map(cpuSeconds(of:)).reduce(0, +) - before
    print("CPU an idle pool of 2 workers uses in 10 s: \(used * 1000) ms = \(used / 10 * 100) % of one core")
    await pool.shutdown()
}

/// The CPU time the calling thread has used, in nanoseconds.
func threadCPUNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// What submitting alone costs the submitting thread: 10k tiny jobs submitted while the pool's one worker is held by
/// a job of its own, so they wait in the pool's queue and no other thread of the parent or the worker runs meanwhile.
/// The median time of the submissions, in nanoseconds per job; then the worker is let go and every job awaited.
nonisolated func submitAlone() async throws {
    let pool = benchPool(workers: 1)
    _ = try await pool.map((0..<1000).map { Tiny(value: $0) })
    var times: [Double] = []
    var cpuTimes: [Double] = []
    for run in 0..<runs {
        let path = "/tmp/triad-submit-\(getpid())-\(run)"
        let hold = try pool.submit(HoldUntilFile(path: path))
        while hold.state != .running { try await Task.sleep(for: .milliseconds(1)) }
        // The loop never suspends, so the thread's CPU clock counts its work alone, whatever else runs.
        let cpuStart = threadCPUNanoseconds()
        let start = ContinuousClock.now
        let handles = try (0..<10_000).map { try pool.submit(TinyWire(value: $0)) }
        let elapsed = (ContinuousClock.now - start).components
        cpuTimes.append(Double(threadCPUNanoseconds() - cpuStart) / 10_000)
        times.append(Double(elapsed.seconds) * 1e9 / 10_000 + Double(elapsed.attoseconds) / 1e9 / 10_000)
        fclose(fopen(path, "w"))
        _ = try await hold.value
        for handle in handles { _ = try await handle.value }
        unlink(path)
    }
    let median = times.sorted()[times.count / 2]
    let cpu = cpuTimes.sorted()[cpuTimes.count / 2]
    print("submitting 10k tiny WireCodable jobs to a busy pool: median \(median) ns per job, \(cpu) ns of CPU")
    await pool.shutdown()
}

/// The map of 200k tiny items made by `make`, alone, after one map to warm the pool: for profiles.
nonisolated func mapAlone<J: Job>(_ make: (Int) -> J, _ label: String) async throws {
    let pool = benchPool(workers: 2)
    let items = (0..<200_000).map(make)
    _ = try await pool.map(items)
    let time = try await medianMilliseconds { _ = try await pool.map(items) }
    print("\(label): median \(time) ms")
    await pool.shutdown()
}

/// The 10k tiny jobs made by `make`, submitted and awaited alone, after one map to warm the pool: for profiles.
nonisolated func tinyAlone<J: Job>(_ make: (Int) -> J, _ label: String) async throws {
    let pool = benchPool(workers: 2)
    _ = try await pool.map((0..<1000).map { Tiny(value: $0) })
    let time = try await medianMilliseconds { try await submitAndAwait(pool, make) }
    print("\(label): median \(time) ms = \(Int(10_000 / time * 1000)) jobs/s")
    await pool.shutdown()
}

/// The 10k `WireCodable` jobs of `tiny`, timed in two phases: the loop that submits them and the loop that awaits
/// them, with how many had finished between the two; then the same handles read again, all finished, for the cost
/// of reading a finished handle. A round in which under 1% had finished when the submitting ended is a stalled one
/// (see the README).
nonisolated func tinyPhases() async throws {
    let pool = benchPool(workers: 2)
    _ = try await pool.map((0..<1000).map { Tiny(value: $0) })
    var submits: [Double] = []
    var awaits: [Double] = []
    var reads: [Double] = []
    var stalled = 0
    let milliseconds = { (duration: Duration) in
        Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
    }
    for _ in 0..<runs {
        let start = ContinuousClock.now
        let handles = try (0..<10_000).map { try pool.submit(TinyWire(value: $0)) }
        let submitted = ContinuousClock.now
        let finished = handles.count { $0.isFinished }
        let counted = ContinuousClock.now
        for handle in handles { _ = try await handle.value }
        let awaited = ContinuousClock.now
        for handle in handles { _ = try await handle.value }
        let read = ContinuousClock.now
        submits.append(milliseconds(submitted - start))
        awaits.append(milliseconds(awaited - counted))
        reads.append(milliseconds(read - awaited) * 1e6 / 10_000)
        if finished < 100 { stalled += 1 }
    }
    let median = { (values: [Double]) in values.sorted()[values.count / 2] }
    print(
        "10k tiny WireCodable jobs in phases: submitting median \(median(submits)) ms, awaiting median "
            + "\(median(awaits)) ms, \(stalled) of \(runs) rounds stalled (under 1% finished when submitting ended); "
            + "a finished handle read again: median \(median(reads)) ns"
    )
    await pool.shutdown()
}

if CommandLine.arguments.dropFirst().first == "idle" {
    try await idlePool()
} else if CommandLine.arguments.dropFirst().first == "map" {
    try await mapAlone(TinyMacro.init, "map over 200k tiny @WireCodable items")
} else if CommandLine.arguments.dropFirst().first == "map-codable" {
    try await mapAlone(Tiny.init, "map over 200k tiny items")
} else if CommandLine.arguments.dropFirst().first == "tiny" {
    try await tinyAlone(TinyWire.init, "10k tiny WireCodable jobs submitted and awaited")
} else if CommandLine.arguments.dropFirst().first == "tiny-phases" {
    try await tinyPhases()
} else if CommandLine.arguments.dropFirst().first == "tiny-codable" {
    try await tinyAlone(Tiny.init, "10k tiny jobs submitted and awaited")
} else if CommandLine.arguments.dropFirst().first == "submit" {
    try await submitAlone()
} else if CommandLine.arguments.dropFirst().first == "roundtrip" {
    try await roundTrip()
    try await roundTripBlocking()
} else if CommandLine.arguments.dropFirst().first == "roundtrip-pool" {
    try await roundTrip(workers: 16)
} else if CommandLine.arguments.dropFirst().first == "roundtrip-blocking" {
    try await roundTripBlocking()
} else if CommandLine.arguments.dropFirst().first == "codec" {
    try await codec()
} else if CommandLine.arguments.dropFirst().first == "roundtrip-blocks" {
    try await roundTripBlocks()
} else {
    try await measure()
    try await roundTrip()
    try await roundTrip(workers: 16)
    try await roundTripBlocking()
    try await largePayload()
    try await firstResult()
}

