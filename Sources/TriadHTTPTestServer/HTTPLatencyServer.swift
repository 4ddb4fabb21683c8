import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import TriadAsync
import TriadCore

/// A small HTTP/1.1 server that answers every request after a fixed latency: a load-test and demo helper, in a
/// module of its own (`TriadHTTPTestServer`) because it is a tool for tests, benchmarks and demos, not part of
/// Triad's API.
///
/// It stands in for a slow remote API, so that I/O-bound code can be measured on one machine: `triad compare`
/// and the benchmarks fetch from it. It listens on 127.0.0.1, runs on NIO threads of its own (never on the
/// caller's loop), keeps connections alive, and answers `GET /anything` with status 200 and a short body.
/// The latency is a timer, not a busy wait, so thousands of requests can wait at once.
///
/// ```swift
/// let server = try await HTTPLatencyServer.start(latency: .milliseconds(20))
/// print(server.url)          // http://127.0.0.1:41234/
/// await server.stop()
/// ```
///
/// It is not a general-purpose web server: it ignores the path and the request body.
public final class HTTPLatencyServer: Sendable {
    /// The port it listens on.
    public let port: Int
    /// The delay before each response.
    public let latency: Duration
    /// The base URL, such as `http://127.0.0.1:41234/`.
    public var url: String { "http://127.0.0.1:\(port)/" }

    /// The requests it has received so far (counted when a request's head arrives, before the delay), so that a
    /// test can wait until a request is in flight instead of sleeping.
    public var requestsReceived: Int { received.count.load(ordering: .relaxed) }

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let received: RequestCount

    private init(
        port: Int,
        latency: Duration,
        group: MultiThreadedEventLoopGroup,
        channel: any Channel,
        received: RequestCount
    ) {
        self.port = port
        self.latency = latency
        self.group = group
        self.channel = channel
        self.received = received
    }

    /// Starts a server on 127.0.0.1.
    ///
    /// - Parameters:
    ///   - port: The port; 0 (the default) picks a free one.
    ///   - latency: The delay before each response; 20 ms by default.
    ///   - threads: The NIO threads serving it; 1 by default, which handles thousands of requests per second.
    ///   - body: The response body.
    /// - Returns: The running server; call ``stop()`` when done.
    /// - Throws: `AsyncLoopError.Code.connectionFailed` if the port cannot be bound.
    public static func start(
        port: Int = 0,
        latency: Duration = .milliseconds(20),
        threads: Int = 1,
        body: String = "ok\n"
    ) async throws -> HTTPLatencyServer {
        precondition(threads >= 1, "the server needs at least one thread")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let delay = TimeAmount.nanoseconds(latency.saturatingSignedNanoseconds)
        let replies = CannedReplies(body: body)
        let received = RequestCount()
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // NIO's request decoder, then canned response bytes: every response is the same, so
                        // the server builds them once, not headers and an encoder's work per response. It
                        // competes with the client for the machine's cores, so its own work is kept small.
                        let decoder = HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
                        let responder = DelayedResponder(delay: delay, replies: replies, received: received)
                        try channel.pipeline.syncOperations.addHandler(responder)
                    }
                }
                .bind(host: "127.0.0.1", port: port)
                .get()
            let bound = channel.localAddress?.port ?? port
            return HTTPLatencyServer(port: bound, latency: latency, group: group, channel: channel, received: received)
        } catch {
            try? await group.shutdownGracefully()
            throw AsyncLoopError(
                .connectionFailed,
                message: "the latency server could not listen on 127.0.0.1:\(port); is the port in use?",
                underlying: error
            )
        }
    }

    /// Stops listening, closes open connections and stops the server's threads. Stopping twice is not an error.
    public func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

/// The two responses the server sends, encoded once: one that keeps the connection open and one that closes it.
private struct CannedReplies: Sendable {
    let keepAlive: ByteBuffer
    let close: ByteBuffer

    init(body: String) {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
        keepAlive = ByteBuffer(string: head + "\r\n" + body)
        close = ByteBuffer(string: head + "Connection: close\r\n\r\n" + body)
    }
}

/// Answers each request after the delay. Every response is the same, so responses to pipelined requests need no
/// ordering; the delay is the same for all, so they leave in order anyway.
private final class DelayedResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let delay: TimeAmount
    private let replies: CannedReplies
    private let received: RequestCount
    private var keepAlive = true

    init(delay: TimeAmount, replies: CannedReplies, received: RequestCount) {
        self.delay = delay
        self.replies = replies
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            received.count.add(1, ordering: .relaxed)
        case .body:
            break
        case .end:
            let keepAlive = self.keepAlive
            let reply = keepAlive ? replies.keepAlive : replies.close
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
                let context = loopBound.value
                let written = context.writeAndFlush(NIOAny(reply))
                if !keepAlive {
                    let channel = context.channel
                    written.whenComplete { _ in channel.close(promise: nil) }
                }
            }
        }
    }

    /// A request the decoder cannot parse closes the connection.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The server's count of requests, shared by its connections.
private final class RequestCount: Sendable {
    let count = Atomic<Int>(0)
}
