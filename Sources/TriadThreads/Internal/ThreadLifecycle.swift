/// The state machine of a ``Thread``: created, then started, running and finished.
struct ThreadLifecycle<Value: Sendable> {
    enum Phase: Equatable {
        case created, starting, running, finished
    }

    private(set) var phase = Phase.created
    private(set) var nativeID: Int32?
    private(set) var result: Result<Value, any Error>?

    var isAlive: Bool { phase == .starting || phase == .running }

    mutating func start() {
        precondition(phase == .created, "a thread starts once")
        phase = .starting
    }

    mutating func failToStart() {
        phase = .created
    }

    mutating func run(nativeID: Int32) {
        self.nativeID = nativeID
        phase = .running
    }

    mutating func finish(_ outcome: Result<Value, any Error>) {
        result = outcome
        phase = .finished
    }
}
