#if os(Linux)
import CTriadShims
/// Where a large payload lies in shared memory. It is small and `Codable`, so a message can carry it in place of
/// the payload's bytes.
public struct SharedPayloadReference: Codable, Sendable, Hashable {
    /// The segment, as numbered by the ``SharedPayloadWriter`` that wrote it.
    public var segment: UInt64
    /// The payload's first byte in the segment.
    public var offset: Int
    /// The payload's size in bytes.
    public var byteCount: Int

    /// Makes a reference.
    public init(segment: UInt64, offset: Int, byteCount: Int) {
        self.segment = segment
        self.offset = offset
        self.byteCount = byteCount
    }
}

/// The sending side of large payloads through shared memory: copies arrays into reusable anonymous segments and
/// hands back small references to send instead of the bytes.
///
/// The protocol, for a sender and a receiver joined by a duplex ``Pipe``:
/// 1. `let (reference, newSegment) = try writer.write(bytes)`.
/// 2. If `newSegment` is not `nil`, send its descriptor first:
///    `try pipe.send(descriptor: newSegment.memory.descriptor, tag: newSegment.id)`; the receiver calls
///    ``SharedPayloadReader/adopt(_:segment:)`` with what it receives.
/// 3. Send `reference` in a message; the receiver calls ``SharedPayloadReader/read(_:at:)``.
/// 4. Once the receiver has read every payload written since the last reset, call ``reset()`` and the writer
///    reuses its segment from the start: a steady stream of payloads costs one copy in and one copy out, with no
///    system call.
///
/// The writer appends payloads one after another; when one does not fit it makes a larger segment (at least twice
/// the size), which it returns as `newSegment`. A `SharedPayloadWriter` is not `Sendable`: use it from one thread.
public final class SharedPayloadWriter {
    /// A segment the writer made, with the number that references to it carry.
    public struct Segment {
        /// The number references carry.
        public let id: UInt64
        /// The segment.
        public let memory: SharedMemory
    }

    private var current: Segment?
    private var retired: [Segment] = []
    private var offset = 0
    private var nextID: UInt64 = 1

    /// Makes a writer. It makes its first segment at the first write.
    public init() {}

    /// The segment being written, if any.
    public var currentSegment: Segment? { current }

    /// Copies a payload into shared memory.
    ///
    /// - Parameter elements: The payload, an array of any `BitwiseCopyable` type, such as `[UInt8]` or `[Double]`.
    /// - Returns: The reference to send, and the segment whose descriptor must be sent first if it is new.
    /// - Throws: ``IPCError/Code/systemCallFailed`` if a new segment cannot be made.
    public func write<Element: BitwiseCopyable>(
        _ elements: [Element]
    ) throws(IPCError) -> (reference: SharedPayloadReference, newSegment: Segment?) {
        try elements.withUnsafeBytes { bytes in Result { () throws(IPCError) in try write(bytes: bytes) } }.get()
    }

    /// Copies raw bytes into shared memory; as ``write(_:)``.
    public func write(
        bytes: UnsafeRawBufferPointer
    ) throws(IPCError) -> (reference: SharedPayloadReference, newSegment: Segment?) {
        let start = (offset + 63) & ~63
        var made: Segment?
        if current == nil || start + bytes.count > current!.memory.count {
            if let current { retired.append(current) }
            let size = max(bytes.count, 1 << 20, 2 * (current?.memory.count ?? 0))
            let segment = Segment(id: nextID, memory: try SharedMemory.anonymous(count: (size + 4095) & ~4095))
            nextID += 1
            current = segment
            offset = 0
            made = segment
        }
        let segment = current!
        let at = made == nil ? start : 0
        if bytes.count > 0 {
            (segment.memory.baseAddress + at).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        offset = at + bytes.count
        return (SharedPayloadReference(segment: segment.id, offset: at, byteCount: bytes.count), made)
    }

    /// Starts writing again from the start of the current segment, and releases older segments. Call it only
    /// once the receiver has read every payload written so far.
    ///
    /// - Returns: The numbers of the released segments, which the receiver may
    ///   ``SharedPayloadReader/forget(segment:)``.
    @discardableResult
    public func reset() -> [UInt64] {
        let ids = retired.map(\.id)
        for segment in retired { segment.memory.release() }
        retired = []
        offset = 0
        return ids
    }
}

/// The receiving side of large payloads through shared memory: maps the segments a ``SharedPayloadWriter`` sent
/// and copies payloads out of them. Not `Sendable`: use it from one thread.
public final class SharedPayloadReader {
    private var segments: [UInt64: SharedMemory] = [:]
    private static let hugePageThreshold = 8 << 20

