// Threads: CPU-bound jobs on a pool of OS threads, plus the `threading` primitives.
// Run it with `swift run ThreadsExample`.
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

@main
struct ThreadsExample {
    static func main() async throws {
        // One line picks the model: swap in ProcessPoolExecutor or EventLoopExecutor and nothing else changes.
        let pool = ThreadPoolExecutor(workers: 2)
        let chunks = stride(from: 0, to: 2_000_000, by: 100_000).map { CountPrimes(lower: $0, upper: $0 + 100_000) }
        let counts = try await pool.map(chunks)
        print("primes below 2,000,000:", counts.reduce(0, +))
        await pool.shutdown()

        // Python's threading primitives, with blocking calls on OS threads and async variants for async code.
        let queue = BlockingQueue<Int>(maxSize: 8)
        let producer = TriadThreads.Thread(name: "producer") {
            for item in 1...20 { try queue.put(item) }
            queue.close()
        }
        let consumer = TriadThreads.Thread(name: "consumer") { () throws -> Int in
            var sum = 0
            while let item = try? queue.get() { sum += item }
            return sum
        }
        try producer.start()
        try consumer.start()
        try await producer.join()
        print("the consumer summed", try await consumer.join())
    }
}
