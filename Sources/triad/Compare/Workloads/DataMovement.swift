import TriadCore
import TriadProcesses

#if canImport(Glibc)
    import Glibc
#endif

/// Carries a large buffer to where it runs and back. In a worker process the pool moves the bytes, so the job only
/// returns them. Run in the parent (the sequential row), it moves them itself by the raw means the pool is measured
/// against, so that row is the limit of the same movement: two memcpys, or a trip through a kernel pipe and back.
struct MoveDataJob: Job {
    static var jobName: String { "triad.compare.move-data" }

    enum Reference: String, Codable, Sendable {
        /// Copy there and back with memcpy: the limit for shared memory.
        case memcpy
        /// Write through a pipe and read back, there and back: the limit for a socket or pipe.
        case pipe
        /// Hand the same array back: what a thread pays, sharing the caller's memory.
        case shared
    }

    var bytes: [UInt8]
    var reference: Reference

    func run() async throws -> Timed<[UInt8]> {
        if ProcessPool.isWorker { return Timed(value: bytes, nanoseconds: 0) }
        switch reference {
        case .memcpy: return Timed(value: Self.copy(Self.copy(bytes)), nanoseconds: 0)
        case .pipe: return Timed(value: try Self.throughPipe(Self.throughPipe(bytes)), nanoseconds: 0)
        case .shared: return Timed(value: bytes, nanoseconds: 0)
        }
    }

    /// A copy in a fresh array made as the pool makes the arrays it decodes, so that both pay the same page faults.
    private static func copy(_ bytes: [UInt8]) -> [UInt8] {
        LargeArrays.make(count: bytes.count) { target in
            bytes.withUnsafeBytes { source in
                if source.count > 0 { memcpy(target.baseAddress!, source.baseAddress!, source.count) }
            }
        }
    }

    /// Sends `bytes` through a pipe to a reader thread and returns what it read.
    private static func throughPipe(_ bytes: [UInt8]) throws -> [UInt8] {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ExecutorError(.jobFailed, message: "pipe failed: errno \(errno)") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let count = bytes.count
        let reader = PipeReader(fd: readEnd, count: count)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(reader).toOpaque()
        pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<PipeReader>.fromOpaque(raw!).takeRetainedValue().readAll()
                return nil
            }, context)
        bytes.withUnsafeBytes { source in
            var offset = 0
            while offset < count {
                let written = write(writeEnd, source.baseAddress! + offset, count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
        close(writeEnd)
        pthread_join(thread, nil)
        close(readEnd)
        return reader.result
    }
}

/// The reading side of ``MoveDataJob``'s pipe, on its own thread.
private final class PipeReader: @unchecked Sendable {
    // Written by the reader thread only, and read after pthread_join.
    let fd: Int32
    let count: Int
    var result: [UInt8] = []

    init(fd: Int32, count: Int) {
        self.fd = fd
        self.count = count
    }

    /// Reads the bytes into a fresh array made as the pool makes the arrays it decodes; a short stream leaves the
    /// rest zero.
    func readAll() {
        result = LargeArrays.make(count: count) { target in
            var offset = 0
            while offset < target.count {
                let count = read(fd, target.baseAddress! + offset, target.count - offset)
                if count <= 0 { break }
                offset += count
            }
            if offset < target.count {
                UnsafeMutableRawBufferPointer(rebasing: target[offset...]).initializeMemory(
                    as: UInt8.self, repeating: 0)
            }
        }
    }
}

/// The data-movement workload: 64 MiB to a worker process and back, per job. `data` lets the pool move it through
/// shared memory (its default above 256 KiB); `data-pipe` turns shared memory off, so it travels through the
/// socket. Each sequential row moves the same bytes the same number of times in one process by the raw means, so
/// its speedup column reads as "fraction of the raw limit".
struct DataMovementWorkload: Workload {
    let name: String
    let summary: String
    let models: [Model]
    let throughSharedMemory: Bool
    let byteCount: Int
    let jobCount: Int

    init(scale: Double, throughSharedMemory: Bool) {
        self.throughSharedMemory = throughSharedMemory
        name = throughSharedMemory ? "data" : "data-pipe"
        summary =
            throughSharedMemory
            ? "a large buffer to a worker and back through shared memory; sequential: memcpy there and back"
            : "a large buffer to a worker and back through the socket; sequential: a raw pipe there and back"
        byteCount = max(1 << 20, Int(Double(32 << 20) * min(1, scale)))
        jobCount = max(2, Int(4 * scale))
        // Through the socket, a thread pool's row shows what the move costs against sharing the memory (claim 8).
        models = throughSharedMemory ? [.sequential, .processes] : [.sequential, .threads, .processes]
    }

    func size(python: Bool) -> String { "\(jobCount) × \(byteCount >> 20) MiB" }

    var pythonParameters: [String: Double]? { ["jobs": Double(jobCount), "bytes": Double(byteCount)] }

    func defaultWorkers(for model: Model, cores: Int) -> Int { 1 }

    func run(model: Model, workers: Int, progress: @escaping @Sendable (MapProgress) -> Void) async throws
        -> WorkloadOutcome
    {
        // Filled, not zero (zero pages would read from the kernel's zero page), and made fast outside the jobs.
        var bytes = [UInt8](repeating: 0x5A, count: byteCount)
        bytes[0] = 1
        bytes[byteCount / 2] = 2
        bytes[byteCount - 1] = 3
        let jobs = (0..<jobCount).map { _ in
            MoveDataJob(bytes: bytes, reference: model == .threads ? .shared : throughSharedMemory ? .memcpy : .pipe)
        }
        let run: JobRun<Timed<[UInt8]>>
        if model == .processes && !throughSharedMemory {
            run = try await runWithoutSharedMemory(jobs, workers: workers, progress: progress)
        } else {
            run = try await runJobs(jobs, on: model, workers: workers, progress: progress)
        }
        let checksum = run.outputs.reduce(0) { sum, output in
            let bytes = output.value
            return sum &+ bytes.count &+ Int(bytes.first ?? 0) &+ Int(bytes[bytes.count / 2]) &+ Int(bytes.last ?? 0)
        }
        return WorkloadOutcome(
            jobs: jobs.count, busyNanoseconds: 0, checksum: checksum, workerPeakRSS: run.workerPeakRSS
        )
    }

    /// As ``runJobs(_:on:workers:progress:)`` for processes, with a pool that sends everything through its socket.
    private func runWithoutSharedMemory(
        _ jobs: [MoveDataJob],
        workers: Int,
        progress: @escaping @Sendable (MapProgress) -> Void
    ) async throws -> JobRun<Timed<[UInt8]>> {
        var configuration = ProcessPoolConfiguration(workers: workers)
        configuration.sharedPayloadThreshold = nil
        let pool = ProcessPoolExecutor(configuration: configuration)
        do {
            let outputs = try await pool.map(jobs, options: MapOptions(progress: progress))
            let peak = pool.workerPIDs.reduce(0) { $0 + ResourceUsage.peakRSS(pid: $1) }
            await pool.shutdown(wait: true, cancelPending: false)
            return JobRun(outputs: outputs, workerPeakRSS: peak)
        } catch {
            await pool.shutdown(wait: true, cancelPending: true)
            throw error
        }
    }
}
