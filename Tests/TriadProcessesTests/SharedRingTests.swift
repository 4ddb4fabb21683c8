import CTriadShims
import Glibc
import Synchronization
import Testing
import TriadCore
import TriadProcessesTestSupport

@testable import TriadProcesses

/// Runs `body` on a thread of its own (it blocks: it spins and yields on a ring) and returns its value.
private func onThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DedicatedThread.start(name: name) { continuation.resume(with: Result { try body() }) }
    }
}

/// The first two CPUs this process may run on, or nil if it may run on one only.
func twoAllowedCPUs() -> (Int32, Int32)? {
    var cpus: [Int32] = [0, 0]
    guard triad_thread_allowed_cpus(&cpus, 2) >= 2 else { return nil }
    return (cpus[0], cpus[1])
}

/// A frame of `kind` whose payload is `count` bytes derived from `seed`.
private func frame(kind: UInt8, count: Int, seed: Int) -> Frame {
    Frame(kind: kind, flags: UInt8(seed & 0xFF), payload: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) })
}

/// A ring in ordinary memory, for the tests that play a broken peer.
private final class LocalRing: @unchecked Sendable {
    // @unchecked: each test uses it from one thread.
    let memory: UnsafeMutableRawPointer
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        let size = 256 + capacity
        memory = .allocate(byteCount: size, alignment: 64)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    }

    deinit { memory.deallocate() }

    func writer() -> RingWriter { RingWriter(ring: memory, capacity: capacity) }
    func reader() -> RingReader { RingReader(ring: memory, capacity: capacity) }
}

@Suite("Shared rings between a pool and its workers")
struct SharedRingTests {
    @Test("frames far larger than the ring cross it whole and in order between two threads, wrapping many times")
    func framesAcrossThreads() async throws {
        let (rings, fd) = try SharedRings.parentSide(capacity: 4096).get()
        defer {
            rings.close()
            close(fd)
        }
        #expect(rings.capacity == 4096)
        let sizes = [0, 1, 11, 12, 13, 4083, 4084, 4085, 4096, 9000, 40_000, 100_000, 3, 70_000, 5]
        let expected = sizes.enumerated().map { frame(kind: 5, count: $0.element, seed: $0.offset) }
        let sent = expected.flatMap(\.encoded)
        let writing = Task {
            try await onThread("ring-writer") {
                var writer = rings.writer(parent: true)
                var message = OutgoingMessage()
                message.appendEncodedFrames(sent)
                while !message.isEmpty {
                    let count = try writer.write(message)
                    message.dropFirst(count)
                    if count == 0 { sched_yield() }
                }
            }
        }
        let received = try await onThread("ring-reader") { () throws -> [Frame] in
            let reader = RingFrameReader(rings.reader(parent: false), maxPayload: 1 << 20)
            var frames: [Frame] = []
            while frames.count < expected.count {
                while let frame = try reader.nextBuffered() { frames.append(frame) }
                var ring = false
                if frames.count < expected.count, try reader.fill(ringWriter: &ring) == 0 { sched_yield() }
            }
            return frames
        }
        try await writing.value
        #expect(received == expected)
    }

    @Test("the flags: a side that raised its flag is found once by the other, and a lowered flag is not found")
    func flags() {
        let ring = LocalRing(capacity: 64)
        let writer = ring.writer()
        let reader = ring.reader()
        let readerFlag = RingFlags(ring: ring.memory)
        var found: [Bool] = []
        found.append(writer.readerIsParked())
        readerFlag.raiseWaitingForBytes()
        found.append(writer.readerIsParked())
        found.append(writer.readerIsParked())
        readerFlag.raiseWaitingForBytes()
        readerFlag.lowerWaitingForBytes()
        found.append(writer.readerIsParked())
        writer.raiseWaitingForRoom()
        found.append(reader.writerIsParked())
        found.append(reader.writerIsParked())
        #expect(found == [false, true, false, false, true, false])
    }

    @Test("the reader's spinning hint is off in a fresh ring, on once marked, and off again once cleared")
    func readerSpinsHint() {
        let ring = LocalRing(capacity: 64)
        let flags = RingFlags(ring: ring.memory)
        var seen = [flags.readerSpin != .none]
        flags.markReaderSpinning(true)
        seen.append(flags.readerSpin != .none)
        seen.append(flags.readerSpin != .none)
        flags.markReaderSpinning(false)
        seen.append(flags.readerSpin != .none)
        #expect(seen == [false, true, true, false])
    }

