import Glibc
import Logging
import ServiceLifecycle
import TriadCore
import TriadLifecycle
import TriadProcesses
import UnixSignals

// A server-shaped program for TriadLifecycleTests: a process pool and a "server" in one ServiceGroup, with SIGTERM
// for graceful shutdown and SIGINT for cancellation. It reports on stdout, one fact a line:
//   ready <pid> <pid>        both workers run a job
//   job <index> ok|<code>    each job's outcome, once the group has stopped
//   late <code>              a job submitted after the group stopped
//   workers left <n>         workers still alive at the end
// Usage: TriadLifecycleTestProgram <jobs> <job milliseconds> <grace milliseconds> <cancel pending: 0|1>

/// Waits in its worker until the gate file exists, then sleeps, then answers its index. The program opens the gate
/// once the pool has stopped accepting jobs, so no job can end before the drain has begun, however slow the machine.
struct Nap: Job {
    var index: Int
    var milliseconds: Int
    var gate: String
    func run() async throws -> Int {
        while access(gate, F_OK) != 0 { sleep(milliseconds: 1) }
        sleep(milliseconds: milliseconds)
        return index
    }

    private func sleep(milliseconds: Int) {
        var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 { request = remaining }
    }
}

ProcessPool.bootstrap(jobs: [Nap.self])

func say(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(1, $0, strlen($0)) }
}

/// Stands in for an HTTP server: accepts work until graceful shutdown, then stops accepting.
struct Submitter: Service {
    let pool: ProcessPoolExecutor
    let handles: [JobHandle<Int>]

    func run() async throws {
        // Both workers busy: what the test waits for before it signals.
        while handles.count(where: { $0.state == .running }) < min(2, handles.count) { try await Task.sleep(for: .milliseconds(2)) }
        say("ready " + pool.workerPIDs.map(String.init).joined(separator: " "))
        try? await gracefulShutdown()
    }
}

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
guard arguments.count == 4 else {
    say("usage: TriadLifecycleTestProgram <jobs> <job milliseconds> <grace milliseconds> <cancel pending: 0|1>")
    exit(64)
}
LoggingSystem.bootstrap { label in StreamLogHandler.standardOutput(label: label) }
let logger = Logger(label: "lifecycle-test")
let pool = ProcessPoolExecutor(workers: 2)
let gate = "/tmp/triad-lifecycle-gate-\(getpid())"
let handles = try (0..<arguments[0]).map { try pool.submit(Nap(index: $0, milliseconds: arguments[1], gate: gate)) }
// The gate opens when the drain begins: the pool refuses new jobs from then on.
let opener = Task {
    while pool.isAcceptingJobs { try await Task.sleep(for: .milliseconds(1)) }
    close(open(gate, O_CREAT | O_WRONLY, 0o600))
}
let drain = DrainPolicy(gracePeriod: .milliseconds(arguments[2]), cancelPending: arguments[3] == 1)
let group = ServiceGroup(
    // The pool first, so that it shuts down last, after the server that feeds it.
    services: [ExecutorService(pool, name: "naps", drain: drain, logger: logger), Submitter(pool: pool, handles: handles)],
    gracefulShutdownSignals: [.sigterm],
    cancellationSignals: [.sigint],
    logger: logger
)
let workers = pool.workerPIDs
try await group.run()
opener.cancel()
for (index, handle) in handles.enumerated() {
    switch await handle.result {
    case .success: say("job \(index) ok")
    case .failure(let error as ExecutorError): say("job \(index) \(error.code)")
    case .failure(let error): say("job \(index) \(error)")
    }
}
do {
    _ = try pool.submit(Nap(index: -1, milliseconds: 0, gate: gate))
    say("late accepted")
} catch {
    say("late \(error.code)")
}
say("workers left \((workers + pool.workerPIDs).count { kill($0, 0) == 0 })")
unlink(gate)
