import TriadAsync
import TriadCore
import TriadHTTPTestServer

/// Fetches one URL from the latency server on 127.0.0.1 and returns the body's length.
///
/// On the event loop it uses the loop's non-blocking TCP streams, so thousands can wait at once on one thread;
/// anywhere else it uses a blocking client that holds its thread for the whole request, as `requests` does in a
/// Python thread pool.
struct FetchJob: Job {
    static var jobName: String { "triad.compare.fetch" }

    var port: Int
    var path: String

    func run() async throws -> Timed<Int> {
        if let loop = AsyncLoop.current {
            return try await Timed.measure { try await fetchOnLoop(loop) }
        }
        return try Timed.measure { try BlockingHTTPClient.get(port: port, path: path) }
    }

    private func fetchOnLoop(_ loop: AsyncLoop) async throws -> Int {
        let request = HTTPResponse.request(port: port, path: path)
        return try await loop.openConnection(host: "127.0.0.1", port: port) { stream in
            try await stream.write(request)
            var response: [UInt8] = []
            while true {
                let chunk = try await stream.read()
                if chunk.isEmpty { break }
                response += chunk
                if let length = try HTTPResponse.bodyLength(of: response) { return length }
            }
            guard let length = try HTTPResponse.bodyLength(of: response) else {
                throw HTTPResponse.Failure(
                    message: "the server at 127.0.0.1:\(port) closed the connection mid-response")
            }
            return length
        }
    }
}

/// The real I/O-bound workload: N requests at concurrency C against an HTTP server inside this process that
/// answers each request after 20 ms, on its own threads.
///
/// The latency-bound ideal is N / C × 20 ms. The loop and the thread pool both approach it; the loop does it on
/// one thread, the pool with C threads.
struct HTTPFetchWorkload: Workload {
    let name = "http"
    let summary = "GET requests against a 20 ms server on 127.0.0.1"
    let models: [Model] = Model.allCases
    let requests: Int
    let concurrency = 50

    init(scale: Double) {
        requests = max(10, Int(100 * scale))
    }

    func size(python: Bool) -> String { "\(requests) requests" }

    var pythonParameters: [String: Double]? { ["jobs": Double(requests)] }

    /// Python's requests go to the same kind of server, run by `triad` on its own threads for the sample's length.
    func withPythonParameters<T>(_ body: ([String: Double]) async throws -> T) async throws -> T {
        let server = try await HTTPLatencyServer.start(latency: .milliseconds(20))
        do {
            let result = try await body(["jobs": Double(requests), "port": Double(server.port)])
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    func defaultWorkers(for model: Model, cores: Int) -> Int {
        switch model {
        case .sequential: 1
        case .threads, .async: concurrency
        // A process per concurrent request would cost more memory than the comparison is worth.
        case .processes, .mpi: 8
        }
    }

    func run(model: Model, workers: Int, progress: @escaping @Sendable (MapProgress) -> Void) async throws
        -> WorkloadOutcome
    {
        let server = try await HTTPLatencyServer.start(latency: .milliseconds(20))
        do {
            let jobs = (0..<requests).map { FetchJob(port: server.port, path: "/item/\($0)") }
            let run = try await runJobs(jobs, on: model, workers: workers, progress: progress)
            await server.stop()
            return WorkloadOutcome(
                jobs: jobs.count,
                busyNanoseconds: run.outputs.reduce(0) { $0 + $1.nanoseconds },
                checksum: run.outputs.reduce(0) { $0 + $1.value },
                workerPeakRSS: run.workerPeakRSS
            )
        } catch {
            await server.stop()
            throw error
        }
    }
}
