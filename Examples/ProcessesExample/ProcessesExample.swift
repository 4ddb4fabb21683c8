// Processes: the same kind of job in worker processes with isolated memory, where a crash fails one job only.
// Run it with `swift run ProcessesExample`.
import Triad

struct CountPrimes: Job {
    var lower: Int
    var upper: Int

    func run() async throws -> Int {
        (lower..<upper).reduce(0) { count, n in
            guard n >= 2 else { return count }
            var divisor = 2
            while divisor * divisor <= n {
                if n % divisor == 0 { return count }
                divisor += 1
            }
            return count + 1
        }
    }
}

/// A job that crashes its worker, to show that only this job fails.
struct Crash: Job {
    func run() async throws -> Int { fatalError("this worker crashes on purpose") }
}

@main
struct ProcessesExample {
    static func main() async throws {
        // First statement of main: registers the jobs, and turns a copy of this program started by the pool into
        // a worker (the call then never returns), like Python's `if __name__ == "__main__":`.
        ProcessPool.bootstrap(jobs: [CountPrimes.self, Crash.self])

        let pool = ProcessPoolExecutor(workers: 2)
        let chunks = stride(from: 0, to: 2_000_000, by: 100_000).map { CountPrimes(lower: $0, upper: $0 + 100_000) }
        let crash = try pool.submit(Crash())
        let counts = try await pool.map(chunks)
        print("primes below 2,000,000:", counts.reduce(0, +))
        do {
            _ = try await crash.value
        } catch {
            print("the crashing job failed alone:", error)
        }
        await pool.shutdown()
    }
}
