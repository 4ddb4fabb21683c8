// The cluster's workloads as a plain program, started under mpirun; its Python peer is peers/cluster_peer.py.
//
//   mpirun -n 2 ClusterTimings roundtrip   sequential submit-and-await of a tiny job
//   mpirun -n 4 ClusterTimings map         map over 200k tiny jobs
//   mpirun -n 2 ClusterTimings bytes       64 MiB to a rank and back (through shared memory, the ranks sharing a host)
//   mpirun -n 2 ClusterTimings bytes-mpi   the same through MPI alone (`sharedMemoryThreshold = nil`)
//   mpirun -n 4 ClusterTimings first       one job, for the time from mpirun's start to the first result
//
// Each prints medians; rank 0 prints, the other ranks serve.
#if MPI && os(Linux)
import Glibc
import TriadCluster
import TriadCore
import TriadProcesses

struct Square: Job {
    var value: Int
    func run() async throws -> Int { value &* value }
}

struct Bounce: Job {
    var bytes: [UInt8]
    func run() async throws -> [UInt8] { bytes }
}

MPICluster.bootstrap(jobs: [Square.self, Bounce.self])

let mode = CommandLine.arguments.dropFirst().first ?? "roundtrip"
var configuration = MPIExecutorConfiguration()
if mode == "bytes-mpi" { configuration.sharedMemoryThreshold = nil }
let executor = try MPIExecutor(configuration: configuration)

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

switch mode {
case "roundtrip":
    for index in 0..<2_000 { _ = try await executor.submit(Square(value: index)).value }
    var perJob: [Double] = []
    for _ in 0..<15 {
        let count = 2_000
        let start = ContinuousClock.now
        for index in 0..<count { _ = try await executor.submit(Square(value: index)).value }
        perJob.append(seconds(ContinuousClock.now - start) / Double(count))
    }
    print("roundtrip ranks=\(executor.workerCount + 1) median_us=\(median(perJob) * 1e6) min_us=\(perJob.min()! * 1e6)")
case "map":
    let count = 200_000
    let jobs = (0..<count).map { Square(value: $0) }
    _ = try await executor.map(jobs)
    var times: [Double] = []
    for _ in 0..<7 {
        let start = ContinuousClock.now
        let values = try await executor.map(jobs)
        times.append(seconds(ContinuousClock.now - start))
        precondition(values.count == count)
    }
    let time = median(times)
    let perSecond = Double(count) / time
    print("map ranks=\(executor.workerCount + 1) jobs=\(count) median_ms=\(time * 1e3) jobs_per_s=\(perSecond)")
case "bytes", "bytes-mpi":
    let bytes = [UInt8](repeating: 7, count: 64 << 20)
    _ = try await executor.submit(Bounce(bytes: bytes)).value
    var times: [Double] = []
    for _ in 0..<9 {
        let start = ContinuousClock.now
        let back = try await executor.submit(Bounce(bytes: bytes)).value
        times.append(seconds(ContinuousClock.now - start))
        precondition(back.count == bytes.count)
    }
    let time = median(times)
    let path = mode == "bytes" ? "" : " through MPI alone"
    print("bytes64MiB\(path) median_ms=\(time * 1e3) GB_per_s=\(Double(64 << 20) / time / 1e9)")
case "first":
    print("first \(try await executor.submit(Square(value: 7)).value)")
default:
    print("unknown mode \(mode)")
}
await executor.shutdown()
#else
print("ClusterTimings: built without the MPI trait; build with `swift build -c release --traits MPI`")
#endif
