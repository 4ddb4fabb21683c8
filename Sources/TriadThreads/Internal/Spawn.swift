import CTriadShims

/// The closure a new pthread runs, passed to it as one retained object.
private final class SpawnBox {
    let body: () -> Void

    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Starts a detached pthread running `body`. Returns 0 or the errno value of `pthread_create`.
func spawnThread(stackSize: Int, _ body: @escaping @Sendable () -> Void) -> Int32 {
    let box = Unmanaged.passRetained(SpawnBox(body))
    let rc = triad_thread_spawn({ raw in
        Unmanaged<SpawnBox>.fromOpaque(raw!).takeRetainedValue().body()
    }, box.toOpaque(), stackSize)
    if rc != 0 { box.release() }
    return rc
}
