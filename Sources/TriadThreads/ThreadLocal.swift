import Glibc

/// A value of which every OS thread has its own copy, like Python's `threading.local`.
///
/// Each thread starts with the value that `initial` makes, the first time it reads; writes change only the calling
/// thread's copy. A thread's copy is released when the thread exits.
///
/// ```swift
/// let buffer = ThreadLocal { [UInt8](repeating: 0, count: 4096) }
/// buffer.withValue { $0[0] = 1 }          // this thread's buffer only
/// ```
///
/// Async code moves between threads across suspension points, so a task sees different copies before and after
/// an `await`; use `TaskLocal` there. `ThreadLocal` is for ``Thread`` bodies and pool jobs that do not suspend.
public final class ThreadLocal<Value>: @unchecked Sendable {
    // Guarded by the pthread key: each thread reads and writes only its own slot. `initial` is immutable and
    // Sendable.
    private let key: pthread_key_t
    private let initial: @Sendable () -> Value

    /// A box that holds one thread's copy.
    private final class Slot {
        var value: Value

        init(_ value: Value) { self.value = value }
    }

    /// Makes a thread-local value.
    ///
    /// - Parameter initial: Makes a thread's first copy, on that thread, the first time it reads.
    public init(_ initial: @escaping @Sendable () -> Value) {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { raw in
            if let raw { Unmanaged<AnyObject>.fromOpaque(raw).release() }
        }
        precondition(rc == 0, "no thread-local key could be created (errno \(rc)); the system limit is about 1024")
        self.key = key
        self.initial = initial
    }

    /// Deleting the key leaves copies still held by other living threads unreleased; they are small and rare, as
    /// thread-local values usually live as long as the program.
    deinit {
        if let raw = pthread_getspecific(key) {
            pthread_setspecific(key, nil)
            Unmanaged<AnyObject>.fromOpaque(raw).release()
        }
        pthread_key_delete(key)
    }

    /// The calling thread's copy.
    public var value: Value {
        get { slot().value }
        set { slot().value = newValue }
    }

    /// Runs `body` with the calling thread's copy, which it may change in place.
    public func withValue<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        try body(&slot().value)
    }

    private func slot() -> Slot {
        if let raw = pthread_getspecific(key) {
            return Unmanaged<AnyObject>.fromOpaque(raw).takeUnretainedValue() as! Slot
        }
        let slot = Slot(initial())
        pthread_setspecific(key, Unmanaged<AnyObject>.passRetained(slot).toOpaque())
        return slot
    }
}
