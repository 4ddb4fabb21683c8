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

    /// Runs `jobs[start..<end]` in order, as a worker process or rank runs the jobs of a map's chunk, appending
    /// each output to `outputs` and passing each error, with the job's index, to `failed`. Before each job,
    /// `beforeJob` gets the job's index and says whether the job may still run now; the job at `start` runs
    /// whatever it says. Returns the index after the last job that ran.
    ///
    /// Triad's implementation is the only one a job type should have: do not implement this. It is a requirement,
    /// not a helper, so that each job type gets its own compiled copy of the loop, in which `run()` is a direct
    /// call that the compiler can inline, rather than one generic loop that copies, calls and stores every job
    /// through run-time type information (most of a tiny job's time in a worker).
    static func _runJobs(
        _ jobs: [Self],
        from start: Int,
        to end: Int,
        appendingTo outputs: inout [Output],
        failed: (Int, any Error) -> Void,
        beforeJob: (Int) -> Bool
    ) async -> Int
}

extension Job {
    /// The fully qualified type name, for example `MyApp.CountPrimes`.
    public static var jobName: String { String(reflecting: Self.self) }

    /// Triad's batch loop; see the requirement. It is inlinable so that each conforming type's module compiles
    /// it for that type.
    @inlinable
    public static func _runJobs(
        _ jobs: [Self],
        from start: Int,
        to end: Int,
        appendingTo outputs: inout [Output],
        failed: (Int, any Error) -> Void,
        beforeJob: (Int) -> Bool
    ) async -> Int {
        var index = start
        while index < end {
            if !beforeJob(index) && index > start { break }
            do {
                outputs.append(try await jobs[index].run())
            } catch {
                failed(index, error)
            }
            index += 1
        }
        return index
    }
}