    @Test(
        "the reader's spinning hint tells the writer's side whether the spinning thread shares its CPU",
        .enabled(if: twoAllowedCPUs() != nil, "the hint from another CPU needs two")
    )
    func readerSpinsElsewhereHint() async throws {
        let ring = LocalRing(capacity: 64)
        let flags = RingFlags(ring: ring.memory)
        let (first, second) = try #require(twoAllowedCPUs())
        // Threads kept on one CPU each, so that the CPU the hint names stays the thread's.
        let sameCPU = try await onThread("ring-spin-a") { () -> [PeerSpin] in
            #expect(triad_thread_pin(0, first) == 0)
            #expect(triad_thread_cpu() == first)
            var seen = [flags.readerSpin]
            flags.markReaderSpinning(true)
            seen.append(flags.readerSpin)
            return seen
        }
        #expect(sameCPU == [.none, .sameCPU])
        let otherCPU = try await onThread("ring-spin-b") { () -> [PeerSpin] in
            #expect(triad_thread_pin(0, second) == 0)
            #expect(triad_thread_cpu() == second)
            let elsewhere = flags.readerSpin
            flags.markReaderSpinning(false)
            return [elsewhere, flags.readerSpin]
        }
        #expect(otherCPU == [.elsewhere, .none])
        withExtendedLifetime(ring) {}
    }

    @Test("the idle schedule spins, yields, then parks; a peer spinning elsewhere stretches the spin to 10 µs, within the span, and one on the same CPU ends it")
    func idleSchedule() {
        /// The steps a fresh waiter on `schedule` takes at these offsets from its first look.
        func steps(_ schedule: IdleSchedule, peer: PeerSpin, at offsets: [UInt64]) -> [IdleWaiter.Step] {
            var waiter = IdleWaiter(schedule)
            return offsets.map { waiter.step(now: 1_000 + $0, peer: peer) }
        }
        let balanced = IdleStrategy.balanced.schedule
        #expect(balanced == IdleSchedule(spinNanos: 1_000, yieldNanos: 150_000))
        let offsets: [UInt64] = [0, 999, 1_000, 9_999, 10_000, 150_999, 151_000]
        #expect(steps(balanced, peer: .none, at: offsets) == [.spin, .spin, .yield, .yield, .yield, .yield, .park])
        #expect(steps(balanced, peer: .elsewhere, at: offsets) == [.spin, .spin, .spin, .spin, .yield, .yield, .park])
        // A peer spinning on this side's CPU runs only when this side yields, so it yields from the start.
        #expect(steps(balanced, peer: .sameCPU, at: offsets) == [.yield, .yield, .yield, .yield, .yield, .yield, .park])
        // A span shorter than the peer's spin: the side spins through it and still parks on time.
        let short = IdleSchedule(spinNanos: 1_000, yieldNanos: 2_000)
        #expect(steps(short, peer: .elsewhere, at: [0, 2_999, 3_000]) == [.spin, .spin, .park])
        // A side that never spins parks at once, whoever waits for it; one that spins longer keeps its own spin.
        let lowCPU = IdleStrategy.lowCPU.schedule
        #expect(steps(lowCPU, peer: .elsewhere, at: [0]) == [.park])
        let long = IdleSchedule(spinNanos: 50_000, yieldNanos: 0)
        #expect(steps(long, peer: .elsewhere, at: [0, 49_999, 50_000]) == [.spin, .spin, .park])
    }

    @Test("a full ring takes nothing more until its reader frees room; the room is exact")
    func fullRing() throws {
        let ring = LocalRing(capacity: 64)
        var writer = ring.writer()
        var reader = ring.reader()
        var message = OutgoingMessage()
        message.appendSegment([UInt8](repeating: 9, count: 100))
        let first = try writer.write(message)
        let roomWhenFull = try writer.room()
        let second = try writer.write(message)
        var space = [UInt8](repeating: 0, count: 10)
        let read = try space.withUnsafeMutableBytes { try reader.read(into: $0) }
        let room = try writer.room()
        let readable = try reader.readable()
        #expect([first, roomWhenFull, second, read, room, readable] == [64, 0, 0, 10, 10, 54])
        #expect(space == [UInt8](repeating: 9, count: 10))
    }

