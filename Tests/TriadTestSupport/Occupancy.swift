import Synchronization

/// Counts the jobs of one test that are running at once, the most there ever were, and how many started: for tests
/// of concurrency limits and of how soon a map stops.
public final class Occupancy: Sendable {
    private let state = Mutex((now: 0, most: 0, started: 0))

    /// Makes an empty count.
    public init() {}

    /// A job started.
    public func enter() {
        state.withLock { state in
            state.now += 1
            state.started += 1
            state.most = max(state.most, state.now)
        }
    }

    /// A job ended.
    public func leave() { state.withLock { $0.now -= 1 } }

    /// The most jobs that ran at once.
    public var most: Int { state.withLock { $0.most } }
    /// The jobs that started.
    public var started: Int { state.withLock { $0.started } }
}

/// One shared value per key, made on first use. Jobs must be `Codable`, so a job names its test's shared objects
/// (an ``Occupancy``, a gate) by a string key instead of holding them.
public final class Keyed<Value: Sendable>: Sendable {
    private let values = Mutex<[String: Value]>([:])
    private let make: @Sendable () -> Value

    /// Makes a table whose values `make` creates.
    public init(_ make: @escaping @Sendable () -> Value) {
        self.make = make
    }

    /// The value for `key`, made now if there is none yet.
    public func callAsFunction(_ key: String) -> Value {
        values.withLock { values in
            if let existing = values[key] { return existing }
            let made = make()
            values[key] = made
            return made
        }
    }
}
