import Foundation
import Glibc
import TriadCore
import TriadProcesses

// Jobs the Process tests run in a child process of their own. They talk to the parent through the descriptors it
// passed: a Pipe end, a ProcessQueue, a SharedMemory segment.

/// Receives an Int on the passed pipe, sends it back plus one, sends "goodbye", and returns the Int.
public struct PipeTalk: Job {
    public init() {}
    public func run() async throws -> Int {
        let pipe = try Pipe(inheriting: .passed(0))
        let value = try await pipe.receive(Int.self, timeout: .seconds(600))
        try await pipe.send(value + 1)
        try await pipe.send("goodbye")
        return value
    }
}

/// Tells the parent over the passed pipe (descriptor 1) that it is about to block, then gets from the passed queue
/// (descriptor 0) and returns the value.
public struct QueueTake: Job {
    public init() {}
    public func run() async throws -> Int {
        let queue = try ProcessQueue<Int>(inheriting: .passed(0))
        let pipe = try Pipe(inheriting: .passed(1))
        try await pipe.send(getpid())
        return try await queue.get()
    }
}

/// Receives one value from the passed queue (descriptor 0) without acknowledging it, reports it over the passed
/// pipe (descriptor 1), and waits to be killed.
public struct QueueHold: Job {
    public init() {}
    public func run() async throws -> Int {
        let queue = try ProcessQueue<Int>(inheriting: .passed(0))
        let pipe = try Pipe(inheriting: .passed(1))
        let delivery = try await queue.receive(timeout: .seconds(600))
        try await pipe.send(delivery.value)
        while true { sleep(1000) }
    }
}

/// Doubles every element of the passed SharedArray<Double> segment and returns their sum.
public struct DoubleShared: Job {
    public init() {}
    public func run() async throws -> Double {
        let array = try SharedArray<Double>(openingIn: SharedMemory(adopting: .passed(0)))
        var sum = 0.0
        for index in array.indices {
            array[index] *= 2
            sum += array[index]
        }
        return sum
    }
}

/// Returns how many descriptors the parent passed.
public struct CountPassed: Job {
    public init() {}
    public func run() async throws -> Int { IPCDescriptor.passed.count }
}

/// Runs CountPassed in a grandchild Process that is passed nothing, and returns its count.
public struct CountPassedInGrandchild: Job {
    public init() {}
    public func run() async throws -> Int {
        let grandchild = Process(CountPassed())
        try grandchild.start()
        return try await grandchild.value
    }
}

/// Starts a grandchild Process that naps for a minute, reports its pid on the passed pipe, then waits forever: the
/// middle of the no-orphan test.
public struct StartGrandchild: Job {
    public init() {}
    public func run() async throws -> Int32 {
        let pipe = try Pipe(inheriting: .passed(0))
        let grandchild = Process(Nap(milliseconds: 60_000))
        try grandchild.start()
        while grandchild.pid == nil { usleep(2_000) }
        try await pipe.send(grandchild.pid!)
        while true { sleep(1000) }
    }
}

/// Multiplies every value: a large array in, a large array out.
public struct ScaleDoubles: Job {
    public var values: [Double]
    public var factor: Double
    public init(_ values: [Double], by factor: Double) {
        self.values = values
        self.factor = factor
    }
    public func run() async throws -> [Double] { values.map { $0 * factor } }
}

/// Returns `count` bytes counting up from 0, after a pause: a small job with a large output.
public struct MakeBytes: Job {
    public var count: Int
    public var milliseconds: Int
    public init(count: Int, milliseconds: Int = 0) {
        self.count = count
        self.milliseconds = milliseconds
    }
    public func run() async throws -> [UInt8] {
        if milliseconds > 0 { usleep(UInt32(milliseconds) * 1000) }
        return (0..<count).map { UInt8(truncatingIfNeeded: $0) }
    }
}

/// Creates the file at `marker` once its large input has arrived, holds it for a while, then returns its size: a
/// worker to kill while a job is surely running.
public struct HoldBytes: Job {
    public var bytes: [UInt8]
    public var milliseconds: Int
    public var marker: String
    public init(_ bytes: [UInt8], milliseconds: Int, marker: String) {
        self.bytes = bytes
        self.milliseconds = milliseconds
        self.marker = marker
    }
    public func run() async throws -> Int {
        close(open(marker, O_CREAT | O_WRONLY, 0o600))
        usleep(UInt32(milliseconds) * 1000)
        return bytes.count
    }
}

/// Several large arrays and small fields in one job: returns itself, so every field must survive both ways.
public struct MixedPayload: Job, Equatable {
    public var name: String
    public var bytes: [UInt8]
    public var values: [Double]
    public var small: [Int32]
    public var tail: [UInt16]
    public var blob: Data
    public init(name: String, bytes: [UInt8], values: [Double], small: [Int32], tail: [UInt16], blob: Data = Data()) {
        self.name = name
        self.bytes = bytes
        self.values = values
        self.small = small
        self.tail = tail
        self.blob = blob
    }
    public func run() async throws -> MixedPayload { self }
}

/// Ends its worker with a fatal error once its large input has arrived.
public struct CrashWithBytes: Job {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public func run() async throws -> Int {
        fatalError("a test job with \(bytes.count) bytes asked for a crash")
    }
}

/// Writes a frame about shared lanes that the parent must refuse straight into the worker's ring of results.
public struct LaneSabotage: Job {
    public enum Kind: String, Codable, Sendable {
        /// A reference to bytes far past the end of the lane.
        case outsideLane
        /// A reference whose payload has the wrong size.
        case malformedReference
        /// A frame whose kind claims its payload was left in place, which only the parent itself may make.
        case mappedKind
    }
    public var kind: Kind
    public init(_ kind: Kind) { self.kind = kind }
    public func run() async throws -> Int {
        var bytes: [UInt8] = []
        switch kind {
        case .outsideLane:
            Frame.appendHeader(kind: 6, length: 24, to: &bytes)
            for field: UInt64 in [5, 1 << 40, 4096] { withUnsafeBytes(of: field.littleEndian) { bytes += $0 } }
        case .malformedReference:
            Frame.appendHeader(kind: 6, length: 8, to: &bytes)
            bytes += [UInt8](repeating: 0, count: 8)
        case .mappedKind:
            Frame.appendHeader(kind: 0x85, length: 16, to: &bytes)
            bytes += [UInt8](repeating: 0x41, count: 16)
        }
        WorkerRingTesting.writeRaw(bytes)
        sleep(10)
        return 0
    }
}

/// The Process test jobs.
public enum ProcessTestJobs {
    public static let all: [any Job.Type] = [
        PipeTalk.self, QueueTake.self, DoubleShared.self, CountPassed.self, StartGrandchild.self,
        ScaleDoubles.self, MakeBytes.self, HoldBytes.self, QueueHold.self,
        CountPassedInGrandchild.self, MixedPayload.self, CrashWithBytes.self, LaneSabotage.self,
    ]
}
