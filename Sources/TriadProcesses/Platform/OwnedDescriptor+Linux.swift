#if os(Linux)
import Glibc

/// A file descriptor with one owner, which closes it exactly once: when the owner ends, unless the descriptor was
/// handed on with ``release()`` or closed early with ``close()``.
///
/// Setting up a process takes several descriptors, and each step can fail. With every descriptor owned, a failure
/// just returns: the descriptors made so far close as their owners end, and none is closed twice or leaked.
struct OwnedDescriptor: ~Copyable {
    /// The descriptor, or -1 for none.
    let raw: Int32

    /// Takes ownership of `raw`; -1 stands for no descriptor, and closes nothing.
    init(_ raw: Int32) {
        self.raw = raw
    }

    /// Hands the descriptor on to a new owner, which must close it, without closing it.
    consuming func release() -> Int32 {
        let raw = self.raw
        discard self
        return raw
    }

    /// Closes the descriptor now.
    consuming func close() {
        let raw = self.raw
        discard self
        if raw >= 0 { Syscall.close(raw) }
    }

    deinit {
        if raw >= 0 { Syscall.close(raw) }
    }
}
#endif
