import Foundation
import Synchronization
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The server program, built beside the test runner.
private var serverPath: String {
    var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
    return directory.appendingPathComponent("HummingbirdOffload").path
}

/// A running server, the port it took, and the lines it printed.
private final class Server: Sendable {
    let process: Process
    let port: Int
    private let lines = Lines()

    init() throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: serverPath)
        var environment = ProcessInfo.processInfo.environment
        environment["PORT"] = "0"
        environment["WORKERS"] = "2"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // The first line names the port; the rest is read on a thread of its own.
        let handle = output.fileHandleForReading
        var pending = Data()
        var port: Int?
        while port == nil {
            let data = handle.availableData
            guard !data.isEmpty else { break }
            pending.append(data)
            let text = String(decoding: pending, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) {
                port = Int(line.dropFirst("listening on ".count))
            }
        }
        guard let port else { throw ServerFailure(reason: "the server ended before it listened") }
        self.port = port
        let lines = self.lines
        Thread.detachNewThread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                lines.append(String(decoding: data, as: UTF8.self))
            }
        }
    }

    var output: [String] { lines.all }

    /// GETs `path`; returns the status and the body.
    func get(_ path: String) async throws -> (status: Int, body: String) {
        let url = URL(string: "http://127.0.0.1:\(port)\(path)")!
        let (data, response) = try await URLSession.shared.data(from: url)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// Waits for the program to end, at most two minutes (a hang guard), and returns its exit status.
    func exitStatus() async -> Int32? {
        for _ in 0..<12_000 where process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
    }

    /// The processes still running the server's binary: its workers, while it runs.
    static func processesOfTheBinary() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) == serverPath
        }
    }
}

/// The lines a server printed after its first.
private final class Lines: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func append(_ text: String) {
        lines.withLock { $0 += text.split(separator: "\n").map(String.init) }
    }
}

private struct ServerFailure: Error {
    var reason: String
}

@Suite("A Hummingbird server that offloads to a process pool", .serialized)
struct ServerTests {
    @Test("results are right; a crashing job gives a 500 naming the crash while other requests succeed; metrics")
    func requests() async throws {
        let server = try Server()
        #expect(try await server.get("/primes/100000") == (200, "9592"))
        #expect(try await server.get("/primes-inline/1000") == (200, "168"))
        try await withThrowingTaskGroup(of: (String, Int, String).self) { group in
            for path in ["/parse/please-crash", "/primes/1000", "/parse/hello", "/primes/20000"] {
                group.addTask {
                    let (status, body) = try await server.get(path)
                    return (path, status, body)
                }
            }
            var outcomes: [String: (Int, String)] = [:]
            for try await (path, status, body) in group { outcomes[path] = (status, body) }
            #expect(outcomes["/parse/please-crash"]?.0 == 500)
            #expect(outcomes["/parse/please-crash"]?.1.contains("the parser crashed") == true)
            #expect(outcomes["/parse/please-crash"]?.1.contains("SIGILL") == true)
            #expect(outcomes["/primes/1000"].map { $0 == (200, "168") } == true)
            #expect(outcomes["/parse/hello"].map { $0 == (200, "5") } == true)
            #expect(outcomes["/primes/20000"].map { $0 == (200, "2262") } == true)
        }
        // The pool replaced the crashed worker and serves on.
        #expect(try await server.get("/parse/again") == (200, "5"))
        let metrics = try await server.get("/metrics").body
        #expect(metrics.contains("triad_pool_jobs_submitted_total"))
        #expect(metrics.contains("pool=\"offload\""))
        #expect(metrics.contains("code=\"workerCrashed\""))
        #expect(metrics.contains("triad_pool_worker_restarts_total"))
        server.process.terminate()
        #expect(await server.exitStatus() == 0)
    }

    @Test("SIGTERM drains: the request in flight completes, the server exits 0, and no worker is left")
    func drainOnSigterm() async throws {
        let server = try Server()
        let long = Task { try await server.get("/primes/20000000") }
        // SIGTERM once the job is in the pool, whatever the machine's speed.
        while !(try await server.get("/metrics").body.contains("job=\"HummingbirdOffload.CountPrimes\"")) {
            try await Task.sleep(for: .milliseconds(5))
        }
        server.process.terminate()
        let (status, body) = try await long.value
        #expect(status == 200)
        #expect(body == "1270607")
        #expect(await server.exitStatus() == 0)
        #expect(server.output.contains("stopped"))
        // The workers end with the pool; the kernel may take a moment to reap them.
        for _ in 0..<3_000 where !Server.processesOfTheBinary().isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(Server.processesOfTheBinary().isEmpty)
    }
}
