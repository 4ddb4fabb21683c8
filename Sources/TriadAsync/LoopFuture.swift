import Synchronization

/// An outcome that something sets later and tasks await: the analogue of `asyncio.Future`, which asyncio code
/// makes with `loop.create_future()`.
///
/// A future runs nothing. Code that learns an outcome through a callback (a timer, a delegate, a completion
/// handler) settles it with ``succeed(_:)`` or ``fail(_:)``, and tasks await ``value``. A future is a small object,
/// not a task, so a program can keep a great many waits open at little cost: ten thousand futures set by
/// ``AsyncLoop/callLater(_:_:)`` and awaited with one ``AsyncLoop/gather(futures:)`` cost a few hundred bytes
/// each, where ten thousand sleeping tasks cost about 1.4 kB each (Swift's runtime gives every task that runs a
/// 1 KiB allocator slab).
///
/// ```swift
/// let tick = loop.createFuture(of: String.self)
/// loop.callLater(.milliseconds(10)) { tick.succeed("tick") }
/// print(try await tick.value)
/// ```
///
/// A future is settled once: later calls to settle it return `false` and change nothing. Any thread may settle
/// it. Waiting tasks resume on their own executor (the loop, for the loop's tasks); callbacks from
/// ``whenDone(_:)`` run on the thread that settles the future, so settle it on the loop, as `callLater`
/// callbacks do, to keep them there. A future that fails while nobody awaits it has its error logged once its
/// last reference is gone, as asyncio logs "Future exception was never retrieved"; a cancelled one is not
/// reported.
public final class LoopFuture<Value: Sendable>: Sendable {
    let completion: TaskCompletion<Value>

    init(completion: TaskCompletion<Value>) {
        self.completion = completion
    }

    deinit {
        completion.handleDropped()
    }

    /// The future's name, used in the report of an error nobody retrieved.
    public var name: String { completion.name }

    /// Settles the future with `value`: the analogue of `Future.set_result`.
    ///
    /// - Parameter value: The value its waiters receive.
    /// - Returns: `true` if this call settled the future; `false` if it was already settled.
    @discardableResult
    public func succeed(_ value: Value) -> Bool {
        completion.finish(.success(value))
    }

    /// Settles the future with `error`: the analogue of `Future.set_exception`.
    ///
    /// - Parameter error: The error its waiters receive.
    /// - Returns: `true` if this call settled the future; `false` if it was already settled.
    @discardableResult
    public func fail(_ error: any Error) -> Bool {
        completion.finish(.failure(error))
    }

    /// Settles the future as cancelled, so that its waiters receive `CancellationError`: the analogue of
    /// `Future.cancel()`.
    ///
    /// - Returns: `true` if this call settled the future; `false` if it was already settled.
    @discardableResult
    public func cancel() -> Bool {
        completion.finish(.failure(CancellationError()))
    }

    /// Waits for the future and returns its value.
    ///
    /// As in asyncio, cancelling the waiting task cancels the future, and so every other waiter's wait.
    ///
    /// - Throws: The error the future was settled with, or `CancellationError` if it was cancelled.
    public var value: Value {
        get async throws {
            try await result.get()
        }
    }

    /// Waits for the future and returns its outcome without throwing. Cancelling the waiting task cancels the
    /// future.
    public var result: Result<Value, any Error> {
        get async {
            await completion.wait { [self] in self.cancel() }
        }
    }

    /// Whether the future is settled, with a value, an error or a cancellation.
    public var isDone: Bool { completion.peek() != nil }

    /// Whether the future was settled as cancelled.
    public var isCancelled: Bool {
        guard case .failure(let error) = completion.peek() else { return false }
        return isCancellation(error)
    }

    /// Runs `callback` once the future is settled (at once if it is), on the thread that settles it. Counts as
    /// retrieving the outcome.
    ///
    /// - Parameter callback: Receives the outcome.
    public func whenDone(_ callback: @escaping @Sendable (Result<Value, any Error>) -> Void) {
        completion.whenDone(callback)
    }
}

extension LoopFuture where Value == Void {
    /// Settles a future of no value: `future.succeed()`.
    ///
    /// - Returns: `true` if this call settled the future; `false` if it was already settled.
    @discardableResult
    public func succeed() -> Bool {
        succeed(())
    }
}

extension AsyncLoop {
    /// Makes a future that tasks on this loop can await and anything can settle: the analogue of
    /// `loop.create_future()`.
    ///
    /// - Parameters:
    ///   - type: The type of the value, when the context does not say it.
    ///   - name: A name for the report of an error nobody retrieved; by default `future-N`.
    /// - Returns: An unsettled future.
    public func createFuture<T: Sendable>(of type: T.Type = T.self, name: String? = nil) -> LoopFuture<T> {
        let name = name ?? "future-\(futureCounter.wrappingAdd(1, ordering: .relaxed).newValue)"
        return LoopFuture(completion: TaskCompletion(name: name, kind: "future", logger: logger))
    }

    /// Waits for every future and returns their values in order; the first to fail cancels the others, and its
    /// error is thrown. Cancelling the caller cancels every future.
    ///
    /// Unlike the gather of operations, this starts no task: the caller alone waits, and each future costs one
    /// callback. It is the way to wait on many thousands of outcomes at once.
    ///
    /// - Parameter futures: Futures from ``createFuture(of:name:)``.
    /// - Returns: The values, in the order of `futures`.
    /// - Throws: The first error a future fails with; `CancellationError` if the caller is cancelled first.
    public func gather<T: Sendable>(futures: [LoopFuture<T>]) async throws -> [T] {
        if futures.isEmpty { return [] }
        let waiting = FutureGather<T>(count: futures.count)
        let outcome = await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                // The continuation is in place before any callback can run, so the last callback always finds it.
                waiting.start(continuation)
                for (index, future) in futures.enumerated() {
                    future.completion.whenDone { waiting.settle(index, with: $0) }
                }
            }
        } onCancel: {
            for future in futures { future.cancel() }
        }
        if case .failure = outcome {
            for future in futures { future.cancel() }
        }
        return try outcome.get()
    }
}

private let futureCounter = Atomic<UInt64>(0)

/// The shared state of one gather of futures: a slot per future, the count still unsettled and the waiting
/// caller, resumed once, by the last value or the first error.
final class FutureGather<T: Sendable>: Sendable {
    typealias Waiter = UnsafeContinuation<Result<[T], any Error>, Never>

    private struct State {
        var waiter: Waiter?
        var remaining: Int
        var values: [T?]
        var resumed = false
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(remaining: count, values: Array(repeating: nil, count: count)))
    }

    func start(_ waiter: Waiter) {
        state.withLock { $0.waiter = waiter }
    }

    func settle(_ index: Int, with result: Result<T, any Error>) {
        let resume = state.withLock { state -> (Waiter, Result<[T], any Error>)? in
            guard !state.resumed, let waiter = state.waiter else { return nil }
            switch result {
            case .success(let value):
                state.values[index] = value
                state.remaining -= 1
                guard state.remaining == 0 else { return nil }
                state.resumed = true
                return (waiter, .success(state.values.map { $0! }))
            case .failure(let error):
                state.resumed = true
                return (waiter, .failure(error))
            }
        }
        if let (waiter, outcome) = resume { waiter.resume(returning: outcome) }
    }
}
