import Glibc
import SystemPackage
import Testing
import TriadProcesses

extension IPCTests {
    @Suite struct ProcessQueueTests {
        @Test func valuesComeOutInOrderAndSizeLimitsHold() throws {
            let queue = try ProcessQueue<String>.anonymous(maxSize: 3, slotSize: 64)
            #expect(queue.maxSize == 3 && queue.slotSize == 64 && queue.name == nil)
            expectIPCError(.empty) { try queue.tryGet() }
            try queue.put("a")
            try queue.put("b")
            try queue.tryPut("c")
            #expect(queue.count == 3)
            expectIPCError(.full) { try queue.tryPut("d") }
            expectIPCError(.timedOut) { try queue.put("d", timeout: .milliseconds(50)) }
            #expect(try queue.get() == "a")
            #expect(try queue.tryGet() == "b")
            #expect(try queue.get(timeout: .seconds(1)) == "c")
            expectIPCError(.timedOut) { try queue.get(timeout: .milliseconds(50)) }
        }

        @Test func closingRefusesPutsAndEndsGetsOnceDrained() throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 4)
            try queue.put(1)
            try queue.close()
            try queue.close()
            #expect(queue.isClosed)
            expectIPCError(.closed) { try queue.put(2) }
            #expect(try queue.get() == 1)
            expectIPCError(.closed) { try queue.get(timeout: .seconds(5)) }
        }

        @Test func aClosedQueueWaitsForOutstandingLeasesBeforeReportingClosed() async throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 2)
            try await queue.put(1)
            try await queue.put(2)
            let first = try await queue.receive()
            let second = try await queue.receive()
            try queue.close()
            // Both values are leased: a consumer waits, since either may come back.
            let waiting = Task { try await queue.get(timeout: .seconds(600)) }
            try await Task.sleep(for: .milliseconds(100))
            try first.requeue()
            #expect(try await waiting.value == 1)
            let last = Task { try await queue.get(timeout: .seconds(600)) }
            try await Task.sleep(for: .milliseconds(100))
            try second.acknowledge()
            await expectIPCError(.closed) { try await last.value }
        }

        @Test func oversizedValuesAreRefusedAndUndecodableValuesAreRemoved() throws {
            let queue = try ProcessQueue<[UInt8]>.anonymous(maxSize: 2, slotSize: 128)
            expectIPCError(.tooLarge) { try queue.put([UInt8](repeating: 1, count: 200)) }
            #expect(queue.count == 0)

            let ints = try ProcessQueue<Int>.anonymous(maxSize: 2)
            let peer = try IPCPeer("queue-put-bytes", descriptors: [ints.descriptor])
            #expect(peer.wait() == 0)
            expectIPCError(.decodingFailed) { try ints.receive(timeout: .seconds(5)) }
            #expect(ints.count == 0)
            #expect(try ints.inFlightCount == 0)
        }

        @Test func acknowledgedDeliveriesLeaveAndRequeuedOrDroppedOnesComeBackFirst() throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 2)
            try queue.put(1)
            try queue.put(2)
            let first = try queue.receive()
            #expect(first.value == 1 && first.deliveryCount == 1 && !first.isRedelivered)
            #expect(try queue.inFlightCount == 1)
            // A leased value still takes its slot.
            expectIPCError(.full) { try queue.tryPut(3) }
            try first.requeue()
            let again = try queue.receive()
            #expect(again.value == 1 && again.deliveryCount == 2 && again.isRedelivered)
            try again.acknowledge()
            do {
                let dropped = try queue.receive()
                #expect(dropped.value == 2)
            }
            let returned = try queue.receive(timeout: .seconds(1))
            #expect(returned.value == 2 && returned.deliveryCount == 2)
            try returned.acknowledge()
            #expect(queue.count == 0)
            #expect(try queue.inFlightCount == 0)
        }

        @Test func manyProducersAndConsumersAcrossProcessesLoseAndDuplicateNothing() throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 16, slotSize: 64)
            let (report, theirs) = try Pipe.duplex()
            let producers = try [
                IPCPeer("queue-produce", descriptors: [queue.descriptor], arguments: ["0", "300"]),
                IPCPeer("queue-produce", descriptors: [queue.descriptor], arguments: ["300", "300"]),
            ]
            let consumer = try IPCPeer(
                "queue-consume-ack", descriptors: [queue.descriptor, theirs.descriptor], arguments: ["250"]
            )
            theirs.close()
            var seen: [Int] = []
            for _ in 0..<350 {
                let delivery = try queue.receive(timeout: .seconds(600))
                seen.append(delivery.value)
                try delivery.acknowledge()
            }
            for _ in 0..<250 {
                seen.append(try report.receive([Int].self, timeout: .seconds(600))[0])
            }
            for process in producers + [consumer] { #expect(process.wait() == 0) }
            #expect(seen.sorted() == Array(0..<600))
            #expect(queue.count == 0)
        }

        @Test func aConsumerKilledBeforeAcknowledgingCausesExactlyOneRedelivery() throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 8)
            for value in 10..<14 { try queue.put(value) }
            let (report, theirs) = try Pipe.duplex()
            let consumer = try IPCPeer("queue-consume-hold", descriptors: [queue.descriptor, theirs.descriptor])
            theirs.close()
            // The consumer has received 10 and holds it, unacknowledged.
            #expect(try report.receive(Int.self, timeout: .seconds(600)) == 10)
            #expect(try queue.inFlightCount == 1)
            consumer.kill(SIGKILL)
            consumer.wait()
            #expect(consumer.signal == SIGKILL)
            // A waiting consumer notices the death by itself: 10 comes back first, marked as redelivered.
            let redelivered = try queue.receive(timeout: .seconds(600))
            #expect(redelivered.value == 10)
            #expect(redelivered.deliveryCount == 2 && redelivered.isRedelivered)
            try redelivered.acknowledge()
            var rest: [Int] = []
            while let delivery = try? queue.receive(timeout: .milliseconds(300)) {
                #expect(!delivery.isRedelivered)
                rest.append(delivery.value)
                try delivery.acknowledge()
            }
            // Nothing lost, nothing duplicated.
            #expect(rest == [11, 12, 13])
            #expect(try queue.inFlightCount == 0)
            #expect(try queue.recoverAbandoned() == 0)
        }

        @Test func aKillStormOfConsumersLosesNothingAndFlagsEveryRedelivery() throws {
            let total = 1000
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 8, slotSize: 64)
            let reports = try ProcessQueue<[Int]>.anonymous(maxSize: 1024, slotSize: 64)
            func consumer() throws -> IPCPeer {
                try IPCPeer("queue-consume-report", descriptors: [queue.descriptor, reports.descriptor])
            }
            let producer = try IPCPeer("queue-produce", descriptors: [queue.descriptor], arguments: ["0", "\(total)"])
            var consumers = try (0..<3).map { _ in try consumer() }
            var kills = 0
            var collected: [[Int]] = []
            let end = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < end {
                while let report = try? reports.tryGet() { collected.append(report) }
                if (producer.isRunning || queue.count > 0) && kills < 20 {
                    usleep(20_000)
                    let victim = Int.random(in: 0..<consumers.count)
                    consumers[victim].kill(SIGKILL)
                    consumers[victim].wait()
                    consumers[victim] = try consumer()
                    kills += 1
                    continue
                }
                producer.wait(timeout: .seconds(600))
                if queue.count == 0, try queue.inFlightCount == 0 { break }
                usleep(10_000)
            }
            try queue.close()
            for process in consumers { #expect(process.wait() == 0) }
            while let report = try? reports.tryGet() { collected.append(report) }
            #expect(producer.exitCode == 0)
            #expect(kills >= 5)
            // Nothing lost: every value was handled.
            #expect(Set(collected.map { $0[0] }) == Set(0..<total))
            // A value handled twice was handled by a consumer killed before acknowledging, and the later handling
            // knew it was a redelivery.
            var firstSeen: Set<Int> = []
            for report in collected where !firstSeen.insert(report[0]).inserted {
                #expect(report[1] > 1, "value \(report[0]) was handled again without being flagged as redelivered")
            }
            #expect(collected.count - total <= kills, "more duplicates than killed consumers")
        }

        @Test func recoverAbandonedReturnsADeadConsumersValuesAtOnce() throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 4)
            try queue.put(5)
            let (report, theirs) = try Pipe.duplex()
            let consumer = try IPCPeer("queue-consume-hold", descriptors: [queue.descriptor, theirs.descriptor])
            theirs.close()
            #expect(try report.receive(Int.self, timeout: .seconds(600)) == 5)
            #expect(try queue.recoverAbandoned() == 0)  // the consumer is alive
            consumer.kill(SIGKILL)
            consumer.wait()
            #expect(try queue.recoverAbandoned() == 1)
            #expect(queue.count == 1)
            #expect(try queue.tryGet() == 5)
        }

        @Test func processesKilledWhileBlockedInGetOrPutLeaveTheQueueWorking() throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 1)
            let (report, theirs) = try Pipe.duplex()
            let getter = try IPCPeer("queue-get-block", descriptors: [queue.descriptor, theirs.descriptor])
            #expect(try report.receive(Int.self, timeout: .seconds(600)) == 0)
            usleep(200_000)
            getter.kill(SIGKILL)
            getter.wait()
            #expect(getter.signal == SIGKILL)
            // A live consumer still gets what is put.
            try queue.put(1)
            #expect(try queue.get(timeout: .seconds(5)) == 1)

            try queue.put(2)  // now full
            let putter = try IPCPeer(
                "queue-put-block", descriptors: [queue.descriptor, theirs.descriptor], arguments: ["3"]
            )
            #expect(try report.receive(Int.self, timeout: .seconds(600)) == 0)
            usleep(200_000)
            putter.kill(SIGKILL)
            putter.wait()
            #expect(putter.signal == SIGKILL)
            #expect(try queue.get(timeout: .seconds(5)) == 2)
            try queue.put(4, timeout: .seconds(5))
            #expect(try queue.get(timeout: .seconds(5)) == 4)
        }

        @Test func aProcessKilledHoldingTheLockNeverLeavesTheQueueLocked() throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 4)
            try queue.put(1)
            try queue.put(2)
            let peer = try IPCPeer("queue-die-holding-lock", descriptors: [queue.descriptor])
            peer.wait()
            #expect(peer.signal == SIGKILL)
            // The next lock repairs the queue; nothing was lost.
            #expect(try queue.get(timeout: .seconds(5)) == 1)
            try queue.put(3, timeout: .seconds(5))
            #expect(try queue.get(timeout: .seconds(5)) == 2)
            #expect(try queue.get(timeout: .seconds(5)) == 3)
        }

        @Test func aNamedQueueIsOpenedByNameAndLeavesNothingInDevShm() throws {
            var name = ""
            do {
                let queue = try ProcessQueue<Int>.named(maxSize: 4)
                name = try #require(queue.name)
                let peer = try IPCPeer("queue-named-produce", arguments: [name, "77"])
                #expect(peer.wait() == 0)
                #expect(try queue.get(timeout: .seconds(5)) == 77)
            }
            #expect(!SharedMemory.listTriadSegments().contains(String(name.dropFirst())))
            expectIPCError(.notFound) { try ProcessQueue<Int>(name: name) }
        }

        @Test func asyncCallsWaitOffThePoolAndCancel() async throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 2)
            let requests = try ProcessQueue<Int>.anonymous(maxSize: 2)
            let peer = try IPCPeer(
                "queue-ping-pong", descriptors: [requests.descriptor, queue.descriptor], arguments: ["5"]
            )
            for value in 0..<5 {
                try await requests.put(value)
                #expect(try await queue.get(timeout: .seconds(600)) == value + 1)
            }
            #expect(peer.wait() == 0)
            let waiting = Task { try await queue.get() }
            try await Task.sleep(for: .milliseconds(100))
            waiting.cancel()
            await expectIPCError(.cancelled) { try await waiting.value }
            try await queue.put(8)
            let delivery = try await queue.receive(timeout: .seconds(5))
            #expect(delivery.value == 8)
            try delivery.acknowledge()
            await expectIPCError(.timedOut) { try await queue.get(timeout: .milliseconds(50)) }
        }

        @Test func manyAsyncWaitersDoNotHoldTheCooperativePool() async throws {
            // More waiters than the cooperative pool has threads: if any of them blocked a pool thread, the put
            // below could never run and the test would hang.
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 16)
            let waiters = 12
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<waiters {
                    group.addTask { try await queue.get(timeout: .seconds(600)) }
                }
                try await Task.sleep(for: .milliseconds(200))
                for value in 0..<waiters { try await queue.put(value) }
                var got: [Int] = []
                for try await value in group { got.append(value) }
                #expect(got.sorted() == Array(0..<waiters))
            }
        }

        @Test func anAsyncPutWaitsForRoomThatAnotherProcessMakes() async throws {
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 1)
            try await queue.put(1)
            let (report, theirs) = try Pipe.duplex()
            let consumer = try IPCPeer(
                "queue-consume-ack", descriptors: [queue.descriptor, theirs.descriptor], arguments: ["2"]
            )
            theirs.close()
            try await queue.put(2, timeout: .seconds(600))  // waits until the consumer took 1
            #expect(try await report.receive([Int].self, timeout: .seconds(600)) == [1, 1])
            #expect(try await report.receive([Int].self, timeout: .seconds(600)) == [2, 1])
            #expect(consumer.wait() == 0)
            await expectIPCError(.timedOut) {
                try await queue.put(3)
                try await queue.put(4, timeout: .milliseconds(50))
            }
        }

        @Test func settlingADeliveryTwiceIsAProgrammerError() async {
            await #expect(processExitsWith: .failure) {
                let queue = try ProcessQueue<Int>.anonymous(maxSize: 1)
                try queue.put(1)
                let delivery = try queue.receive()
                try delivery.acknowledge()
                try delivery.acknowledge()
            }
        }

        @Test func errorsDescribeTheirCodeAndErrno() {
            let error = IPCError(.systemCallFailed, "shm_open failed", errno: .noSuchFileOrDirectory)
            #expect(error.description.hasPrefix("systemCallFailed: shm_open failed (errno 2: "))
            #expect(error.errno == Errno(rawValue: ENOENT))
            // Equal by code and system error; the message, which names details, is not compared.
            #expect(IPCError(.closed, "x") == IPCError(.closed, "y"))
            #expect(IPCError(.closed, "x") != IPCError(.timedOut, "x"))
            #expect(error != IPCError(.systemCallFailed, "shm_open failed", errno: .permissionDenied))
            #expect(Set([IPCError(.closed, "pid 1"), IPCError(.closed, "pid 2")]).count == 1)
            #expect(IPCError.Code.endOfStream.description == "endOfStream")
        }
    }
}
