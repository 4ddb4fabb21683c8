#if os(Linux)
/// A fixed-size array of plain values in a ``SharedMemory`` segment, seen by every process that maps it.
///
/// ```swift
/// let samples = try SharedArray<Double>.anonymous(count: 1_000_000)
/// samples[0] = 3.5
/// // hand samples.memory.descriptor to a worker, which opens it with SharedArray<Double>(openingIn:)
/// ```
///
/// The segment starts with a small header that records the element size and count, so opening it as another
/// element type fails with a typed error instead of reading garbage. `Element` must be `BitwiseCopyable`: it is
/// copied as bytes between processes, so it holds no references or pointers. Writes are not synchronized between
/// processes; agree on who writes when, for example with a ``ProcessQueue`` message.
///
/// `SharedArray` is deliberately **not** `Sendable`, like its ``SharedMemory``: it is a window onto memory that
/// other processes write.
public struct SharedArray<Element: BitwiseCopyable>: RandomAccessCollection, MutableCollection {
    /// The segment that holds the array; releasing it invalidates the array.
    public let memory: SharedMemory
    /// The number of elements.
    public let count: Int
    private let elements: UnsafeMutablePointer<Element>

    static var headerSize: Int { 64 }
    private static var magic: UInt64 { 0x5941_5252_4144_5254 }  // "TRDARRAY" in little-endian bytes

    /// The segment size that an array of `count` elements needs.
    public static func segmentSize(count: Int) -> Int {
        headerSize + Swift.max(count, 1) * MemoryLayout<Element>.stride
    }

    /// Lays out a new array of `count` zeroed elements at the start of `memory`, which must hold
    /// ``segmentSize(count:)`` bytes.
    ///
    /// - Parameters:
    ///   - memory: A segment that this process created.
    ///   - count: The number of elements.
    /// - Throws: ``IPCError/Code/tooLarge`` if the segment is too small.
    public init(creatingIn memory: SharedMemory, count: Int) throws(IPCError) {
        precondition(count >= 0, "an array cannot have a negative count")
        precondition(MemoryLayout<Element>.alignment <= Self.headerSize, "the element's alignment is too large")
        guard memory.count >= Self.segmentSize(count: count) else {
            throw IPCError(
                .tooLarge,
                "\(count) elements of \(Element.self) need \(Self.segmentSize(count: count)) bytes; the segment has "
                    + "\(memory.count)"
            )
        }
        let header = memory.baseAddress
        header.storeBytes(of: Self.magic, as: UInt64.self)
        header.storeBytes(of: UInt64(MemoryLayout<Element>.stride), toByteOffset: 8, as: UInt64.self)
        header.storeBytes(of: UInt64(count), toByteOffset: 16, as: UInt64.self)
        self.init(memory: memory, count: count)
    }

    /// Opens the array that another process laid out in `memory`.
    ///
    /// - Parameter memory: A segment received by descriptor or opened by name.
    /// - Throws: ``IPCError/Code/invalidSegment`` if the segment holds no array, or an array of elements of
    ///   another size.
    public init(openingIn memory: SharedMemory) throws(IPCError) {
        let header = memory.baseAddress
        guard memory.count >= Self.headerSize, header.load(as: UInt64.self) == Self.magic else {
            throw IPCError(.invalidSegment, "the shared segment does not hold a SharedArray")
        }
        let stride = Int(header.load(fromByteOffset: 8, as: UInt64.self))
        guard stride == MemoryLayout<Element>.stride else {
            throw IPCError(
                .invalidSegment,
                "the shared array holds elements of \(stride) bytes, but \(Element.self) takes "
                    + "\(MemoryLayout<Element>.stride); open it with the element type it was created with"
            )
        }
        let count = Int(header.load(fromByteOffset: 16, as: UInt64.self))
        guard memory.count >= Self.segmentSize(count: count) else {
            throw IPCError(.invalidSegment, "the shared array claims \(count) elements, more than its segment holds")
        }
        self.init(memory: memory, count: count)
    }

    private init(memory: SharedMemory, count: Int) {
        self.memory = memory
        self.count = count
        self.elements = (memory.baseAddress + Self.headerSize)
            .bindMemory(to: Element.self, capacity: Swift.max(count, 1))
    }

    /// Creates an array of `count` zeroed elements in a new anonymous segment.
    ///
    /// - Throws: ``IPCError/Code/systemCallFailed`` if the system refuses the memory.
    public static func anonymous(count: Int) throws(IPCError) -> SharedArray {
        try SharedArray(creatingIn: SharedMemory.anonymous(count: segmentSize(count: count)), count: count)
    }

    /// Creates an array of `count` zeroed elements in a new named segment owned by this process.
    ///
    /// - Throws: ``IPCError/Code/systemCallFailed`` if the system refuses the segment.
    public static func named(count: Int) throws(IPCError) -> SharedArray {
        try SharedArray(creatingIn: SharedMemory.named(count: segmentSize(count: count)), count: count)
    }

    /// The first index, 0.
    public var startIndex: Int { 0 }
    /// One past the last index, ``count``.
    public var endIndex: Int { count }

    /// The element at `index`, read from or written to shared memory. Setting does not copy the array: every
    /// copy of a `SharedArray` and every process sees the write.
    public subscript(index: Int) -> Element {
        get {
            precondition(index >= 0 && index < count, "index \(index) is out of bounds 0..<\(count)")
            precondition(!memory.isReleased, "the shared segment was released")
            return elements[index]
        }
        nonmutating set {
            precondition(index >= 0 && index < count, "index \(index) is out of bounds 0..<\(count)")
            precondition(!memory.isReleased, "the shared segment was released")
            elements[index] = newValue
        }
    }

    /// Calls `body` with the elements as a mutable buffer, for bulk reads and writes.
    ///
    /// - Parameter body: Works on the elements; the buffer is valid only during the call.
    /// - Throws: Whatever `body` throws.
    public func withUnsafeMutableBufferPointer<Result, Failure: Error>(
        _ body: (UnsafeMutableBufferPointer<Element>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        precondition(!memory.isReleased, "the shared segment was released")
        return try body(UnsafeMutableBufferPointer(start: elements, count: count))
    }
}
#endif
