#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking HTTP/1.1 client for 127.0.0.1, the kind of client a thread pool runs: each request holds its
/// thread until the answer arrives. It speaks just enough HTTP for the latency server: `GET`, a status line,
/// `Content-Length` and a body.
enum BlockingHTTPClient {
    typealias Failure = HTTPResponse.Failure

    /// Fetches `path` from `127.0.0.1:port` on a new connection and returns the body's length.
    static func get(port: Int, path: String) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw failure("connect to 127.0.0.1:\(port)") }
        var noDelay: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))

        let request = Array(HTTPResponse.request(port: port, path: path).utf8)
        var sent = 0
        while sent < request.count {
            let count = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("send")
            }
            sent += count
        }

        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("recv")
            }
            if count == 0 { break }
            response.append(contentsOf: buffer[0..<count])
            if let length = try HTTPResponse.bodyLength(of: response) { return length }
        }
        guard let length = try HTTPResponse.bodyLength(of: response) else {
            throw Failure(message: "the server at 127.0.0.1:\(port) closed the connection mid-response")
        }
        return length
    }

    private static func failure(_ what: String) -> Failure {
        Failure(message: "\(what) failed: \(String(cString: strerror(errno)))")
    }
}

/// Just enough HTTP/1.1 for the latency server: a `GET` request, and the body length of a complete 200 response.
enum HTTPResponse {
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// A `GET` request that asks the server to close the connection after answering.
    static func request(port: Int, path: String) -> String {
        "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
    }

    /// The body's length once the whole response has arrived; throws for a status other than 200.
    static func bodyLength(of response: [UInt8]) throws -> Int? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headerEnd = response.firstRange(of: separator)?.upperBound else { return nil }
        let header = String(decoding: response[..<headerEnd], as: UTF8.self).lowercased()
        guard header.hasPrefix("http/1.1 200") else {
            let statusLine = header.split(separator: "\r\n").first.map(String.init) ?? ""
            throw Failure(message: "the server answered '\(statusLine)' instead of 200")
        }
        let declared = header.split(separator: "\r\n")
            .first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).filter(\.isNumber)) }
        let body = response.count - headerEnd
        guard let declared else { return nil }
        return body >= declared ? declared : nil
    }
}
