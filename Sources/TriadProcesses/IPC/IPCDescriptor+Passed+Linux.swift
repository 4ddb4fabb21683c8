#if os(Linux)
import Glibc

extension IPCDescriptor {
    /// The environment variable that lists, comma-separated, the descriptors a ``Process`` passed to its child.
    public static let passedKey = "TRIAD_PASSED_FDS"

    /// The number of the first passed descriptor in the child: the i-th descriptor given to
    /// ``Process/init(_:passing:configuration:)`` is number `firstPassed + i` there.
    public static let firstPassed: Int32 = SharedLaneEnvironment.firstFree

    /// The descriptors that the parent passed to this process when it started it as a ``Process``, in the order it
    /// gave them; empty in any other process.
    public static var passed: [IPCDescriptor] {
        guard let text = getenv(passedKey).map({ String(cString: $0) }) else { return [] }
        return text.split(separator: ",").compactMap { Int32($0) }.filter { $0 >= 0 }.map(IPCDescriptor.init)
    }

    /// The `index`-th descriptor the parent passed to this process when it started it as a ``Process``.
    ///
    /// In the job that the ``Process`` runs:
    ///
    /// ```swift
    /// let pipe = try Pipe(inheriting: .passed(0))
    /// let queue = try ProcessQueue<Int>(inheriting: .passed(1))
    /// ```
    ///
    /// - Parameter index: The descriptor's position in the parent's `passing:` list.
    /// - Returns: The descriptor, checked to be open. Opening it as a ``Pipe``, ``ProcessQueue`` or
    ///   ``SharedMemory`` takes ownership of it: open each passed descriptor once.
    /// - Throws: ``IPCError/Code/invalidSegment`` if the parent passed fewer descriptors, or if this process was
    ///   not started as a ``Process``.
    public static func passed(_ index: Int) throws(IPCError) -> IPCDescriptor {
        let all = passed
        guard index >= 0, index < all.count else {
            throw IPCError(
                .invalidSegment,
                "the parent passed \(all.count) descriptors to this process, so there is none at index \(index); "
                    + "pass it in Process(_:passing:) and read it only in the job that the Process runs"
            )
        }
        return try inherited(number: all[index].description)
    }
}
#endif
