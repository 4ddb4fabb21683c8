import Glibc
import Synchronization
import SystemPackage
import Testing
@testable import TriadCluster
import TriadCore
import TriadProcesses

// Rank 0's state machine and the messages between ranks, driven with no MPI at all: these run in every build.

private struct Tiny: Job {
    var value: Int
    func run() async throws -> Int { value }
}

/// A sink that records what reaches it.
private final class RecordingSink: PoolOwnJobSink {
    struct Record: Sendable {
        var running = 0
        var delivered: [Range<Int>] = []
        var failed: [(Range<Int>, String)] = []
    }

    let record = Mutex(Record())

    func markRunning() { record.withLock { $0.running += 1 } }

    func deliver(_ items: [ReceivedFrame], first: Int, count: Int) -> Bool {
        record.withLock { $0.delivered.append(first..<first + count) }
        return false
    }

    func fail(_ error: any Error, jobs range: Range<Int>) -> Bool {
        record.withLock { $0.failed.append((range, "\(error)")) }
        return false
    }

    func deliverBatch(_ item: ReceivedFrame, to members: ArraySlice<PoolWork>) {}
}

private func work(
    _ sequence: UInt64,
    timeout: Duration? = nil,
    sink: RecordingSink = RecordingSink()
) throws -> PoolWork {
    let encoded = try JobMessages.single(
        Tiny(value: Int(sequence)), named: Tiny.jobName, sequence: sequence, maxFrameSize: 1 << 20
    )
    return PoolWork(sequence: sequence, jobName: Tiny.jobName, encoded: encoded, timeout: timeout, sink: sink)
}

@Suite struct ClusterStateTests {
    @Test func dispatchFillsTheLeastLoadedRanksUpToTheDepth() throws {
        var state = ClusterState(worldSize: 3, depth: 2, localPool: false, defaultTimeout: nil)
        for sequence in 1...5 { state.queue.append(try work(UInt64(sequence))) }
        let (sends, started) = state.dispatch(now: 100)
        #expect(sends.map(\.rank) == [1, 2, 1, 2])
        #expect(sends.allSatisfy { $0.tag == ClusterTag.frames })
        #expect(started.count == 2, "the first message on each idle rank starts at once")
        #expect(state.queue.count == 1)
        #expect(state.inFlightCount == 4)
        #expect(state.dispatch(now: 101).sends.isEmpty, "no rank has room")
    }

    @Test func answersCompleteMessagesInOrderAndStartTheNext() throws {
        var state = ClusterState(worldSize: 2, depth: 4, localPool: false, defaultTimeout: nil)
        let second = RecordingSink()
        state.queue.append(try work(1))
        state.queue.append(try work(2, sink: second))
        _ = state.dispatch(now: 0)
        let (resolution, started) = state.answer(rank: 1, sequence: 1, first: 0, count: 1, now: 10)
        #expect(resolution?.first == 0 && resolution?.count == 1)
        #expect(resolution?.origin == "rank 1 on host an unknown host")
        #expect(started?.object === second, "the next message now runs")
        #expect(state.slots[0].inFlight.map(\.sequence) == [2])
        #expect(state.answer(rank: 1, sequence: 99, first: 0, count: 1, now: 11).resolution == nil)
        #expect(state.answer(rank: 2, sequence: 2, first: 0, count: 1, now: 11).resolution == nil, "not rank 2's")
    }

    @Test func cancellingDropsAQueuedMessageAndTheAnswersOfOneInFlight() throws {
        var state = ClusterState(worldSize: 2, depth: 1, localPool: false, defaultTimeout: nil)
        state.queue.append(try work(1))
        state.queue.append(try work(2))
        _ = state.dispatch(now: 0)
        #expect(state.cancel(root: 2) == nil)
        #expect(state.queue.isEmpty)
        #expect(state.cancel(root: 1) == nil, "without a local pool there is nothing to tell the rank")
        let (resolution, _) = state.answer(rank: 1, sequence: 1, first: 0, count: 1, now: 5)
        #expect(resolution == nil, "a cancelled message's answers are dropped")
        #expect(state.isDrained, "but it leaves the rank once answered")
    }

