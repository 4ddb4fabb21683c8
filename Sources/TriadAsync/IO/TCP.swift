import Logging
import NIOCore
import NIOPosix

/// A TCP connection on the loop: the reader and writer of `asyncio.open_connection` in one type.
///
/// Reads and writes suspend the calling task and never block the thread. A stream is valid only inside the
/// closure that received it (``AsyncLoop/openConnection(host:port:_:)`` or a server's handler); the connection
/// closes when that closure returns. It is deliberately not `Sendable`: one task reads and writes it, as one
/// coroutine owns an asyncio stream.
public struct TCPStream {
    private let inbound: NIOAsyncChannelInboundStream<ByteBuffer>
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let buffer: ReadBuffer
    /// The address of the other end, such as `127.0.0.1:54321`, when known.
    public let remoteAddress: String?

    init(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        remoteAddress: SocketAddress?
    ) {
        self.inbound = inbound
        self.outbound = outbound
        self.buffer = ReadBuffer(iterator: inbound.makeAsyncIterator())
        self.remoteAddress = remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" }
    }

    /// Sends bytes, suspending while the socket's send buffer is full.
    ///
    /// - Parameter bytes: The bytes to send.
    /// - Throws: NIO's `ChannelError` if the connection is closed.
    public func write(_ bytes: some Sequence<UInt8>) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Sends a string as UTF-8.
    ///
    /// - Parameter text: The text to send.
    /// - Throws: NIO's `ChannelError` if the connection is closed.
    public func write(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    /// Returns the bytes that have arrived, waiting for at least one.
    ///
    /// - Parameter maxBytes: The most bytes to return.
    /// - Returns: Up to `maxBytes` bytes, or an empty array at the end of the stream.
    /// - Throws: What the connection reports, such as a reset.
    public func read(maxBytes: Int = 65_536) async throws -> [UInt8] {
        try await buffer.read(maxBytes: maxBytes)
    }

    /// Reads exactly `count` bytes: the analogue of `StreamReader.readexactly`.
    ///
    /// - Parameter count: How many bytes.
    /// - Returns: The bytes.
    /// - Throws: ``AsyncLoopError/Code/connectionFailed`` if the stream ends first.
    public func read(exactly count: Int) async throws -> [UInt8] {
        try await buffer.read(exactly: count)
    }

    /// Reads up to and including the next `\n` and returns the line without it: the analogue of
    /// `StreamReader.readline`.
    ///
    /// - Returns: The line, or `nil` at the end of the stream. A last line without `\n` is returned as is.
    /// - Throws: What the connection reports.
    public func readLine() async throws -> String? {
        try await buffer.readLine()
    }

    /// Reads until the other end closes its side.
    ///
    /// - Parameter maxBytes: The most bytes to accept.
    /// - Returns: Everything that arrived.
    /// - Throws: ``AsyncLoopError/Code/connectionFailed`` past `maxBytes`.
    public func readToEnd(maxBytes: Int = 16 << 20) async throws -> [UInt8] {
        try await buffer.readToEnd(maxBytes: maxBytes)
    }

    /// Closes the sending side, so that the other end reads the end of the stream; reading goes on.
    public func finishWriting() {
        outbound.finish()
    }
}

/// Bytes that arrived but were not read yet. Not `Sendable`: it belongs to the one task that owns the stream.
private final class ReadBuffer {
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var pending: [UInt8] = []
    private var ended = false

    init(iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) {
        self.iterator = iterator
    }

    private func fill() async throws -> Bool {
        if ended { return false }
        guard let next = try await iterator.next() else {
            ended = true
            return false
        }
        pending.append(contentsOf: next.readableBytesView)
        return true
    }

    func read(maxBytes: Int) async throws -> [UInt8] {
        if pending.isEmpty { _ = try await fill() }
        let count = min(maxBytes, pending.count)
        defer { pending.removeFirst(count) }
        return Array(pending.prefix(count))
    }

    func read(exactly count: Int) async throws -> [UInt8] {
        while pending.count < count {
            guard try await fill() else {
                throw AsyncLoopError(
                    .connectionFailed,
                    message: "the connection closed after \(pending.count) of the \(count) bytes expected"
                )
            }
        }
        defer { pending.removeFirst(count) }
        return Array(pending.prefix(count))
    }

    func readLine() async throws -> String? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeFirst(newline + 1)
                return line
            }
            guard try await fill() else {
                if pending.isEmpty { return nil }
                defer { pending = [] }
                return String(decoding: pending, as: UTF8.self)
            }
        }
    }

    func readToEnd(maxBytes: Int) async throws -> [UInt8] {
        while try await fill() {
            if pending.count > maxBytes {
                throw AsyncLoopError(.connectionFailed, message: "more than \(maxBytes) bytes arrived; raise maxBytes")
            }
        }
        defer { pending = [] }
        return pending
    }
}