    @Test("impossible positions from a broken peer are refused with corruptFrame, on both sides")
    func impossiblePositions() throws {
        let ring = LocalRing(capacity: 64)
        var writer = ring.writer()
        var reader = ring.reader()
        var message = OutgoingMessage()
        message.appendSegment([1, 2, 3])
        let written = try writer.write(message)
        #expect(written == 3)
        /// The code of the error `body` throws, if it throws a `WireError`.
        func code(_ body: () throws -> Void) -> WireError.Code? {
            do {
                try body()
                return nil
            } catch {
                return (error as? WireError)?.code
            }
        }
        // The writer claims more bytes than the ring holds.
        writer.publish(3 + 65)
        var space = [UInt8](repeating: 0, count: 16)
        #expect(code { _ = try space.withUnsafeMutableBytes { try reader.read(into: $0) } } == .corruptFrame)
        #expect(code { _ = try reader.readable() } == .corruptFrame)
        // The reader claims to have read bytes never written, or to be behind by more than the ring holds.
        for position: UInt64 in [4, 3 &- 65] {
            reader.publish(position)
            #expect(code { _ = try writer.write(message) } == .corruptFrame)
            #expect(code { _ = try writer.room() } == .corruptFrame)
        }
    }

    @Test("a ring's memfd is sealed against resizing, and a descriptor that is no ring is not mapped as one")
    func sealedAndChecked() throws {
        let (rings, fd) = try SharedRings.parentSide(capacity: 8192).get()
        defer {
            rings.close()
            close(fd)
        }
        #expect(ftruncate(fd, 4096) != 0)
        #expect(ftruncate(fd, 1 << 20) != 0)
        var capacity = 0
        let mapping = triad_ring_map(fd, &capacity)
        #expect(mapping != nil)
        #expect(capacity == 8192)
        if let mapping { triad_ring_unmap(mapping, capacity) }
        // A memfd of a ring's size sealed only against shrinking, as a lane is: it could still grow under the
        // mapping, so it is no ring.
        let lane = triad_lane_memfd_create(2 * (256 + 8192))
        #expect(lane >= 0)
        defer { close(lane) }
        #expect(triad_ring_map(lane, &capacity) == nil)
        // A capacity that is not a power of two is refused when the rings are made.
        #expect(triad_ring_memfd_create(5000) < 0)
    }

    @Test("a ring's capacity is rounded up to a power of two between 4 KiB and 1 GiB")
    func capacityRounding() {
        func effective(_ bytes: Int) -> Int {
            var configuration = ProcessPoolConfiguration(workers: 1)
            configuration.ringCapacity = bytes
            return configuration.effectiveRingCapacity
        }
        #expect(effective(0) == 4096)
        #expect(effective(4096) == 4096)
        #expect(effective(4097) == 8192)
        #expect(effective(512 << 10) == 512 << 10)
        #expect(effective(1 << 40) == 1 << 30)
    }

    @Test("every idle strategy runs jobs, maps and a payload larger than the ring", arguments: [
        IdleStrategy.balanced, .lowLatency, .lowCPU, IdleStrategy(spin: .microseconds(-5), yield: .zero),
    ])
    func idleStrategies(strategy: IdleStrategy) async throws {
        let pool = TestPools.pool(workers: 2) { configuration in
            configuration.idleStrategy = strategy
            configuration.ringCapacity = 4096
            configuration.sharedPayloadThreshold = nil
        }
        #expect(try await pool.submit(Square(7)).value == 49)
        #expect(try await pool.map((0..<2000).map(Square.init)) == (0..<2000).map { $0 * $0 })
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(try await pool.submit(Echo(bytes)).value == bytes)
        await pool.shutdown()
    }

    @Test("a Process's job and result travel through its rings too, larger than them")
    func processThroughRings() async throws {
        var configuration = TestPools.configuration(workers: 1)
        configuration.ringCapacity = 4096
        configuration.sharedPayloadThreshold = nil
        let bytes = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let process = Process(Echo(bytes), configuration: configuration)
        try process.start()
        #expect(try await process.value == bytes)
    }
}
