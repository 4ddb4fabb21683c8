import Synchronization
import Testing
import TriadAsync
import TriadTestSupport

@Suite("Bounded map on worker tasks")
struct MapTests {
    @Test("map starts elements in order, keeps at most N in flight and returns results in order")
    func orderAndLimit() async throws {
        let starts = Recorder<Int>()
        let inFlight = Mutex((now: 0, peak: 0))
        let values = try await AsyncLoop.run { loop in
            try await loop.map(0..<500, maxConcurrent: 7) { value in
                starts.append(value)
                inFlight.withLock {
                    $0.now += 1
                    $0.peak = max($0.peak, $0.now)
                }
                if value % 2 == 0 { await loop.yield() } else { try await loop.sleep(for: .milliseconds(1)) }
                inFlight.withLock { $0.now -= 1 }
                return value + 1
            }
        }
        #expect(values == (1...500).map { $0 })
        #expect(starts.all == Array(0..<500))
        #expect(inFlight.withLock { $0.peak } == 7)
    }

    @Test("the first error of map cancels the calls in flight and starts no more")
    func firstErrorStopsTheRest() async throws {
        let started = Recorder<Int>()
        let running = Tally()
        let cancelled = Recorder<Int>()
        await #expect(throws: Boom.self) {
            try await AsyncLoop.run { loop in
                try await loop.map(0..<100, maxConcurrent: 4) { value in
                    started.append(value)
                    running.add()
                    if value == 2 {
                        // Fails once all four calls are in flight, whatever the machine's speed.
                        await running.wait(untilAtLeast: 4)
                        throw Boom()
                    }
                    do {
                        try await loop.sleep(for: .seconds(3600))
                    } catch {
                        cancelled.append(value)
                        throw error
                    }
                    return value
                }
            }
        }
        #expect(started.all == [0, 1, 2, 3])
        #expect(Set(cancelled.all) == [0, 1, 3])
    }

    @Test("an empty map returns at once")
    func empty() async throws {
        let values = try await AsyncLoop.run { loop in
            try await loop.map([Int](), maxConcurrent: 3) { $0 }
        }
        #expect(values.isEmpty)
    }
}
