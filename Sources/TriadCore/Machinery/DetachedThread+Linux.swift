#if os(Linux)
import Glibc

/// Starts detached OS threads, outside Swift's cooperative pool: the one boxed `pthread_create` that TriadThreads'
/// threads and pool workers and TriadProcesses' dedicated threads share.
package enum DetachedThread {
    private final class Box {
        let body: () -> Void

        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts a detached thread that runs `body`. To name the thread, `body` sets the name first (Glibc's module
    /// does not offer `pthread_setname_np`; CTriadShims' `triad_thread_set_name` does).
    ///
    /// - Parameters:
    ///   - stackSize: The stack size in bytes; 0 keeps the default.
    ///   - body: The code to run.
    /// - Returns: 0, or the errno value of `pthread_create` (the thread did not start and `body` never runs).
    package static func start(
        stackSize: Int = 0,
        _ body: @escaping @Sendable () -> Void
    ) -> Int32 {
        var attributes = pthread_attr_t()
        var rc = pthread_attr_init(&attributes)
        guard rc == 0 else { return rc }
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        if stackSize > 0 {
            rc = pthread_attr_setstacksize(&attributes, stackSize)
            guard rc == 0 else { return rc }
        }
        let box = Unmanaged.passRetained(Box(body))
        var thread = pthread_t()
        rc = pthread_create(&thread, &attributes, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box.toOpaque())
        if rc != 0 { box.release() }
        return rc
    }
}
#endif
