import Foundation
import Logging
import Synchronization
import Testing
import TriadAsync
import TriadTestSupport

@Suite("Futures: createFuture, settling, awaiting, gather of futures")
struct FutureTests {
    @Test("a future is settled once; its value reaches the waiter")
    func settleOnce() async throws {
        try await AsyncLoop.run { loop in
            let future = loop.createFuture(of: Int.self)
            #expect(!future.isDone)
            loop.callLater(.milliseconds(5)) {
                #expect(future.succeed(7))
                #expect(!future.succeed(8))
                #expect(!future.fail(Boom()))
                #expect(!future.cancel())
            }
            let value = try await future.value
            #expect(value == 7)
            #expect(future.isDone)
            #expect(!future.isCancelled)
            // A settled future answers at once, every time.
            let again = try await future.value
            #expect(again == 7)
        }
    }

    @Test("a failed future throws its error to every waiter")
    func failure() async throws {
        try await AsyncLoop.run { loop in
            let future = loop.createFuture(of: String.self)
            let first = loop.createTask { try await future.value }
            let second = loop.createTask { try await future.value }
            try await loop.sleep(for: .milliseconds(5))
            #expect(future.fail(Boom(id: 3)))
            await #expect(throws: Boom(id: 3)) { try await first.value }
            await #expect(throws: Boom(id: 3)) { try await second.value }
            guard case .failure(let error) = await future.result else {
                Issue.record("the future did not fail")
                return
            }
            #expect(error as? Boom == Boom(id: 3))
        }
    }

    @Test("a cancelled future throws CancellationError and says it was cancelled")
    func cancelled() async throws {
        try await AsyncLoop.run { loop in
            let future = loop.createFuture(of: Void.self)
            #expect(future.cancel())
            #expect(future.isCancelled)
            await #expect(throws: CancellationError.self) { try await future.value }
        }
    }

    @Test("cancelling a waiting task cancels the future, as in asyncio")
    func waiterCancellationCancelsFuture() async throws {
        try await AsyncLoop.run { loop in
            let future = loop.createFuture(of: Int.self)
            let waiter = loop.createTask { try await future.value }
            let bystander = loop.createTask { try await future.value }
            try await loop.sleep(for: .milliseconds(5))
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            await #expect(throws: CancellationError.self) { try await bystander.value }
            #expect(future.isCancelled)
            #expect(!future.succeed(1))
        }
    }

    @Test("a future settled on another thread wakes its waiter on the loop thread")
    func settledFromAnotherThread() async throws {
        let threads = try await AsyncLoop.run { loop in
            let future = loop.createFuture(of: UInt.self)
            let loopThread = threadID()
            let settler = Thread {
                Thread.sleep(forTimeInterval: 0.01)
                future.succeed(threadID())
            }
            settler.start()
            let settlerThread = try await future.value
            return (loopThread, settlerThread, threadID())
        }
        #expect(threads.0 != threads.1)
        #expect(threads.2 == threads.0)
    }

    @Test("whenDone runs on settling, or at once if settled, and retrieves the outcome")
    func whenDone() async throws {
        let (logger, store) = CapturingLogHandler.make()
        let seen = Recorder<(Int, UInt)>()
        let loopThread = try await AsyncLoop.run(options: .init(logger: logger)) { loop in
            let future = loop.createFuture(of: Int.self)
            future.whenDone { seen.append(((try? $0.get()) ?? -1, threadID())) }
            loop.callLater(.milliseconds(5)) { future.succeed(4) }
            _ = await future.result  // settled now, so the next whenDone runs at once
            future.whenDone { seen.append(((try? $0.get()) ?? -1, threadID())) }
            let failing = loop.createFuture(of: Int.self)
            failing.whenDone { _ in }
            failing.fail(Boom())
            return threadID()
        }
        #expect(seen.all.map(\.0) == [4, 4])
        #expect(seen.all.allSatisfy { $0.1 == loopThread })
        #expect(store.all.filter { $0.0 == .error }.isEmpty)
    }

    @Test("a failed future nobody awaited is logged once it is dropped; a cancelled one is not")
    func unretrievedFailure() async throws {
        let (logger, store) = CapturingLogHandler.make()
        try await AsyncLoop.run(options: .init(logger: logger)) { loop in
            do {
                let forgotten = loop.createFuture(of: Int.self, name: "forgotten")
                forgotten.fail(Boom(id: 5))
                let dropped = loop.createFuture(of: Int.self, name: "dropped")
                dropped.cancel()
            }
            // Waits for the report itself, not for a time by which it should have come.
            while !store.all.contains(where: { $0.0 == .error }) { try await loop.sleep(for: .milliseconds(1)) }
        }
        let errors = store.all.filter { $0.0 == .error }
        #expect(errors.count == 1)
        #expect(errors.first?.1.contains("future 'forgotten'") == true)
        #expect(errors.first?.1.contains("Boom") == true)
        #expect(errors.first?.2["triad.future"] == "forgotten")
    }

    @Test("gather(futures:) returns the values in order, however they settle")
    func gatherInOrder() async throws {
        let values = try await AsyncLoop.run { loop in
            let futures = (0..<10).map { _ in loop.createFuture(of: Int.self) }
            for (index, future) in futures.enumerated() {
                loop.callLater(.milliseconds(10 - index)) { future.succeed(index * 10) }
            }
            return try await loop.gather(futures: futures)
        }
        #expect(values == (0..<10).map { $0 * 10 })
    }

    @Test("gather(futures:) waits on ten thousand futures set by timers")
    func gatherMany() async throws {
        let count = try await AsyncLoop.run { loop in
            let futures = (0..<10_000).map { _ in loop.createFuture(of: Void.self) }
            for future in futures {
                loop.callLater(.milliseconds(10)) { future.succeed() }
            }
            let values: [Void] = try await loop.gather(futures: futures)
            #expect(loop.pendingCallbacks == 0)
            return values.count
        }
        #expect(count == 10_000)
    }

    @Test("the first failure of gather(futures:) cancels the other futures and is thrown")
    func gatherFailure() async throws {
        try await AsyncLoop.run { loop in
            let futures = (0..<4).map { _ in loop.createFuture(of: Int.self) }
            futures[0].succeed(0)
            loop.callLater(.milliseconds(5)) { futures[2].fail(Boom(id: 2)) }
            await #expect(throws: Boom(id: 2)) { try await loop.gather(futures: futures) }
            #expect(!futures[0].isCancelled)
            #expect(futures[1].isCancelled)
            #expect(futures[3].isCancelled)
        }
    }

    @Test("cancelling a gather of futures cancels every future")
    func gatherCancelled() async throws {
        let loop = AsyncLoop()
        let futures = (0..<3).map { _ in loop.createFuture(of: Int.self) }
        let gathering = Tally()
        let waiter = Task {
            try await loop.run { loop in
                gathering.add()
                return try await loop.gather(futures: futures)
            }
        }
        // Cancels once the gather has begun, not after a guess at how long that takes.
        await gathering.wait(untilAtLeast: 1)
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(futures.allSatisfy { $0.isCancelled })
        await loop.shutdown()
    }

    @Test("gather(futures:) of no futures returns at once")
    func gatherNone() async throws {
        let values = try await AsyncLoop.run { loop in
            try await loop.gather(futures: [LoopFuture<Int>]())
        }
        #expect(values.isEmpty)
    }
}
