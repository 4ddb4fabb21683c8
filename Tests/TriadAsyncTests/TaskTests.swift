import Logging
import Synchronization
import Testing
import TriadAsync
import TriadCore
import TriadTestSupport

struct Boom: Error, Equatable {
    var id = 0
}

@Suite("Tasks: gather, timeout, shield, asCompleted, sleep")
struct TaskTests {
    @Test("gather returns values in order")
    func gatherOrder() async throws {
        let values = try await AsyncLoop.run { loop in
            try await loop.gather((0..<10).map { index in
                {
                    try await loop.sleep(for: .milliseconds(10 - index))
                    return index * index
                }
            })
        }
        #expect(values == (0..<10).map { $0 * $0 })
    }

    @Test("the first error of gather cancels the other operations")
    func gatherCancelsRest() async throws {
        let cancelled = Recorder<Int>()
        let started = Tally()
        await #expect(throws: Boom.self) {
            try await AsyncLoop.run { loop in
                try await loop.gather((0..<5).map { index in
                    {
                        if index == 0 {
                            // Fails once the others have started, whatever the machine's speed.
                            await started.wait(untilAtLeast: 4)
                            throw Boom()
                        }
                        started.add()
                        do {
                            try await loop.sleep(for: .seconds(3600))
                        } catch is CancellationError {
                            cancelled.append(index)
                            throw CancellationError()
                        }
                        return index
                    }
                })
            }
        }
        #expect(Set(cancelled.all) == [1, 2, 3, 4])
    }

    @Test("a cancelled gather cancels every operation")
    func cancelledGather() async throws {
        let cancelled = Recorder<Int>()
        let started = Tally()
        let loop = AsyncLoop()
        let task = Task {
            try await loop.run { loop in
                try await loop.gather((0..<4).map { index in
                    {
                        started.add()
                        do {
                            try await loop.sleep(for: .seconds(3600))
                        } catch {
                            cancelled.append(index)
                            throw error
                        }
                    }
                })
            }
        }
        // Cancels once every operation has started, not after a guess at how long that takes.
        await started.wait(untilAtLeast: 4)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(Set(cancelled.all) == [0, 1, 2, 3])
        await loop.shutdown()
    }

    @Test("gatherResults collects errors as results and cancels nothing")
    func gatherResults() async throws {
        let results = try await AsyncLoop.run { loop in
            await loop.gatherResults((0..<4).map { index in
                {
                    try await loop.sleep(for: .milliseconds(5))
                    if index % 2 == 1 { throw Boom(id: index) }
                    return index
                }
            })
        }
        #expect(try results[0].get() == 0)
        #expect(try results[2].get() == 2)
        #expect(throws: Boom(id: 1)) { try results[1].get() }
        #expect(throws: Boom(id: 3)) { try results[3].get() }
    }

    @Test("gather over created tasks, and a failing one cancels the rest")
    func gatherTasks() async throws {
        let result = try await AsyncLoop.run { loop in
            let ok = try await loop.gather([loop.createTask { 1 }, loop.createTask { 2 }])
            let slow = loop.createTask { try await loop.sleep(for: .seconds(3600)) }
            let failing = loop.createTask { () async throws in
                try await loop.sleep(for: .milliseconds(5))
                throw Boom()
            }
            await #expect(throws: Boom.self) { try await loop.gather([slow, failing]) }
            _ = await slow.result
            return (ok, slow.isCancelled)
        }
        #expect(result.0 == [1, 2])
        #expect(result.1)
    }

    @Test("timeout fires and cancels the body")
    func timeoutFires() async throws {
        let sawCancel = Recorder<Bool>()
        _ = try await AsyncLoop.run { loop in
            await #expect {
                try await loop.timeout(.milliseconds(20)) {
                    do {
                        try await loop.sleep(for: .seconds(3600))
                    } catch {
                        sawCancel.append(true)
                        throw error
                    }
                }
            } throws: { error in
                (error as? AsyncLoopError)?.code == .timedOut
            }
        }
        #expect(sawCancel.all == [true])
    }

    @Test("timeout does not fire for a body that finishes in time")
    func timeoutDoesNotFire() async throws {
        let value = try await AsyncLoop.run { loop in
            try await loop.timeout(.seconds(10)) {
                try await loop.sleep(for: .milliseconds(5))
                return "in time"
            }
        }
        #expect(value == "in time")
    }

    @Test("waitFor cancels the task on timeout and returns its value otherwise")
    func waitFor() async throws {
        try await AsyncLoop.run { loop in
            let slow = loop.createTask { try await loop.sleep(for: .seconds(3600)) }
            await #expect(throws: AsyncLoopError.self) { try await loop.waitFor(slow, timeout: .milliseconds(20)) }
            _ = await slow.result
            #expect(slow.isCancelled)
            let quick = loop.createTask { 7 }
            let quickValue = try await loop.waitFor(quick, timeout: .seconds(10))
            #expect(quickValue == 7)
        }
    }

    @Test("shield: the inner task survives the outer cancellation")
    func shieldSurvives() async throws {
        try await AsyncLoop.run { loop in
            // The inner task finishes when the test lets it, so it cannot be done before the outer one is cancelled.
            let release = AsyncEvent()
            let inner = loop.createTask(name: "inner") {
                try await release.wait()
                return "finished"
            }
            let shielding = Tally()
            let outer = loop.createTask(name: "outer") {
                shielding.add()
                return try await loop.shield(inner)
            }
            await shielding.wait(untilAtLeast: 1)
            outer.cancel()
            await #expect(throws: CancellationError.self) { try await outer.value }
            #expect(!inner.isDone)
            release.set()
            let value = try await inner.value
            #expect(value == "finished")
            #expect(!inner.isCancelled)
        }
    }

    @Test("awaiting a task from a cancelled task cancels it, as in asyncio")
    func awaitingPropagatesCancel() async throws {
        try await AsyncLoop.run { loop in
            let inner = loop.createTask { try await loop.sleep(for: .seconds(3600)) }
            let awaiting = Tally()
            let outer = loop.createTask {
                awaiting.add()
                try await inner.value
            }
            await awaiting.wait(untilAtLeast: 1)
            outer.cancel()
            _ = await outer.result
            _ = await inner.result
            #expect(inner.isCancelled)
        }
    }

    @Test("asCompleted yields outcomes in completion order")
    func asCompleted() async throws {
        let order = try await AsyncLoop.run { loop in
            var order: [Int] = []
            // Each operation finishes when its gate opens; the gates open in the order 1, 2, 0, each once the
            // previous completion has been seen, so the completion order is known whatever the machine's speed.
            let delays = [30, 10, 20]
            let gates = delays.map { _ in AsyncEvent() }
            let seen = Tally()
            loop.createTask {
                for (step, index) in [1, 2, 0].enumerated() {
                    await seen.wait(untilAtLeast: step)
                    gates[index].set()
                }
            }
            for await completion in loop.asCompleted(delays.indices.map { index in
                {
                    try await gates[index].wait()
                    return delays[index]
                }
            }) {
                order.append(try completion.result.get())
                seen.add()
            }
            var indices: [Int] = []
            let gate = AsyncEvent()
            let tasks = [loop.createTask { try await gate.wait() }, loop.createTask {}]
            for await completion in loop.asCompleted(tasks) {
                indices.append(completion.index)
                gate.set()
            }
            #expect(indices == [1, 0])
            return order
        }
        #expect(order == [10, 20, 30])
    }

    @Test("sleep lasts at least its duration and a cancelled sleep throws")
    func sleep() async throws {
        try await AsyncLoop.run { loop in
            let start = ContinuousClock.now
            try await loop.sleep(for: .milliseconds(30))
            #expect(ContinuousClock.now - start >= .milliseconds(29))
            let sleeper = loop.createTask { try await loop.sleep(for: .seconds(3600)) }
            sleeper.cancel()
            await #expect(throws: CancellationError.self) { try await sleeper.value }
        }
    }

    @Test("an error of a task nobody awaits is logged, not dropped")
    func unretrievedError() async throws {
        let (logger, store) = CapturingLogHandler.make()
        try await AsyncLoop.run(options: .init(logger: logger)) { loop in
            loop.createTask(name: "forgotten") { () async throws in throw Boom(id: 9) }
            // Waits for the report itself, not for a time by which it should have come.
            while !store.all.contains(where: { $0.0 == .error && $0.1.contains("forgotten") }) {
                try await loop.sleep(for: .milliseconds(1))
            }
        }
        let reports = store.all.filter { $0.0 == .error && $0.1.contains("forgotten") }
        #expect(reports.count == 1)
        #expect(reports.first?.1.contains("Boom") == true)
    }

    @Test("an awaited task's error is not reported")
    func retrievedErrorNotReported() async throws {
        let (logger, store) = CapturingLogHandler.make()
        try await AsyncLoop.run(options: .init(logger: logger)) { loop in
            let task = loop.createTask(name: "watched") { () async throws in throw Boom() }
            _ = await task.result
        }
        #expect(store.all.filter { $0.0 == .error }.isEmpty)
    }

    @Test("run cancels the tasks main left running")
    func runCancelsLeftovers() async throws {
        let cancelled = Recorder<Bool>()
        let started = Tally()
        try await AsyncLoop.run { loop in
            loop.createTask {
                started.add()
                do { try await loop.sleep(for: .seconds(3600)) } catch { cancelled.append(true) }
            }
            await started.wait(untilAtLeast: 1)
        }
        #expect(cancelled.all == [true])
    }
}
