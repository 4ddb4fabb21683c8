import Synchronization
import Testing
import TriadAsync
import TriadTestSupport

@Suite("Sleeps on the loop's timer heap, and large gathers")
struct SleepTests {
    @Test("the sleeper heap wakes in deadline order, ties in the order they slept, and sweeps cancelled sleepers")
    func heapDeadlineOrder() {
        // The heap itself, with deadlines given: the order cannot depend on how fast a machine starts sleepers.
        var heap = SleeperHeap<Int>()
        let deadlines: [UInt64] = (0..<200).map { index in UInt64((index * 7) % 10 * 25 + 5) }
        for (index, deadline) in deadlines.enumerated() {
            heap.insert(deadline: deadline, id: UInt64(index), waiter: index)
        }
        #expect(heap.earliestDeadline == 5)
        let firstNote = heap.noteCancelled(3)
        let secondNote = heap.noteCancelled(13)
        #expect(firstNote && !secondNote)
        let swept = heap.sweepCancelled()
        #expect(swept == [3, 13])
        let due = heap.popDue(now: 130)
        #expect(due.cancelled.isEmpty)
        let rest = heap.removeAll()
        let expected = deadlines.indices.filter { $0 != 3 && $0 != 13 }
            .sorted { (deadlines[$0], $0) < (deadlines[$1], $1) }
        #expect(due.due + rest == expected)
        #expect(due.due.allSatisfy { deadlines[$0] <= 130 })
        #expect(heap.count == 0)
    }

    @Test("many sleepers on the loop wake no sooner than their deadlines, ties in the order they slept")
    func deadlineOrder() async throws {
        let woke = Recorder<(index: Int, slept: Duration)>()
        // 10 durations 25 ms apart, twenty sleepers each, started in index order. Sleepers of one duration start
        // in index order, so they wake in that order however slowly the loop starts them; the order across
        // durations, which a slow start can change, is the heap test's above.
        let durations = (0..<200).map { index in (index * 7) % 10 * 25 + 5 }
        try await AsyncLoop.run { loop in
            _ = try await loop.gather(durations.indices.map { index in
                {
                    let start = ContinuousClock.now
                    try await loop.sleep(for: .milliseconds(durations[index]))
                    woke.append((index, ContinuousClock.now - start))
                }
            })
        }
        let all = woke.all
        #expect(all.count == 200)
        #expect(all.allSatisfy { $0.slept >= .milliseconds(durations[$0.index]) - .milliseconds(1) })
        for duration in Set(durations) {
            let group = all.map(\.index).filter { durations[$0] == duration }
            #expect(group == group.sorted())
        }
    }

    @Test("cancelled sleepers wake at once and leave no timer entries behind")
    func cancelledSleepersLeaveNothing() async throws {
        let cancelled = Atomic<Int>(0)
        try await AsyncLoop.run { loop in
            let sleepers = loop.createTask {
                _ = try await loop.gather((0..<1000).map { _ in
                    {
                        do {
                            try await loop.sleep(for: .seconds(3600))
                        } catch is CancellationError {
                            cancelled.add(1, ordering: .relaxed)
                            throw CancellationError()
                        }
                    }
                })
            }
            while loop.pendingSleeps < 1000 { try await loop.sleep(for: .milliseconds(1)) }
            let started = ContinuousClock.now
            sleepers.cancel()
            _ = await sleepers.result
            // The point is that nobody waits for the hour; minutes allow for a machine stalled by other work.
            #expect(ContinuousClock.now - started < .seconds(600))
            #expect(loop.pendingSleeps == 0)
        }
        #expect(cancelled.load(ordering: .relaxed) == 1000)
    }

