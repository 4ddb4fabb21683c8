import TriadCore

/// Counts the primes below `limit`: CPU-bound work that would hold an event loop thread.
struct CountPrimes: Job {
    var limit: Int

    func run() async throws -> Int { count() }

    /// The work itself, run where it is called: in a worker, or on the event loop for a route without the pool.
    func count() -> Int {
        guard limit > 2 else { return 0 }
        var composite = [Bool](repeating: false, count: limit)
        var count = 0
        for n in 2..<limit where !composite[n] {
            count += 1
            var multiple = n * n
            while multiple < limit {
                composite[multiple] = true
                multiple += n
            }
        }
        return count
    }
}

/// Stands for a C library that crashes on some input: it takes its worker process down.
struct ParseUntrusted: Job {
    var document: String

    func run() async throws -> Int {
        if document.contains("crash") { fatalError("the parser met a document it cannot handle: \(document)") }
        return document.count
    }
}
