import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server that answers every request after a fixed latency: a load-test and demo helper.
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

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    private init(port: Int, latency: Duration, group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.port = port
        self.latency = latency
        self.group = group
        self.channel = channel
    }

    /// Starts a server on 127.0.0.1.
    ///
    /// - Parameters:
    ///   - port: The port; 0 (the default) picks a free one.
    ///   - latency: The delay before each response; 20 ms by default.
    ///   - threads: The NIO threads serving it; 1 by default, which handles thousands of requests per second.
    ///   - body: The response body.
    /// - Returns: The running server; call ``stop()`` when done.
    /// - Throws: ``AsyncLoopError/Code/connectionFailed`` if the port cannot be bound.
    public static func start(
        port: Int = 0,
        latency: Duration = .milliseconds(20),
        threads: Int = 1,
        body: String = "ok\n"
    ) async throws -> HTTPLatencyServer {
        precondition(threads >= 1, "the server needs at least one thread")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let delay = latency.timeAmount
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(DelayedResponder(delay: delay, body: body))
                    }
                }
                .bind(host: "127.0.0.1", port: port)
                .get()
            let bound = channel.localAddress?.port ?? port
            return HTTPLatencyServer(port: bound, latency: latency, group: group, channel: channel)
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

/// Answers each request after the delay. The pipelining handler in front of it hands over one request at a time
/// per connection, so responses keep their order.
private final class DelayedResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let delay: TimeAmount
    private let body: String
    private var keepAlive = true

    init(delay: TimeAmount, body: String) {
        self.delay = delay
        self.body = body
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            let keepAlive = self.keepAlive
            let body = self.body
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: delay) {
                Self.respond(context: loopBound.value, keepAlive: keepAlive, body: body)
            }
        }
    }

    private static func respond(context: ChannelHandlerContext, keepAlive: Bool, body: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        let done = context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
