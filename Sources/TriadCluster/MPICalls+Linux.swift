#if MPI && os(Linux)
import CMPI
import Glibc

// Every MPI call Triad makes, as thin wrappers. Only the engine's thread calls them (MPI_THREAD_FUNNELED): that
// thread initialised MPI and is the only one that touches it until it finalises.

/// Thin wrappers over the MPI calls of the engine's thread.
enum MPICalls {
    /// What `MPI_Init_thread` told this process.
    struct World {
        var rank: Int
        var size: Int
        var host: String
        /// The ranks that share this rank's node (its memory), this one included.
        var nodeRanks: Set<Int> = []
    }

    /// Initialises MPI for one thread that makes every call, and reads this process's rank, the world's size and
    /// the host's name.
    static func initialize() -> Result<World, ClusterError> {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized != 0 { return .failure(.finalized()) }
        if initialized == 0 {
            var provided: Int32 = 0
            let status = MPI_Init_thread(nil, nil, triad_mpi_thread_funneled(), &provided)
            guard status == triad_mpi_success() else { return .failure(.mpi("MPI_Init_thread", status)) }
        }
        var rank: Int32 = 0
        var size: Int32 = 0
        MPI_Comm_rank(triad_mpi_comm_world(), &rank)
        MPI_Comm_size(triad_mpi_comm_world(), &size)
        var name = [CChar](repeating: 0, count: Int(triad_mpi_max_processor_name()) + 1)
        var length: Int32 = 0
        MPI_Get_processor_name(&name, &length)
        let host = String(decoding: name.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Which ranks share this node: only they may share memory (see `ClusterLanes`).
        var nodeRanks = [Int32](repeating: -1, count: Int(size))
        let count = triad_mpi_node_ranks(&nodeRanks, size)
        let node = count > 0 ? Set(nodeRanks.prefix(Int(count)).map(Int.init)) : [Int(rank)]
        return .success(World(rank: Int(rank), size: Int(size), host: host, nodeRanks: node))
    }

    /// Starts sending `count` bytes at `bytes` to `rank` with `tag`; the bytes must stay put until ``test(_:)``
    /// says the send completed.
    static func startSend(_ bytes: UnsafeRawPointer?, count: Int, to rank: Int, tag: Int32) -> MPI_Request? {
        var request: MPI_Request? = triad_mpi_request_null()
        let status = MPI_Isend(
            bytes, Int32(count), triad_mpi_byte(), Int32(rank), tag, triad_mpi_comm_world(), &request
        )
        precondition(status == triad_mpi_success(), "MPI_Isend failed with \(status)")
        return request
    }

    /// Whether a send started by ``startSend(_:count:to:tag:)`` has completed.
    static func test(_ request: inout MPI_Request?) -> Bool {
        var flag: Int32 = 0
        MPI_Test(&request, &flag, triad_mpi_status_ignore())
        return flag != 0
    }

    /// A message waiting to be received: its source, tag and size in bytes.
    struct Probe {
        var source: Int
        var tag: Int32
        var count: Int
    }

    /// The next message waiting from any rank, without receiving it; nil when none is.
    static func probe() -> Probe? {
        var flag: Int32 = 0
        var status = MPI_Status()
        MPI_Iprobe(triad_mpi_any_source(), triad_mpi_any_tag(), triad_mpi_comm_world(), &flag, &status)
        guard flag != 0 else { return nil }
        var count: Int32 = 0
        MPI_Get_count(&status, triad_mpi_byte(), &count)
        return Probe(source: Int(status.MPI_SOURCE), tag: status.MPI_TAG, count: Int(count))
    }

    /// Receives a message of `count` bytes from `rank` with `tag` into `buffer`, waiting for it.
    static func receive(into buffer: UnsafeMutableRawPointer?, count: Int, from rank: Int, tag: Int32) {
        let status = MPI_Recv(
            buffer, Int32(count), triad_mpi_byte(), Int32(rank), tag, triad_mpi_comm_world(), triad_mpi_status_ignore()
        )
        precondition(status == triad_mpi_success(), "MPI_Recv failed with \(status)")
    }

    /// Ends MPI in this process.
    static func finalize() {
        MPI_Finalize()
    }

    /// Ends the whole run: every rank, on every host, with `code` as the exit status.
    static func abort(code: Int32) -> Never {
        MPI_Abort(triad_mpi_comm_world(), code)
        _exit(code)
    }
}
#endif
