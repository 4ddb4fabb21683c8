import Testing
import TriadAsync

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("I/O on the loop: TCP, files, subprocesses", .serialized)
struct IOTests {
    @Test("an echo server and clients on 127.0.0.1, all on the loop thread")
    func tcpEcho() async throws {
        let threads = Recorder<UInt>()
        let replies = try await AsyncLoop.run { loop in
            let server = try await loop.startServer(host: "127.0.0.1", port: 0) { stream in
                threads.append(threadID())
                while let line = try await stream.readLine() {
                    threads.append(threadID())
                    try await stream.write("echo: \(line)\n")
                }
            }
            #expect(server.port > 0)
            let replies = try await loop.gather((0..<5).map { index in
                {
                    try await loop.openConnection(host: "127.0.0.1", port: server.port) { stream in
                        threads.append(threadID())
                        try await stream.write("hello \(index)\n")
                        let first = try await stream.readLine()
                        try await stream.write("bye\n")
                        let second = try await stream.readLine()
                        threads.append(threadID())
                        return [first ?? "", second ?? ""]
                    }
                }
            })
            await server.close()
            return replies
        }
        #expect(replies[3] == ["echo: hello 3", "echo: bye"])
        #expect(Set(threads.all).count == 1)
    }

    @Test("read exactly, read to end, and half-close")
    func tcpReads() async throws {
        let received = try await AsyncLoop.run { loop in
            let server = try await loop.startServer { stream in
                let header = try await stream.read(exactly: 4)
                let rest = try await stream.readToEnd()
                try await stream.write(Array("\(header.count)+\(rest.count)".utf8))
            }
            let reply = try await loop.openConnection(host: "127.0.0.1", port: server.port) { stream in
                try await stream.write([1, 2, 3, 4, 5, 6])
                stream.finishWriting()
                return String(decoding: try await stream.readToEnd(), as: UTF8.self)
            }
            await server.close()
            return reply
        }
        #expect(received == "4+2")
    }

    @Test("connecting to a closed port throws connectionFailed")
    func connectionRefused() async throws {
        // A port bound but not listening refuses connections, and stays ours while bound: a port freed by a closed
        // server could be taken by another test's server in the meantime.
        let (fd, port) = try boundPortNotListening()
        defer { close(fd) }
        let error = try await AsyncLoop.run { loop in
            await #expect {
                try await loop.openConnection(host: "127.0.0.1", port: port) { _ in }
            } throws: { error in
                (error as? AsyncLoopError)?.code == .connectionFailed
            }
        }
        #expect(error != nil)
    }

    @Test("files are written, appended and read back without blocking the loop")
    func files() async throws {
        let path = "/tmp/triad-async-test-\(getpid()).txt"
        defer { unlink(path) }
        let text = try await AsyncLoop.run { loop in
            try await loop.writeText("first line\n", to: path)
            try await loop.writeText("second line\n", to: path, append: true)
            try await loop.writeFile(Array("third\n".utf8), to: path, append: true)
            let bytes = try await loop.readFile(at: path)
            #expect(bytes.count == 29)
            #expect(loop.isCurrentThread)
            return try await loop.readText(at: path)
        }
        #expect(text == "first line\nsecond line\nthird\n")
    }

    @Test("reading a missing file throws fileFailed")
    func missingFile() async throws {
        _ = try await AsyncLoop.run { loop in
            await #expect {
                try await loop.readFile(at: "/nonexistent/triad/file")
            } throws: { error in
                (error as? AsyncLoopError)?.code == .fileFailed
            }
        }
    }

    @Test("subprocesses run concurrently and report output and exit status")
    func subprocesses() async throws {
        let outputs = try await AsyncLoop.run { loop in
            let operations: [@Sendable () async throws -> SubprocessOutput] = [
                { try await loop.runProcess("echo", arguments: ["hello", "triad"]) },
                { try await loop.runProcess("/bin/sh", arguments: ["-c", "echo oops >&2; exit 3"]) },
                { try await loop.runProcess("cat", input: Array("piped".utf8)) },
            ]
            let outputs = try await loop.gather(operations)
            #expect(loop.isCurrentThread)
            return outputs
        }
        #expect(outputs[0].standardOutput == "hello triad\n")
        #expect(outputs[0].succeeded)
        #expect(outputs[1].exitCode == 3)
        #expect(outputs[1].standardError == "oops\n")
        #expect(outputs[2].standardOutput == "piped")
    }

    @Test("a subprocess killed by a signal reports the signal")
    func signalledProcess() async throws {
        let output = try await AsyncLoop.run { loop in
            try await loop.runProcess("/bin/sh", arguments: ["-c", "kill -TERM $$"])
        }
        #expect(output.exitCode == nil)
        #expect(output.signal == SIGTERM)
    }

    @Test("a missing program throws processFailed")
    func missingProgram() async throws {
        _ = try await AsyncLoop.run { loop in
            await #expect {
                try await loop.runProcess("/nonexistent/triad-program")
            } throws: { error in
                (error as? AsyncLoopError)?.code == .processFailed
            }
        }
    }
}

/// A TCP socket bound to an ephemeral port on 127.0.0.1 that does not listen, and its port.
private func boundPortNotListening() throws -> (Int32, Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXFailure(call: "socket") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
            bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
        }
    }
    guard bound else {
        close(fd)
        throw POSIXFailure(call: "bind")
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// A system call that failed while a test set up its sockets.
private struct POSIXFailure: Error {
    var call: String
}
