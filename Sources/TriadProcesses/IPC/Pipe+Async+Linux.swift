#if os(Linux)
// The async variants of Pipe's calls. They wait on a dedicated thread, never on Swift's cooperative pool;
// cancelling the awaiting task ends the wait within 100 ms with `IPCError.Code.cancelled`.
extension Pipe {
    /// Sends a value without blocking the cooperative pool.
    ///
    /// - Throws: As ``send(_:timeout:)-66qdo``, and ``IPCError/Code/cancelled`` if the task is cancelled before any of
    ///   the message is written.
    public func send<Value: Encodable>(_ value: Value, timeout: Duration? = nil) async throws(IPCError) {
        let frame = try frameFor(value)
        let io = self.io
        let deadline = IPCDeadline(timeout: timeout)
        try await IPCBlockingThreads.shared.run { stop throws(IPCError) in
            try io.send(frame, deadline: deadline, stop: stop)
        }
    }

    /// Sends raw bytes without blocking the cooperative pool.
    ///
    /// - Throws: As ``send(bytes:timeout:)-9y0qo``, and ``IPCError/Code/cancelled``.
    public func send(bytes: [UInt8], timeout: Duration? = nil) async throws(IPCError) {
        let (frame, payload) = try bytesFrame(bytes)
        let io = self.io
        let deadline = IPCDeadline(timeout: timeout)
        try await IPCBlockingThreads.shared.run { stop throws(IPCError) in
            try io.send(frame, then: payload, deadline: deadline, stop: stop)
        }
    }

    /// Receives a value without blocking the cooperative pool. A value that has already arrived is returned at
    /// once, without a thread hop.
    ///
    /// - Throws: As ``receive(_:timeout:)-2zmom``, and ``IPCError/Code/cancelled`` if the task is cancelled (nothing is
    ///   consumed).
    public func receive<Value: Decodable>(
        _ type: Value.Type,
        timeout: Duration? = nil
    ) async throws(IPCError) -> Value {
        try await Self.decode(type, from: receiveFrame(timeout: timeout))
    }

    /// Receives raw bytes without blocking the cooperative pool.
    ///
    /// - Throws: As ``receiveBytes(timeout:)-5lkid``, and ``IPCError/Code/cancelled``.
    public func receiveBytes(timeout: Duration? = nil) async throws(IPCError) -> [UInt8] {
        try await Self.bytes(from: receiveFrame(timeout: timeout))
    }

    /// Waits, without blocking the cooperative pool, until a receive would not block.
    ///
    /// - Returns: `true` if a message or the end of the stream is there, `false` on timeout.
    /// - Throws: ``IPCError/Code/closed``, ``IPCError/Code/cancelled``.
    public func poll(timeout: Duration) async throws(IPCError) -> Bool {
        precondition(direction.canReceive, "this is the sending end of a one-way pipe")
        let io = self.io
        let deadline = IPCDeadline(timeout: timeout)
        return try await IPCBlockingThreads.shared.run { stop throws(IPCError) in
            try io.poll(deadline: deadline, stop: stop)
        }
    }

    private func receiveFrame(timeout: Duration?) async throws(IPCError) -> PipeIO.Received {
        precondition(direction.canReceive, "this is the sending end of a one-way pipe")
        if let frame = try io.receiveIfReady() { return frame }
        let io = self.io
        let deadline = IPCDeadline(timeout: timeout)
        return try await IPCBlockingThreads.shared.run { stop throws(IPCError) in
            try io.receive(deadline: deadline, stop: stop)
        }
    }
}
#endif
