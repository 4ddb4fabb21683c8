import Synchronization
import Testing
import TriadCore
import TriadProcessesTestSupport

@testable import TriadProcesses

/// An executor that records the messages its jobs' handles cancel.
private final class RecordingOwner: PoolJobOwner {
    let cancelled = Mutex<[UInt64]>([])

    func cancel(root: UInt64) { cancelled.withLock { $0.append(root) } }

    func assistWaiter() -> WaitAssistSession? { nil }

    func assistAwaiter(until finished: () -> Bool) {}
}

/// A job type the test workers do not register.
private struct NotRegistered: Job {
    func run() async throws -> Int { 1 }
}

@Suite("Single job templates")
struct SingleJobTemplateTests {
    @Test("jobs of several types submitted in turn, and an unregistered one between them, each meet their own type")
    func typesInTurn() async throws {
        let pool = TestPools.pool(workers: 1)
        for round in 0..<3 {
            let square = try pool.submit(Square(round))
            let echo = try pool.submit(Echo([UInt8(round), 9]))
            #expect { try pool.submit(NotRegistered()) } throws: { ($0 as? ExecutorError)?.code == .unknownJob }
            let again = try pool.submit(Square(round + 10))
            #expect(try await square.value == round * round)
            #expect(try await echo.value == [UInt8(round), 9])
            #expect(try await again.value == (round + 10) * (round + 10))
        }
        await pool.shutdown()
    }

    @Test("a pool dropped without a shutdown is freed once its workers are gone, though its jobs' sink holds it")
    func droppedPoolIsFreed() async throws {
        weak var released: PoolStorage?
        var pids: [Int32] = []
        do {
            let pool = TestPools.pool(workers: 1)
            released = pool.storage
            // Submitting makes the type's template, whose sink refers to the pool's storage.
            #expect(try await pool.submit(Square(6)).value == 36)
            let kept = try pool.submit(Square(7))
            #expect(try await kept.value == 49)
            pids = pool.storage.workerPIDs
        }
        // Waits for the event, the storage's release, with a generous bound so that a leak fails instead of hanging.
        #expect(await eventually(seconds: 120) { released == nil }, "the dropped pool's storage is still alive")
        #expect(pids.allSatisfy(TestPools.isDead))
    }

    @Test("a template's jobs share its sink, which resolves and cancels each through the handle its work keeps")
    func madeAlike() throws {
        let owner = RecordingOwner()
        let template = SingleJobTemplate(
            of: Square.self, jobName: Square.jobName, registry: TestPools.registry, owner: owner
        )
        #expect(template.jobName == Square.jobName)
        #expect(template.header == JobHeader.singleTemplate(jobName: Square.jobName))
        let (work, handle) = try PoolSubmission.single(
            Square(7), template: template, sequence: 41, maxFrameSize: 1 << 20, timeout: nil
        )
        let (otherWork, otherHandle) = try PoolSubmission.single(
            Square(8), template: template, sequence: 42, maxFrameSize: 1 << 20, timeout: nil
        )
        let (plainWork, plainHandle) = try PoolSubmission.single(
            Square(7), named: Square.jobName, sequence: 41, maxFrameSize: 1 << 20, timeout: nil,
            registry: TestPools.registry, metrics: nil, owner: owner
        )
        #expect(type(of: handle) == type(of: plainHandle))
        #expect(handle.jobName == plainHandle.jobName)
        #expect(handle.state == .pending)
        let sink = try #require(work.sink)
        let otherSink = try #require(otherWork.sink)
        let plainSink = try #require(plainWork.sink)
        // One sink for the template's jobs, of the type a job without a template gets for itself.
        #expect(sink.object === template.sink && otherSink.object === template.sink)
        #expect(plainSink.object !== template.sink)
        #expect(type(of: sink.object) == type(of: plainSink.object))
        #expect(sink.object is SingleJobSink<Square>)
        #expect(sink.handle === handle && otherSink.handle === otherHandle && plainSink.handle === plainHandle)
        // A small job keeps its encoding in its work with a template, its bytes without; both send one message.
        guard case .inline = work.frames, case .bytes(let plainBytes) = plainWork.frames else {
            Issue.record("a small job keeps its encoding in its work with a template, and its bytes without")
            return
        }
        #expect(work.message.segments.flatMap(\.bytes) == plainBytes)
        #expect(work.batchablePayloadCount == plainWork.batchablePayloadCount)
        // Through the work's sink, each job's handle is marked running and resolved, and no other.
        sink.markRunning()
        #expect(handle.state == .running && otherHandle.state == .pending)
        #expect(!otherSink.fail(TestFailure(reason: "down"), jobs: 0..<1))
        #expect(otherHandle.state == .failed && handle.state == .running)
        // The sink is the handles' controller: cancelling a handle reaches the owner with its job's sequence.
        #expect(handle.cancel())
        #expect(owner.cancelled.withLock { $0 } == [41])
        #expect(sink.fail(ExecutorError.cancelled(jobName: Square.jobName), jobs: 0..<1) == false)
        #expect(plainHandle.cancel())
        #expect(owner.cancelled.withLock { $0 } == [41, 41])
    }
}
