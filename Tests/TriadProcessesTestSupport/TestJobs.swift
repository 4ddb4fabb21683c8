import Glibc
import Synchronization
import TriadCore
import TriadProcesses

// Jobs the process pool tests run in real worker processes. Both the test runner and the test worker executable
// register them, so their names agree on both sides.

/// Returns the square of its input.
public struct Square: Job {
    public var value: Int
    public init(_ value: Int) { self.value = value }
    public func run() async throws -> Int { value * value }
}

/// Returns the square of its input, through its own wire functions instead of `Codable`'s. A negative input
/// encodes but fails to decode in the worker.
public struct FastSquare: Job, WireCodable {
    public var value: Int
    public init(_ value: Int) { self.value = value }
    public func run() async throws -> Int { value * value }
    public func encode(to writer: inout WireWriter) { writer.write(value) }
    public init(from reader: inout WireReader) throws(WireError) {
        value = try reader.read(Int.self)
        guard value >= 0 else { throw WireError(.invalidValue, "FastSquare takes no negative numbers") }
    }
}

/// A quick job that doubles its value, or kills its own worker, or sleeps first: one job type for bursts of tiny
/// jobs that the pool sends in batches, with the odd one that crashes or runs long among them.
public struct Burst: Job {
    public enum Action: String, Codable, Sendable { case double, crash, sleep }
    public var value: Int
    public var action: Action
    public var milliseconds: Int
    public init(_ value: Int, _ action: Action = .double, milliseconds: Int = 0) {
        self.value = value
        self.action = action
        self.milliseconds = milliseconds
    }
    public func run() async throws -> Int {
        switch action {
        case .double: break
        case .crash: kill(getpid(), SIGKILL)
        case .sleep: usleep(UInt32(milliseconds) * 1000)
        }
        return value * 2
    }
}

/// Returns its bytes unchanged: the raw-bytes path.
public struct Echo: Job {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public func run() async throws -> [UInt8] { bytes }
}

/// Returns the worker's process id.
public struct WhoAmI: Job {
    public init() {}
    public func run() async throws -> Int32 { getpid() }
}

/// Sleeps, then returns the worker's process id.
public struct Nap: Job {
    public var milliseconds: Int
    public init(milliseconds: Int) { self.milliseconds = milliseconds }
    public func run() async throws -> Int32 {
        usleep(UInt32(milliseconds) * 1000)
        return getpid()
    }
}

/// Spins forever.
public struct Runaway: Job {
    public init() {}
    public func run() async throws -> Int {
        let counter = Atomic<Int>(0)
        while true { counter.add(1, ordering: .relaxed) }
    }
}

/// Ends its worker in one of several ways.
public struct Crash: Job {
    public enum Kind: String, Codable, Sendable { case fatalError, segmentationFault, exit3, abort }
    public var kind: Kind
    public init(_ kind: Kind) { self.kind = kind }
    public func run() async throws -> Int {
        switch kind {
        case .fatalError:
            fatalError("a test job asked for a crash")
        case .segmentationFault:
            let pointer = UnsafeMutablePointer<Int>(bitPattern: 0x10)!
            pointer.pointee = 42
            return pointer.pointee
        case .exit3:
            exit(3)
        case .abort:
            abort()
        }
    }
}

/// Starts a process that outlives the job, writes its pid to `pidFile`, then either returns or kills its own
/// worker. The offspring holds whatever descriptors it inherited until the test kills it (or, at the latest,
/// two minutes pass).
public struct StartOffspring: Job {
    public enum Kind: String, Codable, Sendable {
        /// `fork` without `exec`: the child holds every descriptor of the worker, close-on-exec or not.
        case fork
        /// `posix_spawn` of `/bin/sleep`: the child holds only what is not close-on-exec.
        case spawn
    }
    public var kind: Kind
    public var pidFile: String
    /// Whether the worker kills itself with SIGKILL once the offspring runs.
    public var killWorker: Bool
    public init(_ kind: Kind, pidFile: String, killWorker: Bool) {
        self.kind = kind
        self.pidFile = pidFile
        self.killWorker = killWorker
    }
    public func run() async throws -> Int32 {
        var pid: pid_t = 0
        switch kind {
        case .fork:
            pid = fork()
            if pid == 0 {
                // Only async-signal-safe calls in the child of a threaded process.
                alarm(120)
                while true { pause() }
            }
        case .spawn:
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("120"), nil]
            defer { for pointer in argv { free(pointer) } }
            guard posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0 else { return -1 }
        }
        let text = "\(pid)"
        guard let file = fopen(pidFile + ".partial", "w") else { return -1 }
        fputs(text, file)
        fclose(file)
        rename(pidFile + ".partial", pidFile)
        if killWorker { kill(getpid(), SIGKILL) }
        return pid
    }
}

/// An error type registered on both sides, so it comes back as itself.
public struct TestFailure: Error, Codable, Hashable, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// An error type that is not registered, so it comes back as a remote error.
public struct UnregisteredFailure: Error, Codable, Sendable {
    public var code: Int
}

/// Throws one of the two test errors.
public struct Throw: Job {
    public var registered: Bool
    public init(registered: Bool) { self.registered = registered }
    public func run() async throws -> Int {
        if registered { throw TestFailure(reason: "as asked") }
        throw UnregisteredFailure(code: 7)
    }
}

