import Glibc
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

// The worker program of the process pool tests. Without arguments it is a plain worker. Its other modes play the
// parts the tests need: a program that never bootstraps, one that exits at once, a worker of another protocol
// version, and a parent that runs a pool of its own.

let arguments = CommandLine.arguments
if arguments.contains("--no-bootstrap") {
    sleep(60)
    exit(0)
}
if arguments.contains("--exit-early") {
    exit(0)
}
if arguments.contains("--wrong-version") {
    var hello = WorkerHello(version: 99, identity: 0, pid: getpid()).frameBytes
    _ = write(WorkerEnvironment.channelFD, &hello, hello.count)
    sleep(60)
    exit(0)
}

ProcessPool.bootstrap(jobs: TestJobs.all + ProcessTestJobs.all, errors: TestJobs.errors)

if arguments.contains("--parent") {
    // Start a pool of two, print its workers' pids, and wait to be killed.
    if arguments.contains("--signals") { ProcessPool.installSignalHandlers() }
    let pool = ProcessPoolExecutor(workers: 2)
    var pids: Set<Int32> = []
    while pids.count < 2 {
        pids = Set(pool.workerPIDs)
        usleep(10_000)
    }
    print(pids.sorted().map(String.init).joined(separator: " "))
    fflush(nil)
    while true { pause() }
}
print("TriadTestWorker: run me from the process pool tests")
