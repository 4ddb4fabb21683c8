import NIOCore
import Synchronization

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
