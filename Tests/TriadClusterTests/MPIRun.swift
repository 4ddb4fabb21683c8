#if MPI && os(Linux)
import Glibc
import Testing
import TriadTestSupport

/// Runs the cluster's test program under `mpirun`, its output in a file, and watches it.
///
/// Every run is pinned to loopback, allowed to run as root (CI does) and to have more ranks than cores. The
/// program's rank 0 prints `ok <check>` or `FAIL <check>: <why>` per check, then `done`.
final class MPIRun {
    let pid: pid_t
    let outputPath: String
    let started = ContinuousClock.now
    private(set) var status: Int32?

    /// The test program, built next to the test runner.
    static let programPath = TestPrograms.path(of: "TriadClusterTestProgram")

    /// The `triad` tool, built next to the test runner.
    static var triadPath: String {
        String(programPath.dropLast("TriadClusterTestProgram".count)) + "triad"
    }

    /// Starts `mpirun -n ranks` of the test program with `scenario`, with SIGINT and SIGTERM at their defaults
    /// (a test runner started in the background may ignore SIGINT, and its children would inherit that).
    init(
        ranks: Int,
        scenario: String,
        mpirunOptions: [String] = [],
        environment: [String: String] = [:],
        program: [String]? = nil
    ) throws {
        outputPath = "/tmp/triad-cluster-test-\(getpid())-\(scenario)-\(UInt32.random(in: 0...UInt32.max)).out"
        var options = ["--oversubscribe"]
        if mpirunOptions.isEmpty {
            options += ["--mca", "btl", "self,vader", "--mca", "oob_tcp_if_include", "lo"]
        } else {
            options += mpirunOptions
        }
        let arguments = ["mpirun"] + options + ["-n", String(ranks)] + (program ?? [MPIRun.programPath, scenario])
        var environment = environment
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        environment["OMPI_MCA_btl_tcp_if_include"] = "lo"
        environment["OMPI_MCA_oob_tcp_if_include"] = "lo"
        var merged: [String] = []
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            let key = String(text.prefix { $0 != "=" })
            if environment[key] == nil { merged.append(text) }
            index += 1
        }
        merged += environment.map { "\($0.key)=\($0.value)" }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP)
        )
        posix_spawnattr_setpgroup(&attributes, 0)

        var argv = arguments.map { strdup($0) } + [nil]
        var envp = merged.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var child: pid_t = 0
        let result = posix_spawnp(&child, "mpirun", &actions, &attributes, &argv, &envp)
        guard result == 0 else { throw SpawnError(errno: result) }
        pid = child
    }

    struct SpawnError: Error { var errno: Int32 }

    /// What the run has printed so far.
    var output: String {
        guard let file = fopen(outputPath, "r") else { return "" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Waits for the output to contain `text`; false if the run ended first or the hang guard ran out.
    func waitForOutput(_ text: String, guardMinutes: Int = 10) -> Bool {
        let deadline = ContinuousClock.now + .seconds(60 * guardMinutes)
        while ContinuousClock.now < deadline {
            if output.contains(text) { return true }
            if reap() != nil { return output.contains(text) }
            usleep(20_000)
        }
        return false
    }

    /// Waits for `mpirun` to end and returns its wait status; nil if the hang guard ran out (the run is then
    /// killed).
    func wait(guardMinutes: Int = 10) -> Int32? {
        let deadline = ContinuousClock.now + .seconds(60 * guardMinutes)
        while ContinuousClock.now < deadline {
            if let status = reap() { return status }
            usleep(20_000)
        }
        kill(-pid, SIGKILL)
        _ = reap()
        return nil
    }

    private func reap() -> Int32? {
        if let status { return status }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
        status = raw
        return raw
    }

    /// The processes of the test program still alive on this machine (no other test runs it meanwhile).
    static func programProcesses() -> [pid_t] {
        ProcFS.numberedEntries(of: "/proc").filter { pid in
            ProcFS.linkTarget("/proc/\(pid)/exe") == programPath && !isZombie(pid)
        }
    }

    private static func isZombie(_ pid: pid_t) -> Bool {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return true }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 512)
        guard fgets(&buffer, 512, file) != nil else { return true }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return true }
        let state = text[text.index(close, offsetBy: 2)]
        return state == "Z" || state == "X"
    }

    /// Waits until no process of the test program is left; false if some outlived the hang guard.
    static func waitForNoneLeft(guardMinutes: Int = 2) -> Bool {
        let deadline = ContinuousClock.now + .seconds(60 * guardMinutes)
        while ContinuousClock.now < deadline {
            if programProcesses().isEmpty { return true }
            usleep(20_000)
        }
        return false
    }

    /// The pid of the program's process of rank `rank`, read from the launcher's environment of each process.
    static func pid(ofRank rank: Int) -> pid_t? {
        for pid in programProcesses() {
            guard let file = fopen("/proc/\(pid)/environ", "r") else { continue }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = fread(&buffer, 1, buffer.count, file)
                if count <= 0 { break }
                bytes += buffer[..<count]
            }
            let entries = bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if entries.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }

    /// The lines that report failed checks.
    var failures: [Substring] { output.split(separator: "\n").filter { $0.hasPrefix("FAIL") } }

    func cleanUp() { unlink(outputPath) }
}

/// The exit status of a wait status, or 128 + the signal for a process killed by one.
func exitStatus(_ status: Int32) -> Int32 {
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}
#endif
