/// A unit of work that runs the same way on every Triad model: a thread pool, the async loop, worker processes or
/// an MPI cluster.
///
/// A job is a `Codable` value, so it can cross a process boundary, and its ``Output`` is `Codable` for the same
/// reason. Worker processes find the code to run by the job's stable ``jobName``, which is why closures cannot be
/// the unit of work: a closure has no name and cannot be sent to another process.
///
/// ```swift
/// struct CountPrimes: Job {
///     var range: Range<Int>
///     func run() async throws -> Int { range.filter(isPrime).count }
/// }
///
/// let pool = ThreadPoolExecutor(workers: 4)          // or ProcessPoolExecutor, EventLoopExecutor, ...
/// let count = try await pool.submit(CountPrimes(range: 0..<1_000_000)).value
/// ```
///
/// `run()` may throw any error. In-process executors hand that error back unchanged. Executors that run the job in
/// another process send it back as a ``RemoteJobError``, or as the original error when its type is `Codable` and
/// registered with ``JobRegistry/registerError(_:)``.
public protocol Job: Sendable, Codable {
    /// The value a job produces.
    associatedtype Output: Sendable, Codable

    /// The stable name under which the job is registered and found in worker processes.
    ///
    /// It defaults to the fully qualified type name (for example `MyApp.CountPrimes`). Override it to keep the name
    /// stable across a rename, or to shorten it on the wire.
    static var jobName: String { get }

    /// Does the work. It runs on whatever thread or process the executor chooses.
    func run() async throws -> Output
}

extension Job {
    /// The fully qualified type name, for example `MyApp.CountPrimes`.
    public static var jobName: String { String(reflecting: Self.self) }
}
