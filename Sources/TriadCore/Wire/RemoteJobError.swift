/// An error that a job threw in another process, handed back as its type's name and description.
///
/// Errors cross a process boundary as data, never as code. When the error's type is `Codable` and registered with
/// ``JobRegistry/registerError(_:)`` on both sides, the original error comes back instead of this one.
public struct RemoteJobError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The job that threw.
    public var jobName: String
    /// The thrown error's fully qualified type name, for example `MyApp.ParseError`.
    public var typeName: String
    /// The thrown error's description, as `String(describing:)` gave it in the worker.
    public var errorDescription: String
    /// Where the job ran, when the executor knows more than "a worker": for a cluster, the rank and its host (for
    /// example `rank 2 on host node7`). `nil` for a process pool's worker.
    public var origin: String?

    /// Makes a remote error.
    ///
    /// - Parameters:
    ///   - jobName: The job that threw.
    ///   - typeName: The thrown error's type name.
    ///   - errorDescription: The thrown error's description.
    ///   - origin: Where the job ran, such as a rank and its host; `nil` for a local worker.
    public init(jobName: String, typeName: String, errorDescription: String, origin: String? = nil) {
        self.jobName = jobName
        self.typeName = typeName
        self.errorDescription = errorDescription
        self.origin = origin
    }

    /// Names the job, the error type, where it ran and its description.
    public var description: String {
        "job \(jobName) threw \(typeName) \(origin.map { "on \($0)" } ?? "in a worker"): \(errorDescription)"
    }
}

/// How an error travels: its type's name, its description, and its encoding when its type is registered.
package struct WireJobError: Error, Sendable, Hashable, Codable {
    package var typeName: String
    package var description: String
    package var payload: [UInt8]?

    package init(typeName: String, description: String, payload: [UInt8]?) {
        self.typeName = typeName
        self.description = description
        self.payload = payload
    }
}

/// Where the errors decoded on this thread or task come from, for executors whose workers have names worth giving
/// (a cluster's rank and host): ``JobRegistry`` puts it in the ``RemoteJobError``s it makes.
package enum RemoteOrigin {
    @TaskLocal package static var current: String?
}