    @Test("a cancelled sleep among others does not disturb them")
    func oneCancelled() async throws {
        let woke = Recorder<String>()
        try await AsyncLoop.run { loop in
            let long = loop.createTask {
                do { try await loop.sleep(for: .seconds(3600)) } catch { woke.append("long cancelled") }
            }
            let short = loop.createTask {
                try await loop.sleep(for: .milliseconds(20))
                woke.append("short")
            }
            try await loop.sleep(for: .milliseconds(5))
            long.cancel()
            _ = await long.result
            try await short.value
        }
        #expect(Set(woke.all) == ["long cancelled", "short"])
    }

    @Test("a sleep on a stopped loop throws shutDown")
    func sleepOnStoppedLoop() async throws {
        let loop = AsyncLoop()
        await loop.shutdown()
        await #expect(throws: AsyncLoopError.self) { try await loop.sleep(for: .milliseconds(10)) }
        do {
            try await loop.sleep(for: .milliseconds(10))
        } catch let error as AsyncLoopError {
            #expect(error.code == .shutDown)
        }
    }

    @Test("shutting the loop down wakes a sleeper that started off the loop")
    func shutdownWakesSleeper() async throws {
        let loop = AsyncLoop()
        let sleeper = Task { try await loop.sleep(for: .seconds(3600)) }
        while loop.pendingSleeps < 1 { try await Task.sleep(for: .milliseconds(1)) }
        await loop.shutdown()
        do {
            try await sleeper.value
            Issue.record("the sleep should have thrown")
        } catch let error as AsyncLoopError {
            #expect(error.code == .shutDown)
        }
    }

    @Test("a gather larger than one batch returns values in order and starts operations in order")
    func largeGather() async throws {
        let starts = Recorder<Int>()
        let values = try await AsyncLoop.run { loop in
            try await loop.gather((0..<3000).map { index in
                {
                    starts.append(index)
                    if index % 3 == 0 { await loop.yield() }
                    return index * 2
                }
            })
        }
        #expect(values == (0..<3000).map { $0 * 2 })
        #expect(starts.all == Array(0..<3000))
    }

    @Test("a gather called from a cancelled task throws CancellationError and starts nothing")
    func gatherAlreadyCancelled() async throws {
        let starts = Recorder<Int>()
        try await AsyncLoop.run { loop in
            let task = loop.createTask {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await loop.gather((0..<10).map { index in { starts.append(index) } })
            }
            await #expect(throws: CancellationError.self) { try await task.value }
        }
        #expect(starts.all.isEmpty)
    }

    @Test("callLater runs callbacks on the loop thread in deadline order, and a cancelled one never runs")
    func callLater() async throws {
        let ran = Recorder<String>()
        let onLoop = Recorder<Bool>()
        let callbacks = Tally()
        try await AsyncLoop.run { loop in
            loop.callLater(.milliseconds(30)) {
                ran.append("30 ms")
                onLoop.append(loop.isCurrentThread)
                callbacks.add()
            }
            loop.callLater(.milliseconds(10)) {
                ran.append("10 ms")
                onLoop.append(loop.isCurrentThread)
                callbacks.add()
            }
            let cancelled = loop.callLater(.milliseconds(20)) { ran.append("cancelled") }
            cancelled.cancel()
            cancelled.cancel()
            // Once the 30 ms callback has run, the cancelled one's deadline has passed too.
            await callbacks.wait(untilAtLeast: 2)
        }
        #expect(ran.all == ["10 ms", "30 ms"])
        #expect(onLoop.all == [true, true])
    }

    @Test("cancelled callbacks are swept, not kept until their deadline")
    func cancelledCallbacksAreSwept() async throws {
        try await AsyncLoop.run { loop in
            let live = loop.callLater(.seconds(60)) {}
            for _ in 0..<10 {
                let handles = (0..<1000).map { _ in loop.callLater(.seconds(60)) {} }
                #expect(loop.pendingCallbacks >= 1000)
                for handle in handles { handle.cancel() }
                await loop.yield()
                // Cancelled entries are swept once they outnumber the live ones; at most 64 wait for a sweep.
                #expect(loop.pendingCallbacks <= 1 + 64)
            }
            live.cancel()
        }
    }
}
