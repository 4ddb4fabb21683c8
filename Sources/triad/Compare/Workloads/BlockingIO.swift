import TriadAsync
import TriadCore

#if canImport(Glibc)
    import Glibc
#endif

/// Waits on simulated latency, then writes a file and reads it back: the shape of an API call followed by local
/// file I/O.
///
/// On a thread or in a process the job blocks, as a blocking client does. On the event loop it must not block the
/// loop, so it waits on the loop's clock and does its file I/O through the loop's file API: the same job, written
/// the way each model wants it.
struct BlockingIOJob: Job {
    static var jobName: String { "triad.compare.blocking-io" }

    var index: Int
    var latencyMicroseconds: Int
    var bytes: Int
    var directory: String

    func run() async throws -> Timed<Int> {
        if let loop = AsyncLoop.current { return try await runOnLoop(loop) }
        return try Timed.measure {
            // A blocking wait, as a blocking client would do; it holds the worker for its whole length.
            var request = timespec(
                tv_sec: latencyMicroseconds / 1_000_000,
                tv_nsec: (latencyMicroseconds % 1_000_000) * 1000
            )
            var remaining = timespec()
            while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
            let path = "\(directory)/job-\(index).bin"
            let payload = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: bytes)
            try FileIO.write(payload, to: path)
            let back = try FileIO.read(path)
            unlink(path)
            guard back == payload else { throw FileIO.Failure(message: "\(path) read back different bytes") }
            return back.count
        }
    }
}

extension BlockingIOJob {
    private func runOnLoop(_ loop: AsyncLoop) async throws -> Timed<Int> {
        try await Timed.measure {
            try await loop.sleep(for: .microseconds(latencyMicroseconds))
            let path = "\(directory)/job-\(index).bin"
            let payload = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: bytes)
            try await loop.writeFile(payload, to: path)
            let back = try await loop.readFile(at: path)
            unlink(path)
            guard back == payload else { throw FileIO.Failure(message: "\(path) read back different bytes") }
            return back.count
        }
    }
}

/// The I/O-bound workload: many jobs that mostly wait.
///
/// Threads help here in Python and in Swift alike: a waiting thread holds no lock and no core.
struct BlockingIOWorkload: Workload {
    let name = "io"
    let summary = "20 ms waits plus 64 KiB file writes and reads"
    let models: [Model] = Model.allCases
    let jobCount: Int

    init(scale: Double) {
        jobCount = max(4, Int(64 * scale))
    }

    func size(python: Bool) -> String { "\(jobCount) jobs of 20 ms and 64 KiB" }

    var pythonParameters: [String: Double]? {
        ["jobs": Double(jobCount), "latencySeconds": 0.02, "bytes": Double(64 * 1024)]
    }

    func defaultWorkers(for model: Model, cores: Int) -> Int {
        switch model {
        case .sequential: 1
        // Waiting jobs need no core, so an I/O pool is sized for the waits, as Python's default of 32 is.
        case .threads, .processes, .mpi: 16
        case .async: 64
        }
    }

    func run(model: Model, workers: Int, progress: @escaping @Sendable (MapProgress) -> Void) async throws
        -> WorkloadOutcome
    {
        let directory = try FileIO.makeTemporaryDirectory()
        defer { FileIO.removeDirectory(directory) }
        let jobs = (0..<jobCount).map {
            BlockingIOJob(index: $0, latencyMicroseconds: 20_000, bytes: 64 * 1024, directory: directory)
        }
        let run = try await runJobs(jobs, on: model, workers: workers, progress: progress)
        return WorkloadOutcome(
            jobs: jobs.count,
            busyNanoseconds: run.outputs.reduce(0) { $0 + $1.nanoseconds },
            checksum: run.outputs.reduce(0) { $0 + $1.value },
            workerPeakRSS: run.workerPeakRSS
        )
    }
}

/// Small blocking file helpers for the I/O workload.
enum FileIO {
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(message: "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(message: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(message: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(message: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }

    static func makeTemporaryDirectory() throws -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        // mkdtemp replaces the six trailing X's with a unique suffix.
        var template = Array("\(base)/triad-compare-\(String(repeating: "X", count: 6))".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw Failure(message: "cannot create a temporary folder in \(base): \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    static func removeDirectory(_ path: String) {
        guard let dir = opendir(path) else { return }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { unlink("\(path)/\(name)") }
        }
        closedir(dir)
        rmdir(path)
    }
}
