import Triad

@main struct ThreadsReadmeExample {
    static func main() async throws {
        let queue = BlockingQueue<Int>(maxSize: 10)        // Python's threading, with values and typed errors
        let consumer = TriadThreads.Thread(name: "consumer") { () -> Int in
            var sum = 0
            while let x = try? queue.get() { sum += x }    // a blocking get, on its own thread; ends when closed
            return sum
        }
        try consumer.start()
        for x in 1...100 { try await queue.put(x) }        // the async put suspends instead of blocking
        queue.close()
        print(try await consumer.join())                   // 5050

        let pool = ThreadPoolExecutor(workers: 4)          // 4 dedicated pthreads, not Swift's cooperative pool
        let event = Event()
        let waiter = try pool.submit { () -> String in     // a closure that may block: it has a thread of its own
            event.wait()
            return "set"
        }
        event.set()
        print(try await waiter.value)                      // set
        await pool.shutdown()
    }
}
