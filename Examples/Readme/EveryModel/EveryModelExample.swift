import Triad

struct CountPrimes: Job {
    var lower: Int
    var upper: Int
    func run() async throws -> Int {
        (lower..<upper).count { n in
            n >= 2 && !stride(from: 2, through: Int(Double(n).squareRoot()), by: 1).contains { n % $0 == 0 }
        }
    }
}

@main struct EveryModelExample {
    static func main() async throws {
        ProcessPool.bootstrap(jobs: [CountPrimes.self])  // first statement: only the process pool needs it

        let jobs = stride(from: 0, to: 2_000_000, by: 100_000).map { CountPrimes(lower: $0, upper: $0 + 100_000) }

        let executor: any Executor = ThreadPoolExecutor(workers: 4)    // threads
        // let executor: any Executor = ProcessPoolExecutor(workers: 4) // processes
        // let executor: any Executor = EventLoopExecutor()             // the async loop
        let counts = try await executor.map(jobs)                       // in order, a bounded number in flight
        await executor.shutdown()
        print(counts.reduce(0, +))                                      // 148933
    }
}
