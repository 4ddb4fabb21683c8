/// A job decoded by a worker and ready to run: decoding and running are separate steps, so a transport can release
/// the bytes the job was decoded from (a shared-memory lane) before the job runs.
///
/// A batch (the jobs of a map's chunk, or quick jobs submitted one by one) runs in parts:
/// ``runPart(from:registry:borrowingFrom:beforeJob:)`` runs jobs in order until its caller says the part is long
/// enough, and encodes the outcome of that part alone, so a worker can send results (and the parent report
/// progress) job by job rather than once per chunk, and can mark each job as it starts.
package struct PreparedJob: Sendable {
    /// Runs jobs from the first index on, up to (not including) the second, asking the closure before each whether
    /// it may join the part, and returns the part's encoded outcome and the index after its last job.
    private typealias Body = @Sendable (JobRegistry, Int?, Int, Int, (Int) -> Bool) async
        -> (Result<WireEncoded, WireJobError>, Int)

    private let body: Body
    /// How many jobs it holds: 1 for a single job, the batch's count for a batch.
    package let jobCount: Int

    private init(jobCount: Int, _ body: @escaping Body) {
        self.jobCount = jobCount
        self.body = body
    }

    /// Runs the job (or the whole batch) and encodes its output, leaving arrays of at least `borrowingFrom` bytes
    /// out of line (see ``WireEncoder/encoded(_:borrowingFrom:)``). Never throws: every failure comes back as an
    /// encoded error, as with ``JobRegistry/run(jobName:input:)``.
    package func run(
        registry: JobRegistry,
        borrowingFrom minimumBytes: Int?
    ) async -> Result<WireEncoded, WireJobError> {
        await body(registry, minimumBytes, 0, jobCount) { _ in true }.0
    }

    /// Runs jobs in order from `start`, never reaching `end`, and encodes their outcome, a ``WireBatchOutcome``
    /// whose failure indices count from `start`. Before each job, `beforeJob` gets the job's index and says whether
    /// the job may still join this part; the first job of a part runs whatever it says. Returns the outcome and the
    /// index after the part's last job. A single job is a part of one.
    package func runPart(
        from start: Int,
        to end: Int,
        registry: JobRegistry,
        borrowingFrom minimumBytes: Int?,
        beforeJob: (Int) -> Bool
    ) async -> (outcome: Result<WireEncoded, WireJobError>, end: Int) {
        await body(registry, minimumBytes, start, min(end, jobCount), beforeJob)
    }

    /// Decodes a job of type `J`, or an array of them for a batch, from `input`.
    static func prepare<J: Job>(
        _: J.Type,
        input: UnsafeRawBufferPointer,
        batch: Bool
    ) -> Result<PreparedJob, WireJobError> {
        if batch {
            let jobs: [J]
            do {
                jobs = try WireDecoder().decode([J].self, from: input)
            } catch {
                return .failure(codingError("the worker could not decode a batch of job \(J.jobName): \(error)"))
            }
            return .success(
                PreparedJob(jobCount: jobs.count) { registry, minimumBytes, start, end, beforeJob in
                    var outcome = WireBatchOutcome<J.Output>(outputs: [], failures: [])
                    outcome.outputs.reserveCapacity(max(0, end - start))
                    var failures: [WireBatchFailure] = []
                    let index = await J._runJobs(
                        jobs, from: start, to: end, appendingTo: &outcome.outputs,
                        failed: { index, error in
                            failures.append(WireBatchFailure(index: index - start, error: registry.wireError(error)))
                        },
                        beforeJob: beforeJob
                    )
                    outcome.failures = failures
                    return (encode(outcome, borrowingFrom: minimumBytes, what: "outputs", of: J.self), index)
                }
            )
        }
        let job: J
        do {
            job = try WireDecoder().decode(J.self, from: input)
        } catch {
            return .failure(codingError("the worker could not decode job \(J.jobName): \(error)"))
        }
        return .success(
            PreparedJob(jobCount: 1) { registry, minimumBytes, _, _, beforeJob in
                _ = beforeJob(0)
                let output: J.Output
                do {
                    output = try await job.run()
                } catch {
                    return (.failure(registry.wireError(error)), 1)
                }
                return (encode(output, borrowingFrom: minimumBytes, what: "output", of: J.self), 1)
            }
        )
    }

    private static func encode<J: Job>(
        _ value: some Encodable,
        borrowingFrom minimumBytes: Int?,
        what: String,
        of _: J.Type
    ) -> Result<WireEncoded, WireJobError> {
        do {
            return .success(try WireEncoder().encoded(value, borrowingFrom: minimumBytes))
        } catch {
            return .failure(codingError("the worker could not encode the \(what) of job \(J.jobName): \(error)"))
        }
    }

    private static func codingError(_ description: String) -> WireJobError {
        WireJobError(typeName: String(reflecting: WireError.self), description: description, payload: nil)
    }
}

extension JobRegistry {
    /// Decodes a job of the named type from `input` (or an array of them, for a batch) without running it. The
    /// bytes are not used after this returns. Never throws: an unknown job or bytes that do not decode come back
    /// as an encoded error, as with ``run(jobName:input:)``.
    package func prepare(
        jobName: String,
        input: UnsafeRawBufferPointer,
        batch: Bool = false
    ) -> Result<PreparedJob, WireJobError> {
        guard let prepare = preparer(jobName: jobName) else { return .failure(Self.unknownJob(jobName)) }
        return prepare(input, batch)
    }
}

extension JobRegistry {
    /// The preparer of jobs of type `J`, for the registry's entry of `J`.
    static func preparer<J: Job>(for type: J.Type) -> JobPreparer {
        { input, batch in PreparedJob.prepare(J.self, input: input, batch: batch) }
    }
}
