import Synchronization
import Testing
import TriadThreads

/// Runs blocking test code on a real OS thread and awaits it without blocking the cooperative pool.
func onThread<T: Sendable>(
    name: String? = nil,
    _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    let thread = Thread(name: name, body)
    try thread.start()
    return try await thread.join()
}

/// Starts `count` threads running `body(index)` and returns them, started.
func startThreads<T: Sendable>(
    _ count: Int,
    _ body: @escaping @Sendable (Int) throws -> T
) throws -> [Thread<T>] {
    let threads = (0..<count).map { index in Thread { try body(index) } }
    for thread in threads { try thread.start() }
    return threads
}

/// Awaits every thread's outcome.
func outcomes<T: Sendable>(_ threads: [Thread<T>]) async -> [Result<T, any Error>] {
    var results: [Result<T, any Error>] = []
    for thread in threads {
        do {
            results.append(.success(try await thread.join()))
        } catch {
            results.append(.failure(error))
        }
    }
    return results
}

/// The code of a `ThreadingError`, or `nil` for any other outcome.
func threadingCode<T>(_ result: Result<T, any Error>) -> ThreadingError.Code? {
    if case .failure(let error as ThreadingError) = result { return error.code }
    return nil
}

/// A counter that threads share in tests.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    @discardableResult
    func increment() -> Int { value.add(1, ordering: .relaxed).newValue }

    @discardableResult
    func incrementBy(_ amount: Int) -> Int { value.add(amount, ordering: .relaxed).newValue }

    var count: Int { value.load(ordering: .relaxed) }
}

/// A list that threads append to in tests.
final class Recorder<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])

    func append(_ item: T) { items.withLock { $0.append(item) } }

    var all: [T] { items.withLock { $0 } }
}

struct TestFailure: Error, Equatable {
    var reason: String
}

/// Sleeps the calling OS thread (only ever called on a `Thread`).
func sleepOnThread(_ duration: Duration) {
    try? Event().wait(timeout: duration)
}

/// The outcome of async throwing code, as a `Result`.
func attempt<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}
