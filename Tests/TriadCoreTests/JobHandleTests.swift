import Synchronization
import Testing
import TriadCore

@Suite("JobHandle")
struct JobHandleTests {
    @Test("a handle resolves once, and later outcomes are ignored")
    func resolvesOnce() async throws {
        let handle = JobHandle<Int>(jobName: "demo")
        #expect(handle.state == .pending)
        #expect(handle.markRunning())
        #expect(handle.state == .running)
        #expect(handle.succeed(7))
        #expect(!handle.fail(ExecutorError.cancelled(jobName: "demo")))
        #expect(handle.state == .succeeded)
        #expect(try await handle.value == 7)
    }

    @Test("a resolved handle's value or error reads at once, without waiting")
    func finishedValue() throws {
        let succeeded = JobHandle<[String]>(jobName: "demo")
        #expect(succeeded.succeed(["a", "b"]))
        #expect(try succeeded.finishedValue() == ["a", "b"])
        let failed = JobHandle<Int>(jobName: "demo")
        #expect(failed.cancel())
        let error = #expect(throws: ExecutorError.self) { try failed.finishedValue() }
        #expect(error?.code == .cancelled)
    }

    @Test("a handle gives back outputs of every kind as they went in: values, optionals, existentials, classes")
    func outputsOfEveryKind() async throws {
        let text = JobHandle<String>(jobName: "demo")
        #expect(text.succeed(String(repeating: "é", count: 100)))
        #expect(try await text.value == String(repeating: "é", count: 100))
        #expect(try text.finishedValue() == String(repeating: "é", count: 100))

        let none = JobHandle<Int?>(jobName: "demo")
        #expect(none.succeed(nil))
        #expect(try await none.value == nil)
        let some = JobHandle<Int?>(jobName: "demo")
        #expect(some.succeed(3))
        #expect(try await some.value == 3)

        // An existential output keeps its value's own type inside the handle, which reads it back as the existential.
        let existential = JobHandle<any Sendable>(jobName: "demo")
        #expect(existential.succeed(42))
        #expect(try await existential.value as? Int == 42)
        let nested = JobHandle<any Sendable>(jobName: "demo")
        #expect(nested.succeed(Optional<any Sendable>.some("inner") as any Sendable))
        #expect(String(describing: try await nested.value) == String(describing: Optional<any Sendable>.some("inner")))

        // A class output handed in as a subclass comes back as the very object.
        let object = Derived()
        let base = JobHandle<Base>(jobName: "demo")
        #expect(base.succeed(object))
        #expect(try await base.value === object)
        #expect(try base.finishedValue() === object)

        // A large value, kept out of line in the handle's storage.
        let large = JobHandle<[Int]>(jobName: "demo")
        #expect(large.succeed(Array(0..<1000)))
        for _ in 0..<3 { #expect(try await large.value == Array(0..<1000)) }
        #expect(try await large.result.map { $0.count }.get() == 1000)
    }

    @Test("cancelling a pending job resolves it and tells the executor it was not running")
    func cancelPending() async {
        let handle = JobHandle<Int>(jobName: "demo")
        let sawRunning = Mutex<Bool?>(nil)
        handle.setCancelHandler { wasRunning in sawRunning.withLock { $0 = wasRunning } }
        #expect(handle.cancel())
        #expect(!handle.cancel())
        #expect(handle.state == .cancelled)
        #expect(!handle.markRunning())
        #expect(sawRunning.withLock { $0 } == false)
        await #expect { try await handle.value } throws: { ($0 as? ExecutorError)?.code == .cancelled }
    }

    @Test("cancelling a running job tells the executor it was running")
    func cancelRunning() {
        let handle = JobHandle<Int>(jobName: "demo")
        let sawRunning = Mutex<Bool?>(nil)
        handle.setCancelHandler { wasRunning in sawRunning.withLock { $0 = wasRunning } }
        #expect(handle.markRunning())
        #expect(handle.cancel())
        #expect(sawRunning.withLock { $0 } == true)
        #expect(!handle.succeed(1))
    }

    @Test("a controller hears of a cancellation once, starts a waiter's assist while pending, and goes at resolution")
    func controller() {
        let events = EventLog()
        let (handle, released) = controlledHandle(events, tag: 7)
        #expect(released.controller != nil, "the handle keeps its controller while it is pending")
        #expect(handle.markRunning())
        do {
            let session = handle.beginWaitAssist()
            session?.poll()
            session?.end()
        }
        #expect(handle.cancel())
        #expect(!handle.cancel())
        #expect(events.entries == ["assist", "poll", "end", "cancel(tag: 7, wasRunning: true)"])
        #expect(released.controller == nil, "a resolved handle lets go of its controller")
        #expect(handle.beginWaitAssist() == nil)
        #expect(handle.state == .cancelled)
    }

    @Test("a handle that resolves on its own never calls its controller, and lets go of it")
    func controllerAfterSuccess() async throws {
        let events = EventLog()
        let (handle, released) = controlledHandle(events, tag: 1)
        #expect(handle.succeed(3))
        #expect(released.controller == nil, "a resolved handle lets go of its controller")
        #expect(!handle.cancel())
        #expect(handle.beginWaitAssist() == nil)
        #expect(events.entries.isEmpty)
        #expect(try await handle.value == 3)
    }

    @Test("a task about to suspend runs its controller's assist first, and takes an outcome it brought at once")
    func awaitAssistBringsOutcome() async throws {
        let controller = AwaitAssistingController(resolvesWith: 9)
        let handle = JobHandle<Int>(jobName: "demo", controller: controller, tag: 1)
        controller.handle.withLock { $0 = handle }
        #expect(try await handle.value == 9)
        #expect(controller.events.entries == ["assist: pending", "assist: finished"])
    }

    @Test("a task whose controller's assist brings nothing suspends, for value and for result alike")
    func awaitAssistThenSuspend() async throws {
        for readsResult in [false, true] {
            let controller = AwaitAssistingController(resolvesWith: nil)
            let handle = JobHandle<Int>(jobName: "demo", controller: controller, tag: 1)
            let waiter = Task { readsResult ? try await handle.result.get() : try await handle.value }
            while controller.events.entries.count < 2 { await Task.yield() }
            #expect(handle.succeed(4))
            #expect(try await waiter.value == 4)
            #expect(controller.events.entries == ["assist: pending", "assist: pending"])
        }
    }

    @Test("cancelling the awaiting task cancels the job")
    func taskCancellation() async {
        let handle = JobHandle<Int>(jobName: "demo")
        let waiter = Task { await handle.result }
        while handle.state == .pending && !waiter.isCancelled {
            waiter.cancel()
            await Task.yield()
        }
        let outcome = await waiter.value
        #expect(handle.state == .cancelled)
        #expect(throws: ExecutorError.self) { try outcome.get() }
    }

    @Test("awaiting from the main actor stays on the main actor, for finished and pending handles")
    @MainActor
    func awaitOnMainActor() async throws {
        let done = (0..<100).map { index in
            let handle = JobHandle<Int>(jobName: "demo")
            handle.succeed(index)
            return handle
        }
        var sum = 0
        for handle in done {
            sum += try await handle.value
            MainActor.assertIsolated("a finished handle's value resumes on the caller's actor")
        }
        #expect(sum == 4950)
        let pending = JobHandle<Int?>(jobName: "demo")
        Task.detached {
            try await Task.sleep(for: .milliseconds(20))
            pending.succeed(nil)
        }
        #expect(try await pending.value == nil)
        MainActor.assertIsolated("a pending handle's value resumes on the caller's actor")
        let failed = JobHandle<Int>(jobName: "demo")
        failed.fail(ExecutorError.cancelled(jobName: "demo"))
        #expect(executorCode(await failed.result) == .cancelled)
    }

    @Test("many waiters and callbacks all see the outcome")
    func manyWaiters() async throws {
        let handle = JobHandle<String>(jobName: "demo")
        let calls = Atomic<Int>(0)
        for _ in 0..<5 { handle.whenComplete { _ in calls.add(1, ordering: .relaxed) } }
        async let a = handle.value
        async let b = handle.value
        try await Task.sleep(for: .milliseconds(10))
        handle.succeed("done")
        #expect(try await [a, b] == ["done", "done"])
        #expect(calls.load(ordering: .relaxed) == 5)
        handle.whenComplete { _ in calls.add(1, ordering: .relaxed) }
        #expect(calls.load(ordering: .relaxed) == 6)
    }

    @Test("retrying puts a running job back to pending")
    func retry() {
        let handle = JobHandle<Int>(jobName: "demo")
        #expect(!handle.markPending())
        #expect(handle.markRunning())
        #expect(handle.markPending())
        #expect(handle.state == .pending)
    }

    @Test("states and errors describe themselves")
    func descriptions() {
        #expect(JobState.running.description == "running")
        #expect(JobState.cancelled.isFinished && !JobState.pending.isFinished)
        let error = ExecutorError.timedOut(jobName: "Slow", after: .seconds(1), killedWorker: true)
        #expect(error.code == .timedOut)
        #expect(error.description.contains("job Slow"))
        #expect(error.description.contains("killed and replaced"))
        #expect(error == ExecutorError.timedOut(jobName: "Slow", after: .seconds(1), killedWorker: true))
    }
}

/// The code of the executor error in `result`, if it failed with one.
private func executorCode<T>(_ result: Result<T, any Error>) -> ExecutorError.Code? {
    if case .failure(let error) = result { return (error as? ExecutorError)?.code }
    return nil
}

/// What a controller was asked, in order.
private final class EventLog: Sendable {
    private let log = Mutex<[String]>([])