    @Test func withALocalPoolCancellingTellsTheRank() throws {
        var state = ClusterState(worldSize: 2, depth: 1, localPool: true, defaultTimeout: nil)
        state.queue.append(try work(7))
        _ = state.dispatch(now: 0)
        let cancel = state.cancel(root: 7)
        let message = try #require(cancel)
        #expect(message.rank == 1 && message.tag == ClusterTag.cancel)
        guard case .bytes(let bytes) = message.parts[0] else { Issue.record("no bytes"); return }
        #expect(bytes == withUnsafeBytes(of: UInt64(7).littleEndian) { Array($0) })
    }

    @Test func aTimedJobExpiresOnceItsDeadlinePassesNamingItsRank() throws {
        var state = ClusterState(worldSize: 2, depth: 2, localPool: false, defaultTimeout: nil)
        let sink = RecordingSink()
        state.queue.append(try work(1, timeout: .milliseconds(5), sink: sink))
        _ = state.dispatch(now: 1_000)
        state.slots[0].host = "node7"
        #expect(state.expire(now: 1_000 + 4_999_999).isEmpty)
        let expired = state.expire(now: 1_000 + 5_000_000)
        #expect(expired.count == 1)
        #expect(expired.first?.1.code == .timedOut)
        #expect(expired.first?.1.message.contains("rank 1 on host node7") == true)
        #expect(expired.first.map { $0.0.first..<$0.0.first + $0.0.count } == 0..<1)
        #expect(state.expire(now: 1_000 + 9_000_000).isEmpty, "it expires once")
        #expect(state.inFlightCount == 1, "it stays on its rank until the rank answers")
    }

    @Test func withALocalPoolRankZeroWaitsLongerThanTheRank() throws {
        var state = ClusterState(worldSize: 2, depth: 1, localPool: true, defaultTimeout: .milliseconds(5))
        state.queue.append(try work(1))
        let (sends, _) = state.dispatch(now: 0)
        guard case .bytes(let bytes) = sends[0].parts[0] else { Issue.record("no bytes"); return }
        let envelope = bytes.withUnsafeBytes { FramesEnvelope($0) }
        #expect(envelope?.timeoutNanoseconds == 5_000_000, "the rank gets the timeout to enforce")
        #expect(state.expire(now: 10_000_000).isEmpty)
        #expect(state.expire(now: 31_000_000_000).count == 1)
    }

    @Test func stopsGoOutOnceAfterAShutdownHasDrainedEveryRank() throws {
        var state = ClusterState(worldSize: 3, depth: 1, localPool: false, defaultTimeout: nil)
        state.queue.append(try work(1))
        _ = state.dispatch(now: 0)
        #expect(state.stopsIfDrained().isEmpty, "no shutdown yet")
        state.shuttingDown = true
        #expect(state.stopsIfDrained().isEmpty, "a job still runs")
        #expect(state.inFlightReport == ["rank 1 on host an unknown host was running job \(Tiny.jobName)"])
        _ = state.answer(rank: 1, sequence: 1, first: 0, count: 1, now: 1)
        let stops = state.stopsIfDrained()
        #expect(stops.map(\.rank) == [1, 2] && stops.allSatisfy { $0.tag == ClusterTag.stop })
        #expect(state.stopsIfDrained().isEmpty)
    }
}

@Suite struct ClusterWireTests {
    @Test func aSmallMessageTravelsWholeInItsEnvelope() throws {
        var message = OutgoingMessage()
        message.appendFrame(kind: WorkerFrameKind.data, payload: [1, 2, 3])
        let outbound = Outbound(rank: 3, frames: message, timeout: .seconds(2))
        #expect(outbound.parts.count == 1)
        guard case .bytes(let bytes) = outbound.parts[0] else { Issue.record("no bytes"); return }
        let envelope = try #require(bytes.withUnsafeBytes { FramesEnvelope($0) })
        #expect(envelope == FramesEnvelope(timeoutNanoseconds: 2_000_000_000, segments: 0))
        #expect(bytes.count == FramesEnvelope.size + message.byteCount)
    }

