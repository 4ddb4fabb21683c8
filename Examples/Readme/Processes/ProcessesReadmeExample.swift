import Triad
import TriadWireMacros   // the optional product of @WireCodable

@WireCodable             // optional: a wire form derived at compile time, as fast as a hand-written WireCodable
struct Score: Job {
    var points: Double
    func run() async throws -> Double { points * 2 }
}

struct Crash: Job {
    func run() async throws -> Int { fatalError("a bug in a C library, say") }
}

@main struct ProcessesReadmeExample {
    static func main() async throws {
        // First statement, like `if __name__ == "__main__":`. In a worker it never returns.
        ProcessPool.bootstrap(jobs: [Score.self, Crash.self])
        ProcessPool.installSignalHandlers()    // a command-line tool: Ctrl-C reaps every worker, ends by the signal

        let pool = ProcessPoolExecutor(workers: 4)
        let doubled = try await pool.map((0..<100_000).map { Score(points: Double($0)) })   // chunked like Pool.map
        print(doubled.last!)                                                               // 199998.0
        do {
            _ = try await pool.submit(Crash()).value
        } catch let error as ExecutorError where error.code == .workerCrashed {
            print(error)   // names the job and the signal, and ends with the worker's last words
        }
        print(try await pool.submit(Score(points: 1)).value)   // 2.0: the pool replaced the worker
        await pool.shutdown()
    }
}
