import TriadCore

/// Counts the primes in `lower..<upper` by trial division: pure CPU work with no shared state.
struct CountPrimesJob: Job {
    static var jobName: String { "triad.compare.count-primes" }

    var lower: Int
    var upper: Int

    func run() async throws -> Timed<Int> {
        Timed.measure { (lower..<upper).reduce(0) { $0 + (Self.isPrime($1) ? 1 : 0) } }
    }

    static func isPrime(_ n: Int) -> Bool {
        if n < 2 { return false }
        if n < 4 { return true }
        if n % 2 == 0 { return false }
        var divisor = 3
        while divisor * divisor <= n {
            if n % divisor == 0 { return false }
            divisor += 2
        }
        return true
    }
}

/// The CPU-bound workload: counting primes below a bound, in chunks.
///
/// Python's threads cannot speed this up because of the GIL; Swift's threads can, and the report shows it. The
/// event loop cannot either: its jobs never suspend, so they run one after another on its one thread.
struct PrimeCountWorkload: Workload {
    let name = "cpu"
    let summary = "count primes by trial division, in chunks"
    let models: [Model] = Model.allCases
    let upperBound: Int
    let chunks = 64

    init(scale: Double) {
        upperBound = max(10_000, Int(5_000_000 * scale))
    }

    /// Python's trial division is about twenty times slower, so it counts below a twentieth of the bound.
    static let pythonDivisor = 20

    func size(python: Bool) -> String {
        "primes below \(python ? upperBound / Self.pythonDivisor : upperBound) in \(chunks) chunks"
    }

    var pythonParameters: [String: Double]? {
        ["upperBound": Double(upperBound / Self.pythonDivisor), "chunks": Double(chunks)]
    }

    func defaultWorkers(for model: Model, cores: Int) -> Int {
        switch model {
        case .sequential: 1
        // The loop runs CPU-bound jobs one after another whatever its limit, as asyncio does; the row shows it.
        case .threads, .processes, .async, .mpi: cores
        }
    }

    func run(model: Model, workers: Int, progress: @escaping @Sendable (MapProgress) -> Void) async throws
        -> WorkloadOutcome
    {
        let step = (upperBound + chunks - 1) / chunks
        let jobs = stride(from: 0, to: upperBound, by: step).map {
            CountPrimesJob(lower: $0, upper: min($0 + step, upperBound))
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
