#if os(Linux)
import Glibc
import Synchronization
import TriadCore
import TriadProcesses

// Large frames between ranks of one machine travel through shared memory, as between a process pool and its
// workers: MPI's own copy between processes (CMA) pins and copies page by page, and the receiver then decodes into
// a fresh array that the kernel must zero, which made a 64 MiB round trip twice as slow as the pool's. Each pair of
// rank 0 and a worker rank gets the pool's two lanes (`SharedFrameLanes`): growable memfds, one written by each
// side. Ranks do not start each other, so nothing is inherited: each side opens the other's memfd through
// /proc/<pid>/fd/<n>, which works only on the same machine and for the same user, and that is the test of whether
// lanes can be used at all. Each lane holds a random token that the opener checks, since on another machine a
// process of the same pid could hold a lane at the same number. Nothing is named in /dev/shm, so a rank that dies
// leaves nothing behind.
//
// Setting up, in order:
// 1. Rank 0 makes a lane for each worker rank of its node (MPI's `MPI_COMM_TYPE_SHARED` split, found at start) and
//    names it in that rank's `RankConfiguration`.
// 2. The worker rank opens it, makes its own lane, and answers with a `RankLanes` naming its lane (or -1).
// 3. Rank 0 opens that one and answers with a `RankLanes` that says whether it could. From then on rank 0 sends
//    large frames through its lane; the worker does too once it has read the answer.
// Until a side may send through lanes, its large frames go through MPI as before, so a step that fails only means
// that the pair keeps using MPI. Frames that arrive through a lane are read in place and counted as read when the
// message that referred to them goes (see `InboundFrames`).

/// The shared-memory lanes of this rank, by peer rank.
final class ClusterLanes: Sendable {
    private struct Peer {
        /// This rank's lane to the peer, made but not yet part of lanes (rank 0, waiting for the worker's answer).
        var offered: Int32?
        var lanes: SharedFrameLanes?
        /// Whether this side may send through the lanes: the peer has opened this side's lane.
        var sendThrough = false
    }

    private let peers = Mutex<[Int: Peer]>([:])
    private let sent = Atomic<Int>(0)
    private let received = Atomic<Int>(0)

    /// Messages this rank has sent with frames in a lane, and received with frames in one, so far.
    var messagesThroughLanes: (sent: Int, received: Int) {
        (sent.load(ordering: .relaxed), received.load(ordering: .relaxed))
    }

    /// Counts a message received with frames in a lane.
    func countReceived() {
        received.add(1, ordering: .relaxed)
    }

    /// Makes a lane of this process for `rank` (step 1), or returns nil if the system refused one.
    func offer(to rank: Int) -> LaneOffer? {
        guard let (fd, offer) = Self.makeLane() else { return nil }
        peers.withLock { $0[rank, default: Peer()].offered = fd }
        return offer
    }

    /// Opens the lane `rank` offered and makes this side's (step 2); returns this side's lane, or nil when lanes
    /// cannot be used with that peer.
    func accept(from rank: Int, offer: LaneOffer, threshold: Int, maxPayload: Int) -> LaneOffer? {
        guard let readFD = Self.open(offer) else { return nil }
        guard let (writeFD, answer) = Self.makeLane() else {
            SharedFrameLanes.closeLane(readFD)
            return nil
        }
        let lanes = SharedFrameLanes(writeFD: writeFD, readFD: readFD, threshold: threshold, maxPayload: maxPayload)
        peers.withLock { $0[rank] = Peer(lanes: lanes) }
        return answer
    }

    /// Opens the lane the worker rank `rank` answered with, joining it to the lane offered to it (step 3).
    /// Returns whether the pair now has lanes; if not, the offered lane is closed.
    func complete(with rank: Int, answer: LaneOffer?, threshold: Int, maxPayload: Int) -> Bool {
        let offered = peers.withLock { $0.removeValue(forKey: rank)?.offered }
        guard let offered else { return false }
        guard let answer, let readFD = Self.open(answer) else {
            SharedFrameLanes.closeLane(offered)
            return false
        }
        let lanes = SharedFrameLanes(writeFD: offered, readFD: readFD, threshold: threshold, maxPayload: maxPayload)
        peers.withLock { $0[rank] = Peer(lanes: lanes, sendThrough: true) }
        return true
    }

    /// Takes rank 0's answer (step 3, on the worker rank): sends through the lanes from now on, or drops them.
    func confirm(with rank: Int, accepted: Bool) {
        let dropped = peers.withLock { peers -> SharedFrameLanes? in
            if accepted {
                peers[rank]?.sendThrough = true
                return nil
            }
            return peers.removeValue(forKey: rank)?.lanes
        }
        dropped?.close()
    }

    /// The lanes shared with `rank`, to read the frames it moved there.
    func lanes(from rank: Int) -> SharedFrameLanes? {
        peers.withLock { $0[rank]?.lanes }
    }

    /// `outbound`, with its large frames moved into the lane to its rank when this side may send through one.
    func route(_ outbound: Outbound) -> Outbound {
        guard let message = outbound.frames,
            let lanes = peers.withLock({ $0[outbound.rank].flatMap { $0.sendThrough ? $0.lanes : nil } })
        else { return outbound }
        let (moved, count) = lanes.externalizeCounting(message)
        guard count > 0 else { return outbound }
        sent.add(1, ordering: .relaxed)
        return Outbound(rank: outbound.rank, frames: moved, timeoutNanoseconds: outbound.timeoutNanoseconds)
    }

    /// Whether this side sends through lanes to `rank`.
    func sendsThroughLanes(to rank: Int) -> Bool {
        peers.withLock { $0[rank]?.sendThrough ?? false }
    }

    /// A fresh lane with a fresh token: its descriptor, and the offer that names it to a peer.
    private static func makeLane() -> (Int32, LaneOffer)? {
        let token = SharedFrameLanes.makeToken()
        guard case .success(let fd) = SharedFrameLanes.makeLane(token: token) else { return nil }
        return (fd, LaneOffer(pid: getpid(), fd: fd, token: token))
    }

    /// The peer's lane that `offer` names, opened and checked, or nil.
    private static func open(_ offer: LaneOffer) -> Int32? {
        let opened = SharedFrameLanes.openPeerLane(pid: offer.pid, descriptor: offer.fd, token: offer.token)
        guard case .success(let fd) = opened else { return nil }
        return fd
    }

    /// Closes every lane, once MPI is finalised and no message is read any more.
    func closeAll() {
        let all = peers.withLock { peers -> [Peer] in
            defer { peers = [:] }
            return Array(peers.values)
        }
        for peer in all {
            peer.lanes?.close()
            if let offered = peer.offered { SharedFrameLanes.closeLane(offered) }
        }
    }
}
#endif
