import Benchmark
import Glibc
import TriadProcesses

// Triad's IPC against the raw limits of this machine: copying 64 MiB through a reused shared segment, a
// ProcessQueue ping-pong between two processes, and a 1-byte raw pipe round trip for reference. The other process
// is this same binary, started with TRIAD_IPC_BENCH_PEER set; it enters its role before any benchmark runs.
// To measure across CPUs, pin the runner (taskset -c 0 ...) and set TRIAD_IPC_BENCH_PEER_CPU=1 for the peers.

private let mebibytes64 = 64 << 20

let benchmarks: @Sendable () -> Void = {
    if let role = getenv("TRIAD_IPC_BENCH_PEER").map({ String(cString: $0) }) {
        runPeer(role)
    }
    Benchmark.defaultConfiguration.maxDuration = .seconds(5)

    Benchmark(
        "SharedMemory 64 MiB copy in, reused segment",
        configuration: .init(metrics: [.wallClock, .throughput], maxIterations: 200)
    ) { benchmark in
        let state = CopyState.shared
        for _ in benchmark.scaledIterations {
            state.writer.reset()
            blackHole(try state.writer.write(state.payload))
        }
    }

    Benchmark(
        "memcpy 64 MiB between private buffers (reference)",
        configuration: .init(metrics: [.wallClock, .throughput], maxIterations: 200)
    ) { benchmark in
        let state = CopyState.shared
        for _ in benchmark.scaledIterations {
            state.payload.withUnsafeBytes { source in
                state.back.withUnsafeMutableBytes { target in
                    blackHole(memcpy(target.baseAddress!, source.baseAddress!, mebibytes64))
                }
            }
        }
    }

    Benchmark(
        "SharedMemory 64 MiB copy in and out, reused segment and array",
        configuration: .init(metrics: [.wallClock, .throughput], maxIterations: 200)
    ) { benchmark in
        let state = CopyState.shared
        for _ in benchmark.scaledIterations {
            state.writer.reset()
            let (reference, _) = try state.writer.write(state.payload)
            try state.reader.read(into: &state.back, at: reference)
        }
    }

    Benchmark(
        "64 MiB to a peer and back, Pipe with shared-memory payloads",
        configuration: .init(metrics: [.wallClock, .throughput], maxIterations: 100)
    ) { benchmark in
        let peer = PayloadPeer.shared
        for _ in benchmark.scaledIterations {
            peer.writer.reset()
            try peer.pipe.send(payload: CopyState.shared.payload, using: peer.writer)
            blackHole(try peer.pipe.receivePayload([UInt8].self, using: peer.reader))
        }
    }

    Benchmark(
        "64 MiB to a peer and back, Pipe raw bytes",
        configuration: .init(metrics: [.wallClock, .throughput], maxIterations: 20)
    ) { benchmark in
        let peer = BytesPeer.shared
        for _ in benchmark.scaledIterations {
            try peer.pipe.send(bytes: CopyState.shared.payload)
            blackHole(try peer.pipe.receiveBytes())
        }
    }

    Benchmark(
        "ProcessQueue ping-pong round trip",
        configuration: .init(metrics: [.wallClock], scalingFactor: .kilo, maxDuration: .seconds(10))
    ) { benchmark in
        let peer = QueuePeer.shared
        for _ in benchmark.scaledIterations {
            try peer.requests.put(1)
            blackHole(try peer.replies.get())
        }
    }

    Benchmark(
        "Pipe (framed Int) ping-pong round trip",
        configuration: .init(metrics: [.wallClock], scalingFactor: .kilo, maxDuration: .seconds(10))
    ) { benchmark in
        let peer = FramedPipePeer.shared
        for _ in benchmark.scaledIterations {
            try peer.pipe.send(1)
            blackHole(try peer.pipe.receive(Int.self))
        }
    }

    Benchmark(
        "Raw pipe 1-byte round trip",
        configuration: .init(metrics: [.wallClock], scalingFactor: .kilo, maxDuration: .seconds(10))
    ) { benchmark in
        let peer = RawPipePeer.shared
        var byte: UInt8 = 1
        for _ in benchmark.scaledIterations {
            _ = write(peer.toPeer, &byte, 1)
            _ = read(peer.fromPeer, &byte, 1)
        }
    }
}

// MARK: State made once, so that every sample measures the steady state

/// A 64 MiB payload, a writer whose segment already holds it, a reader that maps that segment and an array to
/// copy back into: all memory faulted in before the first sample.
private final class CopyState: @unchecked Sendable {
    // @unchecked: each benchmark runs its samples on one thread at a time.
    static let shared = CopyState()
    let payload = [UInt8](repeating: 7, count: mebibytes64)
    let writer = SharedPayloadWriter()
    let reader = SharedPayloadReader()
    var back: [UInt8] = []

    init() {
        let (reference, segment) = try! writer.write(payload)
        try! reader.adopt(IPCDescriptor(rawValue: dup(segment!.memory.descriptor.rawValue)), segment: segment!.id)
        try! reader.read(into: &back, at: reference)
    }
}

// MARK: The peers