    @Test func aLargeMessageSendsItsLargeSegmentsAsTheyAre() throws {
        let large = [UInt8](repeating: 9, count: 1 << 20)
        var message = OutgoingMessage()
        message.appendFrame(kind: WorkerFrameKind.data, payload: [1, 2, 3])
        message.appendFrame(kind: WorkerFrameKind.data, payload: large)
        let outbound = Outbound(rank: 1, frames: message)
        guard case .bytes(let envelopeBytes) = outbound.parts[0] else { Issue.record("no envelope"); return }
        let envelope = try #require(envelopeBytes.withUnsafeBytes { FramesEnvelope($0) })
        #expect(Int(envelope.segments) == outbound.parts.count - 1)
        let sentAsIs = outbound.parts.dropFirst().contains {
            if case .segment(let segment) = $0 { segment.count == large.count } else { false }
        }
        #expect(sentAsIs)
        let sizes = (0..<Int(envelope.segments)).map { index in
            envelopeBytes.withUnsafeBytes { raw in
                let offset = FramesEnvelope.size + 8 * index
                return Int(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            }
        }
        #expect(sizes == outbound.parts.dropFirst().map(\.count))
        #expect(sizes.reduce(0, +) == message.byteCount)
    }

    @Test func receivedBytesSplitIntoTheirFrames() throws {
        var bytes: [UInt8] = []
        FramesEnvelope(timeoutNanoseconds: 0, segments: 0).append(to: &bytes)
        bytes += Frame(kind: WorkerFrameKind.result, payload: [7, 7]).encoded
        bytes += Frame(kind: WorkerFrameKind.data, flags: 1, payload: [1, 2, 3, 4]).encoded
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        let message = InboundFrames(
            source: 2, timeoutNanoseconds: 0, buffer: buffer, start: FramesEnvelope.size, owner: buffer
        )
        let frames = try message.frames()
        #expect(frames.map(\.kind) == [WorkerFrameKind.result, WorkerFrameKind.data])
        #expect(frames[1].flags == 1 && frames[1].payload == [1, 2, 3, 4])
        let truncated = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count - 2, alignment: 16)
        bytes.withUnsafeBytes { truncated.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.dropLast(2))) }
        let cut = InboundFrames(
            source: 2, timeoutNanoseconds: 0, buffer: truncated, start: FramesEnvelope.size, owner: truncated
        )
        #expect(throws: WireError.self) { try cut.frames() }
    }

    /// The frames of a message as the receiving rank reads them, with its lanes.
    private func received(_ outbound: Outbound, from source: Int, lanes: ClusterLanes?) throws -> InboundFrames {
        guard outbound.parts.count == 1, case .bytes(let bytes) = outbound.parts[0] else {
            throw WireError(.corruptFrame, "the message did not travel whole")
        }
        let envelope = try #require(bytes.withUnsafeBytes { FramesEnvelope($0) })
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return InboundFrames(
            source: source, timeoutNanoseconds: envelope.timeoutNanoseconds, buffer: buffer,
            start: FramesEnvelope.size, owner: buffer, lanes: lanes
        )
    }

    /// Runs `body` with the lanes of a rank 0 and a rank 1 in this process, closed afterwards: each opens the
    /// other's lane through /proc, as ranks do.
    private func withTwoRanks(_ body: (ClusterLanes, ClusterLanes) throws -> Void) rethrows {
        let rank0 = ClusterLanes()
        let rank1 = ClusterLanes()
        defer {
            rank0.closeAll()
            rank1.closeAll()
        }
        try body(rank0, rank1)
    }

    @Test func ranksOfOneMachineSetUpLanesAndSendLargeFramesThroughThem() throws {
        try withTwoRanks { rank0, rank1 in try setUpAndSend(rank0, rank1) }
    }

    private func setUpAndSend(_ rank0: ClusterLanes, _ rank1: ClusterLanes) throws {
        let offered = try #require(rank0.offer(to: 1))
        let answered = try #require(
            rank1.accept(from: 0, offer: offered, threshold: 4096, maxPayload: 1 << 30)
        )
        #expect(!rank1.sendsThroughLanes(to: 0), "not before rank 0 has opened rank 1's lane")
        #expect(rank0.complete(with: 1, answer: answered, threshold: 4096, maxPayload: 1 << 30))
        #expect(rank0.sendsThroughLanes(to: 1))
        rank1.confirm(with: 0, accepted: true)
        #expect(rank1.sendsThroughLanes(to: 0))

        let large = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for round in 0..<3 {
            var message = OutgoingMessage()
            message.appendFrame(kind: WorkerFrameKind.job, payload: [1, 2, 3])
            message.appendFrame(kind: WorkerFrameKind.data, flags: 1, payload: large)
            // The large frame moves into the lane: the message itself is small and travels whole.
            let outbound = rank0.route(Outbound(rank: 1, frames: message, timeout: .seconds(1)))
            #expect(outbound.parts.count == 1 && outbound.parts[0].count < 200)
            let inbound = try received(outbound, from: 0, lanes: rank1)
            #expect(inbound.timeoutNanoseconds == 1_000_000_000)
            try withExtendedLifetime(inbound) {
                let frames = try inbound.frames()
                #expect(frames.map(\.kind) == [WorkerFrameKind.job, WorkerFrameKind.data])
                #expect(frames[1].flags == 1 && frames[1].isInLane && frames[1].payload == large)
            }
            #expect(rank0.messagesThroughLanes == (round + 1, 0) && rank1.messagesThroughLanes == (0, round + 1))
        }
        // The other way, and a small message that stays out of the lane.
        var answer = OutgoingMessage()
        answer.appendFrame(kind: WorkerFrameKind.result, payload: large)
        // A frame points into its message: keep the message while the frame is read.
        let back = try received(rank1.route(Outbound(rank: 0, frames: answer)), from: 1, lanes: rank0)
        #expect(try withExtendedLifetime(back) { try back.frames().first?.payload } == large)
        var small = OutgoingMessage()
        small.appendFrame(kind: WorkerFrameKind.data, payload: [9])
        let unrouted = rank0.route(Outbound(rank: 1, frames: small))
        let smallInbound = try received(unrouted, from: 0, lanes: rank1)
        #expect(try withExtendedLifetime(smallInbound) { try smallInbound.frames().first?.payload } == [9])
        #expect(rank0.messagesThroughLanes.sent == 3, "the small message went as it was")
    }

    @Test func lanesThatCannotBeOpenedLeaveThePairOnMPI() throws {
        try withTwoRanks { rank0, rank1 in try refuse(rank0, rank1) }
    }

    private func refuse(_ rank0: ClusterLanes, _ rank1: ClusterLanes) throws {
        let offered = try #require(rank0.offer(to: 1))
        // A descriptor that is no lane (standard input), one that is not open, a process that does not exist, and
        // the right lane with another token (what a process of the same pid on another machine would hold).
        for (pid, fd) in [(getpid(), Int32(0)), (getpid(), 987_654), (Int32.max, offered.fd)] {
            let offer = LaneOffer(pid: pid, fd: fd, token: offered.token)
            #expect(rank1.accept(from: 0, offer: offer, threshold: 1, maxPayload: 1 << 20) == nil)
        }
        var forged = offered
        forged.token[0] ^= 1
        #expect(rank1.accept(from: 0, offer: forged, threshold: 1, maxPayload: 1 << 20) == nil)
        #expect(
            SharedFrameLanes.openPeerLane(pid: getpid(), descriptor: offered.fd, token: forged.token)
                == .failure(Errno.permissionDenied)
        )
        #expect(rank1.lanes(from: 0) == nil)
        // Rank 1 could not open rank 0's lane and answered -1: rank 0 closes its offer and keeps using MPI.
        #expect(!rank0.complete(with: 1, answer: nil, threshold: 1, maxPayload: 1 << 20))
        #expect(!rank0.sendsThroughLanes(to: 1))
        var message = OutgoingMessage()
        message.appendFrame(kind: WorkerFrameKind.data, payload: [UInt8](repeating: 1, count: 1 << 17))
        #expect(rank0.route(Outbound(rank: 1, frames: message)).parts.count > 1, "through MPI, in segments")
        // Rank 0 could not open rank 1's lane: rank 1 drops its lanes.
        let second = try #require(rank0.offer(to: 2))
        #expect(rank1.accept(from: 0, offer: second, threshold: 1, maxPayload: 1 << 20) != nil)
        rank1.confirm(with: 0, accepted: false)
        #expect(rank1.lanes(from: 0) == nil && !rank1.sendsThroughLanes(to: 0))
    }

    @Test func aFrameInSharedMemoryFromARankWithoutLanesIsAnError() throws {
        var bytes: [UInt8] = []
        FramesEnvelope(timeoutNanoseconds: 0, segments: 0).append(to: &bytes)
        bytes += Frame(kind: WorkerFrameKind.sharedData, payload: [UInt8](repeating: 0, count: 24)).encoded
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        let message = InboundFrames(
            source: 3, timeoutNanoseconds: 0, buffer: buffer, start: FramesEnvelope.size, owner: buffer,
            lanes: ClusterLanes()
        )
        let error = #expect(throws: WireError.self) { try message.frames() }
        #expect(error?.code == .corruptFrame && error?.description.contains("rank 3") == true)
    }
}
