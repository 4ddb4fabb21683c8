/// Where a submitted job is in its life: pending, running, or in one of the three final states.
///
/// The set of states is open to growth, so switch over it with a `default` case.
public struct JobState: Hashable, Sendable, CustomStringConvertible {
    private enum Base: UInt8, Hashable, Sendable {
        case pending, running, succeeded, failed, cancelled
    }

    private let base: Base

    /// Submitted, but no worker has started it yet. Cancelling it now removes it without running it.
    public static let pending = JobState(base: .pending)
    /// A worker is running it.
    public static let running = JobState(base: .running)
    /// It finished and produced a value.
    public static let succeeded = JobState(base: .succeeded)
    /// It finished with an error: its own, a timeout, or the loss of its worker.
    public static let failed = JobState(base: .failed)
    /// It was cancelled before it could finish.
    public static let cancelled = JobState(base: .cancelled)

    /// Whether the state is final: succeeded, failed or cancelled.
    public var isFinished: Bool { base.rawValue >= Base.succeeded.rawValue }

    /// The state's name, such as `running`.
    public var description: String {
        switch base {
        case .pending: "pending"
        case .running: "running"
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .cancelled: "cancelled"
        }
    }
}
