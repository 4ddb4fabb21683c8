#if os(Linux)
import Glibc
import Synchronization
import TriadCore

/// The entry point of every program that uses worker processes: registers the program's jobs, and turns a child
/// started as a worker into one.
///
/// Call ``bootstrap(jobs:errors:)`` as the **first statement of `main`**, like Python's
/// `if __name__ == "__main__":` guard:
///
/// ```swift
/// @main struct App {
///     static func main() async throws {
///         ProcessPool.bootstrap(jobs: [CountPrimes.self, Resize.self], errors: [ResizeError.self])
///         let pool = ProcessPoolExecutor(workers: 4)
///         ...
///     }
/// }
/// ```
///
/// A pool starts its workers by running the program's own binary again (`/proc/self/exe`, never `fork`). In such a
/// child, `bootstrap` never returns: it runs jobs until the pool lets it go, then exits the process. Anything
/// before the call runs again in every worker, so put nothing there. In the parent, `bootstrap` only registers the
/// jobs and returns at once.
///
/// A worker whose program does not call `bootstrap`, or calls it too late, never answers the pool's handshake.
/// The pool then fails the jobs waiting for it with `ExecutorError.Code.workerStartFailed` after
/// ``ProcessPoolConfiguration/handshakeTimeout``; it never hangs.
public enum ProcessPool {
    private static let shared = Mutex(JobRegistry())

    /// Registers `jobs` and `errors` for this process and, in a worker, runs the worker and exits.
    ///
    /// - Parameters:
    ///   - jobs: Every job type the program submits to a process pool. Submitting a job that is not here fails
    ///     at once with `ExecutorError.Code.unknownJob`.
    ///   - errors: `Codable` error types that jobs throw and that should come back as themselves rather than as
    ///     `RemoteJobError`.
    ///
    /// Calling it more than once adds to the registry; that is not an error.
    public static func bootstrap(jobs: [any Job.Type], errors: [any (Error & Codable).Type] = []) {
        var registry = JobRegistry(jobs)
        for error in errors { registry.registerError(error) }
        bootstrap(registry: registry)
    }

    /// Registers every job and error type of `registry` and, in a worker, runs the worker and exits.
    ///
    /// - Parameter registry: The jobs and errors to add to this process's registry.
    public static func bootstrap(registry: JobRegistry) {
        let merged = shared.withLock { shared in
            shared.merge(registry)
            return shared
        }
        if let parent = WorkerEnvironment.parentPID {
            WorkerMain.run(registry: merged, parentPID: parent)
        }
    }

    /// The jobs and errors registered so far in this process by ``bootstrap(jobs:errors:)``.
    public static var registry: JobRegistry { shared.withLock { $0 } }

    /// Whether this process was started as a worker by a process pool.
    public static var isWorker: Bool { WorkerEnvironment.parentPID != nil }
}
#endif
