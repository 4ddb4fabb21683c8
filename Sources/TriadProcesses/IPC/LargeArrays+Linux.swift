import TriadCore

#if os(Linux)
import CTriadShims
#endif

/// Fresh large byte arrays made the way the pool's codec makes the large arrays it decodes: on Linux, with
/// transparent huge pages asked for before the first write, so that filling 64 MiB costs 32 page faults rather
/// than 16,384. For measurements that set the pool against a raw reference, which must pay the same page faults.
package enum LargeArrays {
    #if os(Linux)
    /// Has the codec ask for transparent huge pages for every large array it decodes in this process, as a pool
    /// and its workers do: for a transport of its own (the cluster's) that moves large payloads.
    package static func preferHugePages() {
        SharedFrameLanes.prepareLargeArrays
    }
    #endif

    /// A new array of `count` bytes, which `fill` must write in full before it returns.
    ///
    /// - Parameters:
    ///   - count: The array's length.
    ///   - fill: Writes every byte of the array's uninitialized storage.
    package static func make(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            #if os(Linux)
            if count >= WireLargeBuffers.minimumBytes { triad_ipc_advise_huge_pages(raw.baseAddress, raw.count) }
            #endif
            fill(raw)
            initialized = count
        }
    }
}