    /// Makes a reader with no segments.
    public init() {}

    /// Maps a segment received with ``Pipe/receiveDescriptor(timeout:)``, under the writer's number for it; takes
    /// ownership of the descriptor.
    ///
    /// - Throws: ``IPCError/Code/invalidSegment`` if the descriptor cannot be mapped.
    public func adopt(_ descriptor: IPCDescriptor, segment id: UInt64) throws(IPCError) {
        segments[id] = try SharedMemory(adopting: descriptor)
    }

    /// Unmaps a segment the writer released.
    public func forget(segment id: UInt64) {
        segments.removeValue(forKey: id)?.release()
    }

    /// Copies a payload out of shared memory into a new array.
    ///
    /// - Parameters:
    ///   - type: The array type the writer wrote, such as `[Double].self`.
    ///   - reference: The reference the writer sent.
    /// - Throws: ``IPCError/Code/invalidSegment`` if the segment is unknown, or the reference does not fit in it
    ///   or in whole elements.
    public func read<Element: BitwiseCopyable>(
        _ type: [Element].Type,
        at reference: SharedPayloadReference
    ) throws(IPCError) -> [Element] {
        let source = try bytes(at: reference, elementSize: MemoryLayout<Element>.stride)
        let count = reference.byteCount / MemoryLayout<Element>.stride
        return [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            let target = UnsafeMutableRawBufferPointer(buffer)
            // A fresh multi-megabyte array costs a page fault per 4 KiB when first written, more than the copy.
            if target.count >= Self.hugePageThreshold { triad_ipc_advise_huge_pages(target.baseAddress, target.count) }
            target.copyMemory(from: source)
            initialized = count
        }
    }

    /// Copies a payload out of shared memory into an existing array, replacing its contents; reusing the array
    /// avoids allocating and faulting in fresh memory for every payload.
    ///
    /// - Throws: As ``read(_:at:)``.
    public func read<Element: BitwiseCopyable>(
        into array: inout [Element],
        at reference: SharedPayloadReference
    ) throws(IPCError) {
        let source = try bytes(at: reference, elementSize: MemoryLayout<Element>.stride)
        let count = reference.byteCount / MemoryLayout<Element>.stride
        if array.count != count {
            array = [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
                let target = UnsafeMutableRawBufferPointer(buffer)
                if target.count >= Self.hugePageThreshold {
                    triad_ipc_advise_huge_pages(target.baseAddress, target.count)
                }
                initialized = count
            }
        }
        array.withUnsafeMutableBytes { $0.copyMemory(from: source) }
    }

    private func bytes(
        at reference: SharedPayloadReference,
        elementSize: Int
    ) throws(IPCError) -> UnsafeRawBufferPointer {
        guard let memory = segments[reference.segment] else {
            throw IPCError(
                .invalidSegment,
                "payload segment \(reference.segment) was never received; send its descriptor before references to it"
            )
        }
        guard reference.offset >= 0, reference.byteCount >= 0,
            reference.offset + reference.byteCount <= memory.count,
            reference.byteCount % elementSize == 0
        else {
            throw IPCError(.invalidSegment, "a payload reference does not fit its segment or its element type")
        }
        return UnsafeRawBufferPointer(start: memory.baseAddress + reference.offset, count: reference.byteCount)
    }
}
#endif
