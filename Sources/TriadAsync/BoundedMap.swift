import NIOCore
import Synchronization
import TriadCore

extension AsyncLoop {
    /// Applies `transform` to every element with at most `maxConcurrent` calls in flight, and returns the
    /// results in the order of `elements`: the bounded-concurrency map that Python users write by hand.
    ///
    /// Elements start in order. The work runs on `maxConcurrent` tasks (fewer for fewer elements), each of which
    /// takes the next element as soon as its call returns, so a long map creates no task per element.
    /// The first call to throw cancels the others; its error is thrown once they have stopped, and the elements
    /// not yet started are never started.
    ///
    /// - Parameters:
    ///   - elements: The inputs.
    ///   - maxConcurrent: The most calls running at once; at least 1.
    ///   - transform: The async work per element.
    /// - Returns: The results, in input order.
    /// - Throws: The first error `transform` throws; `CancellationError` if the caller was cancelled before every
    ///   element had started.
    public func map<S: Sequence, T: Sendable>(
        _ elements: S,
        maxConcurrent: Int,
        _ transform: @escaping @Sendable (S.Element) async throws -> T
    ) async throws -> [T] where S.Element: Sendable {
        precondition(maxConcurrent >= 1, "maxConcurrent must be at least 1")
        let inputs = Array(elements)
        let run = MapRun<S.Element, T>(inputs)
        let worker: @Sendable @isolated(any) () async throws -> Void = {
            while let (index, input) = run.claim() {
                // After the first error (or the caller's cancellation), start nothing more.
                if Task.isCancelled { throw CancellationError() }
                run.store(try await transform(input), at: index)
            }
        }
        try await withTaskExecutorPreference(executor) {
            try await withThrowingDiscardingTaskGroup { group in
                for _ in 0..<min(maxConcurrent, inputs.count) { group.addTask(operation: worker) }
            }
        }
        return run.take()
    }

    /// Applies `transform` to every element with at most `maxConcurrent` calls in flight, yielding each outcome
    /// as it completes, tagged with its input index. A failure does not end the stream; ending the iteration
    /// early cancels the calls in flight.
    ///
    /// - Parameters:
    ///   - elements: The inputs.
    ///   - maxConcurrent: The most calls running at once; at least 1.
    ///   - transform: The async work per element.
    /// - Returns: The outcomes in completion order.
    public func mapUnordered<S: Sequence, T: Sendable>(
        _ elements: S,
        maxConcurrent: Int,
        _ transform: @escaping @Sendable (S.Element) async throws -> T
    ) -> AsyncStream<JobCompletion<T>> where S.Element: Sendable {
        precondition(maxConcurrent >= 1, "maxConcurrent must be at least 1")
        let inputs = Array(elements)
        let (stream, continuation) = AsyncStream.makeStream(of: JobCompletion<T>.self)
        let task = Task(executorPreference: executor) {
            await withTaskGroup(of: JobCompletion<T>.self) { group in
                @Sendable func run(_ index: Int) async -> JobCompletion<T> {
                    do {
                        return JobCompletion(index: index, result: .success(try await transform(inputs[index])))
                    } catch {
                        return JobCompletion(index: index, result: .failure(error))
                    }
                }
                var next = 0
                while next < min(maxConcurrent, inputs.count) {
                    let index = next
                    group.addTask { await run(index) }
                    next += 1
                }
                while let completion = await group.next() {
                    continuation.yield(completion)
                    if next < inputs.count && !Task.isCancelled {
                        let index = next
                        group.addTask { await run(index) }
                        next += 1
                    }
                }
                continuation.finish()
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// A token-bucket rate limiter for tasks: at most `rate` acquisitions per second on average, with bursts of up
/// to `burst`.
///
/// Callers are served in arrival order: each ``acquire(_:)`` reserves its tokens at once and, if the bucket is in
/// debt, sleeps on the loop's clock until they have been earned. A caller cancelled while sleeping gives its
/// tokens back.
///
/// ```swift
/// let limiter = RateLimiter(rate: 10, burst: 5, loop: loop)   // 10 requests per second
/// for url in urls { try await limiter.acquire(); loop.createTask { try await fetch(url) } }
/// ```
public final class RateLimiter: Sendable {
    private struct State {
        var tokens: Double
        var updatedAt: UInt64
    }

    /// Tokens earned per second.
    public let rate: Double
    /// The bucket's capacity: the largest burst.
    public let burst: Int
    private let loop: AsyncLoop
    private let state: Mutex<State>

    /// Makes a limiter with a full bucket.
    ///
    /// - Parameters:
    ///   - rate: Tokens earned per second; greater than 0.
    ///   - burst: The bucket's capacity; at least 1.
    ///   - loop: The loop whose clock it sleeps on.
    public init(rate: Double, burst: Int = 1, loop: AsyncLoop) {
        precondition(rate > 0, "a rate limiter's rate must be positive")
        precondition(burst >= 1, "a rate limiter's burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self.loop = loop
        self.state = Mutex(State(tokens: Double(burst), updatedAt: NIODeadline.now().uptimeNanoseconds))
    }

    private static func refill(_ state: inout State, rate: Double, burst: Int) {
        let now = NIODeadline.now().uptimeNanoseconds
        let earned = Double(now &- state.updatedAt) / 1e9 * rate
        state.tokens = min(Double(burst), state.tokens + earned)
        state.updatedAt = now
    }

    /// Takes `tokens` tokens, sleeping until the bucket has earned them.
    ///
    /// - Parameter tokens: How many to take; from 1 to `burst`.
    /// - Throws: `CancellationError` if the caller is cancelled while waiting; its tokens are returned.
    public func acquire(_ tokens: Int = 1) async throws {
        precondition(tokens >= 1 && tokens <= burst, "acquire between 1 and burst tokens")
        let (rate, burst) = (self.rate, self.burst)
        let debt = state.withLock { state -> Double in
            Self.refill(&state, rate: rate, burst: burst)
            state.tokens -= Double(tokens)
            return -state.tokens
        }
        guard debt > 0 else { return }
        do {
            try await loop.sleep(for: .nanoseconds(Int64((debt / rate * 1e9).rounded(.up))))
        } catch {
            state.withLock { $0.tokens += Double(tokens) }
            throw error
        }
    }

    /// Takes `tokens` tokens if the bucket has them now, without waiting.
    ///
    /// - Parameter tokens: How many to take.
    /// - Returns: Whether they were taken.
    public func tryAcquire(_ tokens: Int = 1) -> Bool {
        let (rate, burst) = (self.rate, self.burst)
        return state.withLock { state in
            Self.refill(&state, rate: rate, burst: burst)
            guard state.tokens >= Double(tokens) else { return false }
            state.tokens -= Double(tokens)
            return true
        }
    }
}