    var entries: [String] { log.withLock { $0 } }

    func record(_ event: String) { log.withLock { $0.append(event) } }
}

/// A pending handle whose controller records to `events`, known by `tag`, and a weak reference to that controller,
/// which only the handle keeps.
private func controlledHandle(_ events: EventLog, tag: UInt64) -> (JobHandle<Int>, WeakController) {
    let controller = RecordingController(events)
    let released = WeakController(controller)
    return (JobHandle<Int>(jobName: "demo", controller: controller, tag: tag), released)
}

/// A weak reference to a controller, to tell whether anything still keeps it.
private final class WeakController {
    weak var controller: RecordingController?

    init(_ controller: RecordingController) { self.controller = controller }
}

/// A controller that records what its handle asks of it.
private final class RecordingController: JobController {
    let events: EventLog

    init(_ events: EventLog) { self.events = events }

    func cancelJob(tag: UInt64, wasRunning: Bool) { events.record("cancel(tag: \(tag), wasRunning: \(wasRunning))") }

    func beginWaitAssist() -> WaitAssistSession? {
        events.record("assist")
        return WaitAssistSession(poll: { [events] in events.record("poll") }, end: { [events] in events.record("end") })
    }
}

/// A controller whose assist before a task suspends records whether the handle had finished, at its start and at
/// its end, and resolves the handle in between with `resolvesWith`, as a pool's assist reads a result that came.
private final class AwaitAssistingController: JobController {
    let events = EventLog()
    let handle = Mutex<JobHandle<Int>?>(nil)
    private let resolvesWith: Int?

    init(resolvesWith: Int?) { self.resolvesWith = resolvesWith }

    func cancelJob(tag: UInt64, wasRunning: Bool) { events.record("cancel") }

    func beginWaitAssist() -> WaitAssistSession? { nil }

    func assistBeforeSuspending(until finished: () -> Bool) {
        events.record("assist: \(finished() ? "finished" : "pending")")
        if let resolvesWith { handle.withLock { $0 }?.succeed(resolvesWith) }
        events.record("assist: \(finished() ? "finished" : "pending")")
    }
}

/// A class output, and a subclass handed in as one.
private class Base: @unchecked Sendable {}
private final class Derived: Base, @unchecked Sendable {}
