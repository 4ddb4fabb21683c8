import Synchronization
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
private final class RecordingSink: PoolJobSink {
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
        #expect(started === second, "the next message now runs")
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
}