/// Spawns this binary as a peer in `role`, with `descriptors` at 3, 4, … and nothing else inherited.
private func spawnPeer(_ role: String, _ descriptors: [Int32]) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    for (index, fd) in descriptors.enumerated() { posix_spawn_file_actions_adddup2(&actions, fd, Int32(100 + index)) }
    for index in descriptors.indices {
        posix_spawn_file_actions_adddup2(&actions, Int32(100 + index), Int32(3 + index))
    }
    // Nothing else reaches the peer: in particular not the benchmark runner's pipes to its host.
    for fd in Int32(3)..<1024 where !descriptors.contains(fd) { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    let arguments = [strdup("/proc/self/exe"), nil]
    let environment = [strdup("TRIAD_IPC_BENCH_PEER=\(role)"), strdup("SWIFT_BACKTRACE=enable=no"), nil]
    var pid: pid_t = 0
    let result: Int32
    if let cpu = getenv("TRIAD_IPC_BENCH_PEER_CPU").map({ String(cString: $0) }) {
        // Pinned with taskset, which runs this binary by its real path.
        var path = [CChar](repeating: 0, count: 4096)
        _ = readlink("/proc/self/exe", &path, path.count - 1)
        let pinned = [strdup("/usr/bin/taskset"), strdup("-c"), strdup(cpu), strdup(path), nil]
        result = posix_spawn(&pid, "/usr/bin/taskset", &actions, nil, pinned, environment)
    } else {
        result = posix_spawn(&pid, "/proc/self/exe", &actions, nil, arguments, environment)
    }
    precondition(result == 0, "cannot spawn the benchmark peer: errno \(result)")
    return pid
}

private final class QueuePeer: Sendable {
    static let shared = QueuePeer()
    let requests: ProcessQueue<Int>
    let replies: ProcessQueue<Int>
    init() {
        requests = try! ProcessQueue<Int>.anonymous(maxSize: 4, slotSize: 64)
        replies = try! ProcessQueue<Int>.anonymous(maxSize: 4, slotSize: 64)
        _ = spawnPeer("queue", [requests.descriptor.rawValue, replies.descriptor.rawValue])
    }
}

private final class FramedPipePeer: Sendable {
    static let shared = FramedPipePeer()
    let pipe: Pipe
    init() {
        let (mine, theirs) = try! Pipe.duplex()
        _ = spawnPeer("pipe", [theirs.descriptor.rawValue])
        theirs.close()
        pipe = mine
    }
}

private final class PayloadPeer: @unchecked Sendable {
    // @unchecked: the writer and reader are used by one benchmark, one sample at a time.
    static let shared = PayloadPeer()
    let pipe: Pipe
    let writer = SharedPayloadWriter()
    let reader = SharedPayloadReader()
    init() {
        let (mine, theirs) = try! Pipe.duplex()
        _ = spawnPeer("payload", [theirs.descriptor.rawValue])
        theirs.close()
        pipe = mine
    }
}

private final class BytesPeer: Sendable {
    static let shared = BytesPeer()
    let pipe: Pipe
    init() {
        let (mine, theirs) = try! Pipe.duplex(maxFrameSize: 2 * mebibytes64)
        _ = spawnPeer("bytes", [theirs.descriptor.rawValue])
        theirs.close()
        pipe = mine
    }
}

private final class RawPipePeer: Sendable {
    static let shared = RawPipePeer()
    let toPeer: Int32
    let fromPeer: Int32
    init() {
        var there: [Int32] = [0, 0]
        var back: [Int32] = [0, 0]
        pipe(&there)
        pipe(&back)
        _ = spawnPeer("raw", [there[0], back[1]])
        close(there[0])
        close(back[1])
        toPeer = there[1]
        fromPeer = back[0]
    }
}

/// The peer's side: echo until the parent goes away.
private func runPeer(_ role: String) -> Never {
    let parent = getppid()

    switch role {
    case "queue":
        let requests = try! ProcessQueue<Int>(inheriting: IPCDescriptor(rawValue: 3))
        let replies = try! ProcessQueue<Int>(inheriting: IPCDescriptor(rawValue: 4))
        while getppid() == parent {
            guard let value = try? requests.get(timeout: .seconds(1)) else { continue }
            try! replies.put(value + 1)
        }
    case "payload":
        // Receives a payload, reads it out of shared memory, and sends it back the same way.
        let pipe = try! Pipe(inheriting: IPCDescriptor(rawValue: 3))
        let reader = SharedPayloadReader()
        let writer = SharedPayloadWriter()
        while let bytes = try? pipe.receivePayload([UInt8].self, using: reader) {
            writer.reset()
            try? pipe.send(payload: bytes, using: writer)
        }
    case "bytes":
        let pipe = try! Pipe(inheriting: IPCDescriptor(rawValue: 3), maxFrameSize: 2 * mebibytes64)
        while let bytes = try? pipe.receiveBytes() {
            try? pipe.send(bytes: bytes)
        }
    case "pipe":
        let pipe = try! Pipe(inheriting: IPCDescriptor(rawValue: 3))
        while let value = try? pipe.receive(Int.self) {
            try? pipe.send(value + 1)
        }
    default:
        var byte: UInt8 = 0
        while read(3, &byte, 1) == 1 {
            _ = write(4, &byte, 1)
        }
    }
    exit(0)
}
