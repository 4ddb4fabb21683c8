import Glibc
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

// The worker program of the process pool tests. Without arguments it is a plain worker. Its other modes play the
// parts the tests need: a program that never bootstraps, one that exits at once, a worker of another protocol
// version, a parent that runs a pool of its own, and a leak check that runs a pool in a process of its own, where
// no other test's descriptors or memory can blur the counts.

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
if arguments.contains("--await-job") {
    // Await a long job with the signal handlers on; once it runs, print the workers' pids. A signal must end
    // this process by the signal, though `main` would return (status 0) as soon as the job's handle resolved.
    ProcessPool.installSignalHandlers()
    let pool = ProcessPoolExecutor(workers: 2)
    let handle = try pool.submit(Nap(milliseconds: 60_000))
    while handle.state != .running || pool.workerPIDs.count < 2 { usleep(10_000) }
    print(pool.workerPIDs.sorted().map(String.init).joined(separator: " "))
    fflush(nil)
    _ = await handle.result
    print("main returned")
    exit(0)
}
if arguments.contains("--leak-check") {
    // Prints: fds before the pool, fds once it runs, whether the count stayed flat (1/0), resident bytes at the
    // start and the end of the jobs, fds after shutdown, fds after forty worker replacements, then the pids.
    func openDescriptors() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while readdir(directory) != nil { count += 1 }
        return count
    }
    func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(fd, &buffer, buffer.count)
        let fields = String(decoding: buffer[..<max(0, count)], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
    // A first pool creates what lives as long as the process (the concurrency runtime's event descriptors, the
    // spawn thread's /dev/null); the pool under test must then give back everything it opens.
    let warmUp = ProcessPoolExecutor(workers: 2)
    _ = try await warmUp.map((0..<100).map(Square.init))
    await warmUp.shutdown()
    let before = openDescriptors()
    let pool = ProcessPoolExecutor(workers: 2)
    _ = try await pool.map((0..<1000).map(Square.init))
    let running = openDescriptors()
    let rssStart = residentBytes()
    var flat = true
    for round in 0..<10 {
        let handles = try (0..<5_000).map { try pool.submit(Square($0 + round)) }
        for handle in handles { _ = try await handle.value }
        _ = try await pool.map((0..<5_000).map(Square.init), options: MapOptions(chunkSize: 10))
        if openDescriptors() != running { flat = false }
    }
    let rssEnd = residentBytes()
    let pids = pool.workerPIDs
    await pool.shutdown()
    let afterShutdown = openDescriptors()
    // Forty worker replacements must not leave their sockets, pipes, lanes or eventfds behind.
    var configuration = ProcessPoolConfiguration(workers: 1)
    configuration.maxJobsPerWorker = 1
    let recycling = ProcessPoolExecutor(configuration: configuration)
    for index in 0..<40 { _ = try await recycling.submit(Square(index)).value }
    await recycling.shutdown()
    let fields = [before, running, flat ? 1 : 0, rssStart, rssEnd, afterShutdown, openDescriptors()]
        + pids.map(Int.init)
    print(fields.map(String.init).joined(separator: " "))

    exit(0)
}
print("TriadTestWorker: run me from the process pool tests")
