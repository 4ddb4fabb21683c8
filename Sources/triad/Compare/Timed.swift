import TriadCore

#if canImport(Glibc)
import Glibc
#endif

/// A job's result together with the time its `run()` took, so the report can tell the time spent in jobs from the
/// time spent moving them.
struct Timed<Value: Codable & Sendable>: Codable, Sendable {
    var value: Value
    var nanoseconds: Int64

    /// Runs `body` and times it on the monotonic clock.
    static func measure(_ body: () throws -> Value) rethrows -> Timed<Value> {
        let start = ContinuousClock.now
        let value = try body()
        return Timed(value: value, nanoseconds: (ContinuousClock.now - start).nanoseconds)
    }

    /// Runs `body` and times it on the monotonic clock.
    static func measure(_ body: () async throws -> Value) async rethrows -> Timed<Value> {
        let start = ContinuousClock.now
        let value = try await body()
        return Timed(value: value, nanoseconds: (ContinuousClock.now - start).nanoseconds)
    }
}

extension Duration {
    /// The duration in whole nanoseconds.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The duration in seconds, as a `Double`.
    var seconds: Double { Double(nanoseconds) / 1e9 }
}