/// A listening TCP server on the loop, from ``AsyncLoop/startServer(host:port:_:)``: the analogue of
/// `asyncio.Server`.
public final class TCPServer: Sendable {
    /// The port the server listens on (useful after binding port 0).
    public let port: Int
    /// The host the server is bound to.
    public let host: String
    private let channel: any Channel
    private let acceptTask: LoopTask<Void>

    init(host: String, port: Int, channel: any Channel, acceptTask: LoopTask<Void>) {
        self.host = host
        self.port = port
        self.channel = channel
        self.acceptTask = acceptTask
    }

    /// Stops accepting connections, cancels the handlers of open ones, and waits until all have ended.
    /// Closing twice is not an error.
    public func close() async {
        try? await channel.close()
        acceptTask.cancel()
        _ = await acceptTask.result
    }
}

/// Wraps a new TCP channel, client or server side, as the async channel a ``TCPStream`` reads and writes,
/// with half-closure so that `finishWriting()` can end one direction.
private func wrapStream(_ channel: any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> {
    channel.eventLoop.makeCompletedFuture {
        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
            wrappingChannelSynchronously: channel,
            configuration: .init(isOutboundHalfClosureEnabled: true)
        )
    }
}

extension AsyncLoop {
    /// Connects to `host:port` over TCP on the loop and runs `body` with the stream, closing it afterwards: the
    /// analogue of `asyncio.open_connection`, scoped so that the socket cannot leak.
    ///
    /// - Parameters:
    ///   - host: A host name or address, such as `127.0.0.1`.
    ///   - port: The port.
    ///   - body: The conversation.
    /// - Returns: What `body` returns.
    /// - Throws: ``AsyncLoopError/Code/connectionFailed`` if the connection cannot be made; otherwise what `body`
    ///   throws.
    public func openConnection<T: Sendable>(
        host: String,
        port: Int,
        _ body: @escaping @Sendable (TCPStream) async throws -> T
    ) async throws -> T {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .connect(host: host, port: port, channelInitializer: wrapStream)
        } catch {
            throw AsyncLoopError(
                .connectionFailed,
                message: "could not connect to \(host):\(port); is a server listening there?",
                underlying: error
            )
        }
        let remote = channel.channel.remoteAddress
        return try await withTaskExecutorPreference(executor) {
            try await channel.executeThenClose { inbound, outbound in
                try await body(TCPStream(inbound: inbound, outbound: outbound, remoteAddress: remote))
            }
        }
    }

    /// Listens on `host:port` and runs `handler` for each connection, as a task on the loop: the analogue of
    /// `asyncio.start_server`. A connection closes when its handler returns; a handler's error closes only that
    /// connection and is logged.
    ///
    /// - Parameters:
    ///   - host: The address to bind, such as `127.0.0.1`.
    ///   - port: The port; 0 picks a free one (read it from ``TCPServer/port``).
    ///   - handler: The conversation with one client.
    /// - Returns: The running server; ``TCPServer/close()`` stops it.
    /// - Throws: ``AsyncLoopError/Code/connectionFailed`` if the address cannot be bound.
    public func startServer(
        host: String = "127.0.0.1",
        port: Int = 0,
        _ handler: @escaping @Sendable (TCPStream) async throws -> Void
    ) async throws -> TCPServer {
        let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
        do {
            server = try await ServerBootstrap(group: eventLoop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .bind(host: host, port: port, childChannelInitializer: wrapStream)
        } catch {
            throw AsyncLoopError(
                .connectionFailed,
                message: "could not listen on \(host):\(port); is the port in use?",
                underlying: error
            )
        }
        let boundPort = server.channel.localAddress?.port ?? port
        let logger = self.logger
        let accept = createTask(name: "server \(host):\(boundPort)") {
            try await server.executeThenClose { connections in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in connections {
                            group.addTask {
                                let remote = connection.channel.remoteAddress
                                do {
                                    try await connection.executeThenClose { inbound, outbound in
                                        try await handler(
                                            TCPStream(inbound: inbound, outbound: outbound, remoteAddress: remote)
                                        )
                                    }
                                } catch {
                                    logger.debug("a connection handler of \(host):\(boundPort) failed: \(error)")
                                }
                            }
                        }
                    } catch {
                        logger.debug("the server on \(host):\(boundPort) stopped accepting: \(error)")
                    }
                    group.cancelAll()
                }
            }
        }
        return TCPServer(host: host, port: boundPort, channel: server.channel, acceptTask: accept)
    }
}
