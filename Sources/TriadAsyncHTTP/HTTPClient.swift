import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import TriadAsync
import TriadCore

/// An HTTP client whose connections and callbacks all live on one `AsyncLoop`: the `aiohttp.ClientSession` of
/// Triad, built on AsyncHTTPClient bound to the loop's event loop.
///
/// ```swift
/// try await AsyncLoop.run { loop in
///     let client = LoopHTTPClient(loop: loop)
///     defer { Task { try await client.shutdown() } }
///     let pages = try await loop.map(urls, maxConcurrent: 50) { try await client.get($0).text }
/// }
/// ```
///
/// Call ``shutdown()`` when done, before the loop stops. A response with an error status (404, 500) is not an
/// error: read ``LoopHTTPResponse/status``.
public final class LoopHTTPClient: Sendable {
    /// The loop the client runs on.
    public let loop: AsyncLoop
    /// The time allowed for one whole request, from connecting to the last byte of the body.
    public let timeout: Duration
    private let client: HTTPClient

    /// Makes a client on `loop`.
    ///
    /// - Parameters:
    ///   - loop: The loop whose event loop carries every connection.
    ///   - maxConnectionsPerHost: The most open connections to one host; requests beyond it wait for a free one.
    ///   - timeout: The time allowed for one request; 30 seconds by default.
    public init(loop: AsyncLoop, maxConnectionsPerHost: Int = 256, timeout: Duration = .seconds(30)) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: maxConnectionsPerHost
        )
        configuration.httpVersion = .http1Only
        self.loop = loop
        self.timeout = timeout
        self.client = HTTPClient(eventLoopGroup: loop.eventLoop, configuration: configuration)
    }

    /// Sends a GET request and collects the response.
    ///
    /// - Parameters:
    ///   - url: The URL, such as `http://127.0.0.1:8080/items`.
    ///   - maxBodyBytes: The largest body accepted (16 MiB by default).
    /// - Returns: The status, headers and body.
    /// - Throws: AsyncHTTPClient's `HTTPClientError` for a bad URL, a refused connection, a timeout or a body
    ///   larger than `maxBodyBytes`; `CancellationError` if cancelled.
    public func get(_ url: String, maxBodyBytes: Int = 16 << 20) async throws -> LoopHTTPResponse {
        try await execute(method: "GET", url: url, maxBodyBytes: maxBodyBytes)
    }

    /// Sends a request and collects the response.
    ///
    /// - Parameters:
    ///   - method: The method, such as `POST`.
    ///   - url: The URL.
    ///   - headers: Extra request headers as name-value pairs.
    ///   - body: The request body, if any.
    ///   - maxBodyBytes: The largest response body accepted.
    /// - Returns: The status, headers and body.
    /// - Throws: AsyncHTTPClient's `HTTPClientError` for a bad URL, a refused connection, a timeout or a body
    ///   larger than `maxBodyBytes`; `CancellationError` if cancelled.
    public func execute(
        method: String,
        url: String,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil,
        maxBodyBytes: Int = 16 << 20
    ) async throws -> LoopHTTPResponse {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await withTaskExecutorPreference(loop.taskExecutor) {
            let response = try await client.execute(request, timeout: .nanoseconds(timeout.saturatingSignedNanoseconds))
            let bytes = try await response.body.collect(upTo: maxBodyBytes)
            return LoopHTTPResponse(
                status: Int(response.status.code),
                headers: response.headers.map { ($0.name, $0.value) },
                body: Array(bytes.readableBytesView)
            )
        }
        return response
    }

    /// Closes every connection. Call it once, before the loop shuts down; shutting down twice throws
    /// AsyncHTTPClient's `alreadyShutdown` error.
    ///
    /// - Throws: AsyncHTTPClient's error if the client was already shut down.
    public func shutdown() async throws {
        try await client.shutdown()
    }
}

/// A collected HTTP response.
public struct LoopHTTPResponse: Sendable {
    /// The status code, such as 200.
    public var status: Int
    /// The response headers as name-value pairs, in the order received.
    public var headers: [(String, String)]
    /// The body's bytes.
    public var body: [UInt8]

    /// The body decoded as UTF-8 (invalid bytes repaired, which is not an error).
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The first value of the named header, compared without case.
    ///
    /// - Parameter name: The header's name.
    /// - Returns: Its value, or `nil` if absent.
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}
