/// The jobs and error types a program can send to other processes, by their stable names.
///
/// Both sides of a process boundary hold the same registry, because both run the same binary. A parent refuses to
/// submit a job whose name is not registered, and a worker decodes only registered types: bytes from the wire
/// select one of the registered types and nothing else, so a payload can never execute arbitrary code. That is
/// the contrast with Python's pickle, which runs whatever code the bytes name.
///
/// ```swift
/// var registry = JobRegistry()
/// registry.register(CountPrimes.self)
/// registry.registerError(ParseError.self)
/// ```
public struct JobRegistry: Sendable {
    private var jobs: [String: JobEntry] = [:]
    private var errors: [String: ErrorEntry] = [:]

    /// Makes an empty registry.
    public init() {}

    /// Makes a registry holding `jobs`.
    public init(_ jobs: [any Job.Type]) {
        for job in jobs { register(job) }
    }

    /// Registers a job type under its ``Job/jobName``. Registering the same type twice is not an error.
    public mutating func register<J: Job>(_ type: J.Type) {
        jobs[J.jobName] = JobEntry(J.self)
    }

    /// Registers an error type, so that a job that throws it in a worker rethrows the original in the parent
    /// instead of a ``RemoteJobError``.
    public mutating func registerError<E: Error & Codable>(_ type: E.Type) {
        errors[String(reflecting: E.self)] = ErrorEntry(E.self)
    }

    /// Adds every job and error type of `other`; where both hold a name, `other`'s entry wins. Merging the same
    /// registry twice is not an error.
    public mutating func merge(_ other: JobRegistry) {
        jobs.merge(other.jobs) { _, new in new }
        errors.merge(other.errors) { _, new in new }
    }

    /// Whether a job of that name is registered.
    public func contains(jobName: String) -> Bool { jobs[jobName] != nil }

    /// Every registered job name, sorted.
    public var jobNames: [String] { jobs.keys.sorted() }

    /// Decodes a job of the named type from `input`, runs it, and encodes its output. Never throws: every failure
    /// comes back as an encoded error, so a worker always has an answer to send.
    package func run(jobName: String, input: [UInt8]) async -> Result<[UInt8], WireJobError> {
        await prepareAndRun(jobName: jobName, input: input, batch: false)
    }

    /// Decodes an array of jobs of the named type from `input`, runs them in order, and encodes a
    /// ``WireBatchOutcome`` of their outputs and failures. Never throws: a batch that cannot be decoded or encoded
    /// as a whole comes back as one encoded error.
    package func runBatch(jobName: String, input: [UInt8]) async -> Result<[UInt8], WireJobError> {
        await prepareAndRun(jobName: jobName, input: input, batch: true)
    }

    /// ``prepare(jobName:input:batch:)``, then the prepared job's run, with its output in one array.
    private func prepareAndRun(jobName: String, input: [UInt8], batch: Bool) async -> Result<[UInt8], WireJobError> {
        let prepared = input.withUnsafeBytes { prepare(jobName: jobName, input: $0, batch: batch) }
        switch prepared {
        case .success(let job): return await job.run(registry: self, borrowingFrom: nil).map(\.joined)
        case .failure(let error): return .failure(error)
        }
    }

    /// Decodes a job from bytes without running it; see ``prepare(jobName:input:batch:)``.
    typealias JobPreparer = @Sendable (UnsafeRawBufferPointer, Bool) -> Result<PreparedJob, WireJobError>

    func preparer(jobName: String) -> JobPreparer? { jobs[jobName]?.prepare }

    static func unknownJob(_ jobName: String) -> WireJobError {
        WireJobError(
            typeName: String(reflecting: ExecutorError.self),
            description: "no job named \(jobName) is registered in the worker",
            payload: nil
        )
    }

    /// Turns an error thrown by a job into its wire form, with its encoding when its type is registered.
    package func wireError(_ error: any Error) -> WireJobError {
        let typeName = String(reflecting: type(of: error))
        let payload = errors[typeName].flatMap { try? $0.encode(error) }
        return WireJobError(typeName: typeName, description: String(describing: error), payload: payload)
    }

    /// Turns a wire error back into the original error when its type is registered, or a ``RemoteJobError``.
    package func error(from wire: WireJobError, jobName: String) -> any Error {
        if let payload = wire.payload, let entry = errors[wire.typeName], let error = try? entry.decode(payload) {
            return error
        }
        return RemoteJobError(
            jobName: jobName, typeName: wire.typeName, errorDescription: wire.description, origin: RemoteOrigin.current
        )
    }

    private struct JobEntry: Sendable {
        let prepare: JobPreparer

        init<J: Job>(_ type: J.Type) {
            prepare = JobRegistry.preparer(for: J.self)
        }
    }

    private struct ErrorEntry: Sendable {
        let encode: @Sendable (any Error) throws -> [UInt8]?
        let decode: @Sendable ([UInt8]) throws -> any Error

        init<E: Error & Codable>(_ type: E.Type) {
            encode = { error in try (error as? E).map { try WireEncoder().encode($0) } }
            decode = { bytes in try WireDecoder().decode(E.self, from: bytes) }
        }
    }
}

/// The outcome of a batch of jobs run by ``JobRegistry/runBatch(jobName:input:)``: the outputs of the jobs that
/// succeeded, in order, and the failures with their positions in the batch.
package struct WireBatchOutcome<Output: Codable & Sendable>: Codable, Sendable {
    package var outputs: [Output]
    package var failures: [WireBatchFailure]

    package init(outputs: [Output], failures: [WireBatchFailure]) {
        self.outputs = outputs
        self.failures = failures
    }

    /// One result per job of the batch, in order, turning failures back into errors with `registry`.
    package func results(count: Int, jobName: String, registry: JobRegistry) -> [Result<Output, any Error>] {
        var results: [Result<Output, any Error>] = []
        results.reserveCapacity(count)
        forEach(count: count, jobName: jobName, registry: registry) { _, output in
            results.append(.success(output))
        } failure: { _, error in
            results.append(.failure(error))
        }
        return results
    }

    /// Walks the jobs of the batch in order, passing each one's position and output to `success`, or its error,
    /// turned back with `registry`, to `failure`; it stops early if the outputs run out. It builds no `Result`,
    /// which generic code makes through a type-metadata lookup at run time.
    package func forEach(
        count: Int,
        jobName: String,
        registry: JobRegistry,
        success: (Int, Output) -> Void,
        failure: (Int, any Error) -> Void
    ) {
        var nextOutput = 0
        var nextFailure = 0
        for index in 0..<count {
            if nextFailure < failures.count, failures[nextFailure].index == index {
                failure(index, registry.error(from: failures[nextFailure].error, jobName: jobName))
                nextFailure += 1
            } else if nextOutput < outputs.count {
                success(index, outputs[nextOutput])
                nextOutput += 1
            }
        }
    }
}

/// A failed job of a batch: its position and its error.
package struct WireBatchFailure: Codable, Sendable {
    package var index: Int
    package var error: WireJobError

    package init(index: Int, error: WireJobError) {
        self.index = index
        self.error = error
    }
}
