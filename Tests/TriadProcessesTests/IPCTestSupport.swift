import Glibc
import SystemPackage
import Testing
import TriadProcesses
import TriadTestSupport

/// The IPC tests: one serialized suite, since they spawn processes and send signals. The nested suites live in the
/// other IPC test files.
@Suite(.serialized)
struct IPCTests {}

/// A TriadIPCTestPeer process, spawned with posix_spawn. Descriptors are passed by inheritance: the i-th one is
/// mapped to number 100 + i in the child and its number is the (2 + i)-th argument.
final class IPCPeer {
    let pid: pid_t
    private var reaped = false
    private(set) var status: Int32 = 0

    static var executablePath: String { TestPrograms.path(of: "TriadIPCTestPeer") }

    init(_ role: String, descriptors: [IPCDescriptor] = [], arguments: [String] = []) throws {
        let path = Self.executablePath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var numbers: [String] = []
        for (index, descriptor) in descriptors.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, descriptor.rawValue, Int32(100 + index))
            numbers.append(String(100 + index))
        }
        let argv = [path, role] + numbers + arguments
        var environment = ["SWIFT_BACKTRACE=enable=no"]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if !text.hasPrefix("SWIFT_BACKTRACE=") { environment.append(text) }
            cursor += 1
        }
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = environment.map { strdup($0) } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, nil, cArguments, cEnvironment)
        guard result == 0 else { throw IPCError(.systemCallFailed, "posix_spawn \(path)", errno: Errno(rawValue: result)) }
        pid = child
    }

    deinit {
        if !reaped {
            Glibc.kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    func kill(_ signal: Int32 = SIGKILL) {
        Glibc.kill(pid, signal)
    }

    /// Waits for the peer to end, for at most `timeout`; kills it if it does not.
    /// Returns the exit code, or nil if it was killed by a signal (see `signal`).
    @discardableResult
    func wait(timeout: Duration = .seconds(30)) -> Int32? {
        let end = ContinuousClock.now + timeout
        while !reaped {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                reaped = true
                self.status = status
                break
            }
            if ContinuousClock.now > end {
                Glibc.kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                reaped = true
                self.status = status
                Issue.record("the peer did not end within \(timeout); killed it")
                return nil
            }
            usleep(2_000)
        }
        return exitCode
    }

    /// Whether the peer is still running; reaps it if it ended.
    var isRunning: Bool {
        guard !reaped else { return false }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return true }
        reaped = true
        self.status = status
        return false
    }

    var exitCode: Int32? { (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil }
    var signal: Int32? { (status & 0x7f) != 0 ? status & 0x7f : nil }
}

/// Triad's segments in /dev/shm that belong to the given processes.
func triadSegments(ofProcesses pids: [pid_t]) -> [String] {
    SharedMemory.listTriadSegments().filter { name in
        pids.contains { name.hasPrefix("\(SharedMemory.namePrefix)\($0).") }
    }
}

/// Expects an IPCError with the given code from `body`.
func expectIPCError<T>(
    _ code: IPCError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> T
) {
    do {
        let value = try body()
        Issue.record("expected IPCError \(code), got \(value)", sourceLocation: sourceLocation)
    } catch let error as IPCError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected IPCError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Expects an IPCError with the given code from an async `body`.
func expectIPCError<T>(
    _ code: IPCError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async {
    do {
        let value = try await body()
        Issue.record("expected IPCError \(code), got \(value)", sourceLocation: sourceLocation)
    } catch let error as IPCError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected IPCError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
