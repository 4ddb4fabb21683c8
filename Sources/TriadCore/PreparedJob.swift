/// A job decoded by a worker and ready to run: decoding and running are separate steps, so a transport can release
/// the bytes the job was decoded from (a shared-memory lane) before the job runs.
package struct PreparedJob: Sendable {
    private let body: @Sendable (JobRegistry, Int?) async -> Result<WireEncoded, WireJobError>

    fileprivate init(_ body: @escaping @Sendable (JobRegistry, Int?) async -> Result<WireEncoded, WireJobError>) {
        self.body = body
    }

    /// Runs the job (or the batch) and encodes its output, leaving arrays of at least `borrowingFrom` bytes out of
    /// line (see ``WireEncoder/encoded(_:borrowingFrom:)``). Never throws: every failure comes back as an encoded
    /// error, as with ``JobRegistry/run(jobName:input:)``.
    package func run(
        registry: JobRegistry,
        borrowingFrom minimumBytes: Int?
    ) async -> Result<WireEncoded, WireJobError> {
        await body(registry, minimumBytes)
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
                PreparedJob { registry, minimumBytes in
                    var outcome = WireBatchOutcome<J.Output>(outputs: [], failures: [])
                    outcome.outputs.reserveCapacity(jobs.count)
                    for index in 0..<jobs.count {
                        do {
                            outcome.outputs.append(try await jobs[index].run())
                        } catch {
                            outcome.failures.append(WireBatchFailure(index: index, error: registry.wireError(error)))
                        }
                    }
                    return encode(outcome, borrowingFrom: minimumBytes, what: "outputs", of: J.self)
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
            PreparedJob { registry, minimumBytes in
                let output: J.Output
                do {
                    output = try await job.run()
                } catch {
                    return .failure(registry.wireError(error))
                }
                return encode(output, borrowingFrom: minimumBytes, what: "output", of: J.self)
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
