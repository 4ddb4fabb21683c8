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

    /// Makes a remote error.
    public init(jobName: String, typeName: String, errorDescription: String) {
        self.jobName = jobName
        self.typeName = typeName
        self.errorDescription = errorDescription
    }

    /// Names the job, the error type and its description.
    public var description: String {
        "job \(jobName) threw \(typeName) in a worker: \(errorDescription)"
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