/// Returns 1, or throws the registered test error when asked to.
public struct MaybeFail: Job {
    public var fail: Bool
    public init(fail: Bool) { self.fail = fail }
    public func run() async throws -> Int {
        if fail { throw TestFailure(reason: "as asked") }
        return 1
    }
}

/// Encodes fine, but its decoding always fails in the worker.
public struct Undecodable: Job {
    public var value: Int
    public init(value: Int) { self.value = value }
    public init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "this job never decodes"))
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
    public func run() async throws -> Int { value }
}

/// Writes bytes straight into the worker's ring of results to its parent, breaking the protocol.
public struct Sabotage: Job {
    public enum Kind: String, Codable, Sendable {
        case garbage, oversizedFrame, truncatedFrame
        /// Publishes a position in the ring of results that no ring of its size can have.
        case impossibleRingPosition
        /// Writes the start of a 1 MiB result frame into the ring, then dies by SIGKILL in the middle of it.
        case killedMidFrame
    }
    public var kind: Kind
    public init(_ kind: Kind) { self.kind = kind }
    public func run() async throws -> Int {
        var bytes: [UInt8]
        switch kind {
        case .garbage:
            bytes = Array("this is not a Triad frame at all".utf8)
        case .oversizedFrame:
            // A valid header that announces a payload of almost 4 GiB.
            bytes = [0x54, 0x52, 0x44, 1, 4, 0, 0, 0, 0xF0, 0xFF, 0xFF, 0xFF]
        case .truncatedFrame:
            bytes = [0x54, 0x52, 0x44, 1, 4, 0, 0, 0, 12, 0, 0, 0, 1, 2]
        case .impossibleRingPosition:
            WorkerRingTesting.corruptPosition()
            sleep(10)
            return 0
        case .killedMidFrame:
            // A data frame of 1 MiB, of which only the header and 3000 bytes are written.
            bytes = []
            Frame.appendHeader(kind: 5, length: 1 << 20, to: &bytes)
            bytes += [UInt8](repeating: 0x5A, count: 3000)
            WorkerRingTesting.writeRaw(bytes)
            kill(getpid(), SIGKILL)
            sleep(10)
            return 0
        }
        WorkerRingTesting.writeRaw(bytes)
        if kind == .truncatedFrame { exit(0) }
        sleep(10)
        return 0
    }
}

/// Allocates and touches `megabytes` of memory, holds it for a while, and returns.
public struct Hog: Job {
    public var megabytes: Int
    public init(megabytes: Int) { self.megabytes = megabytes }
    public func run() async throws -> Int {
        let count = megabytes << 20
        let memory = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 4096)
        defer { memory.deallocate() }
        memset(memory, 1, count)
        usleep(500_000)
        return count
    }
}

private let marker = Mutex<String?>(nil)

/// A worker initializer: remembers a value in the worker.
public struct SetMarker: Job {
    public var value: String
    public init(_ value: String) { self.value = value }
    public func run() async throws -> Bool {
        if value == "fail" { throw TestFailure(reason: "the initializer was asked to fail") }
        marker.withLock { $0 = value }
        return true
    }
}

/// Returns the value the initializer remembered.
public struct ReadMarker: Job {
    public init() {}
    public func run() async throws -> String? { marker.withLock { $0 } }
}

/// Creates the file at `path` once it runs, then sleeps like `Nap`: a test waits for the file to know the job has
/// started in its worker, not just been sent there.
public struct NapMarked: Job {
    public var path: String
    public var milliseconds: Int
    public init(path: String, milliseconds: Int) {
        self.path = path
        self.milliseconds = milliseconds
    }
    public func run() async throws -> Int32 {
        close(open(path, O_CREAT | O_WRONLY, 0o600))
        usleep(UInt32(milliseconds) * 1000)
        return getpid()
    }

    /// A fresh path for the marker file, which does not exist yet.
    public static func freshPath() -> String {
        "/tmp/triad-started-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    }

    /// Whether the job has started.
    public static func hasStarted(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

/// Waits in its worker until the file at `path` exists, then returns the worker's pid: a job that ends when the
/// test says so, however fast or slow the machine.
public struct AwaitFile: Job {
    public var path: String
    public init(path: String) { self.path = path }
    public func run() async throws -> Int32 {
        while access(path, F_OK) != 0 { usleep(1_000) }
        return getpid()
    }

    /// Creates the file the job waits for.
    public static func open(_ path: String) { close(Glibc.open(path, O_CREAT | O_WRONLY, 0o600)) }
}

/// Every job and error type of the tests.
public enum TestJobs {
    public static let all: [any Job.Type] = [
        Square.self, Echo.self, WhoAmI.self, Nap.self, Runaway.self, Crash.self, Throw.self, Undecodable.self,
        Sabotage.self, Hog.self, SetMarker.self, ReadMarker.self, MaybeFail.self, FastSquare.self, Burst.self,
        StartOffspring.self, NapMarked.self, AwaitFile.self,
    ]
    public static let errors: [any (Error & Codable).Type] = [TestFailure.self]
}
