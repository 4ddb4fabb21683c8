import Glibc
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

extension ProcessPoolTests {
    @Suite("Process: talking to the parent, and dying", .serialized)
    struct ProcessIPCTests {
        @Test("a passed pipe carries values both ways, and the parent's end sees end of stream when the child exits")
        func pipe() async throws {
            let (parentEnd, childEnd) = try Pipe.duplex()
            let process = TestProcesses.make(PipeTalk(), passing: [childEnd.descriptor])
            try process.start()
            childEnd.close()
            try await parentEnd.send(41)
            #expect(try await parentEnd.receive(Int.self, timeout: .seconds(600)) == 42)
            #expect(try await parentEnd.receive(String.self, timeout: .seconds(600)) == "goodbye")
            #expect(try await process.value == 41)
            await expectIPCError(.endOfStream) { try await parentEnd.receive(Int.self, timeout: .seconds(600)) }
        }

        @Test("a passed shared segment is written by the child and read by the parent")
        func sharedMemory() async throws {
            let array = try SharedArray<Double>.anonymous(count: 10_000)
            for index in array.indices { array[index] = Double(index) }
            let process = TestProcesses.make(DoubleShared(), passing: [array.memory.descriptor])
            try process.start()
            let sum = try await process.value
            #expect(sum == Double(10_000 * 9_999))
            #expect(array[1234] == 2468)
        }

        @Test("a Process killed while blocked on a queue: the queue stays usable and no value is lost")
        func killedWhileBlockedOnQueue() async throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 4)
            let (parentEnd, childEnd) = try Pipe.duplex()
            let process = TestProcesses.make(QueueTake(), passing: [queue.descriptor, childEnd.descriptor])
            try process.start()
            childEnd.close()
            // The child says it is about to block; give it time to park in get.
            let childPID = try await parentEnd.receive(Int32.self, timeout: .seconds(600))
            try await Task.sleep(for: .milliseconds(300))
            process.kill()
            #expect(await process.join(timeout: .seconds(600)))
            #expect(process.exit?.signal == SIGKILL)
            #expect(process.pid == childPID)
            let error = await #expect(throws: ExecutorError.self) { try await process.value }
            #expect(error?.code == .cancelled)

            try await queue.put(5, timeout: .seconds(5))
            try await queue.put(6, timeout: .seconds(5))
            #expect(try await queue.get(timeout: .seconds(5)) == 5)
            #expect(try await queue.get(timeout: .seconds(5)) == 6)
            #expect(queue.count == 0)

            // Another consumer process takes what is put after the first one died.
            let (nextParentEnd, nextChildEnd) = try Pipe.duplex()
            let next = TestProcesses.make(QueueTake(), passing: [queue.descriptor, nextChildEnd.descriptor])
            try next.start()
            nextChildEnd.close()
            _ = try await nextParentEnd.receive(Int32.self, timeout: .seconds(600))
            try await queue.put(7, timeout: .seconds(5))
            #expect(try await next.value == 7)
        }

        @Test("a Process killed while holding a leased value: the value is delivered again, flagged")
        func killedHoldingALease() async throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 4)
            try await queue.put(42, timeout: .seconds(5))
            let (parentEnd, childEnd) = try Pipe.duplex()
            let process = TestProcesses.make(QueueHold(), passing: [queue.descriptor, childEnd.descriptor])
            try process.start()
            childEnd.close()
            #expect(try await parentEnd.receive(Int.self, timeout: .seconds(600)) == 42)
            #expect(queue.count == 0)
            process.kill()
            #expect(await process.join(timeout: .seconds(600)))
            let delivery = try await queue.receive(timeout: .seconds(10))
            #expect(delivery.value == 42)
            #expect(delivery.isRedelivered)
            try delivery.acknowledge()
        }

        @Test("no orphans: when a Process's parent is SIGKILLed, its child is gone a second later")
        func noOrphans() async throws {
            let (parentEnd, childEnd) = try Pipe.duplex()
            // The middle process starts a grandchild Process and reports its pid.
            let middle = TestProcesses.make(StartGrandchild(), passing: [childEnd.descriptor])
            try middle.start()
            childEnd.close()
            let grandchild = try await parentEnd.receive(Int32.self, timeout: .seconds(600))
            #expect(!TestPools.isDead(grandchild))
            let middlePID = try #require(middle.pid)
            kill(middlePID, SIGKILL)
            #expect(await middle.join(timeout: .seconds(600)))
            #expect(middle.exit?.signal == SIGKILL)
            // The grandchild learns of its parent's death and ends: wait for that, however slow the machine.
            #expect(await eventually(seconds: 60) { TestPools.isDead(grandchild) }, "process \(grandchild) outlived its parent")
            // The middle died of an outside signal, which is a crash.
            let error = await #expect(throws: ExecutorError.self) { try await middle.value }
            #expect(error?.code == .workerCrashed)
            if !TestPools.isDead(grandchild) { kill(grandchild, SIGKILL) }
        }
    }
}
