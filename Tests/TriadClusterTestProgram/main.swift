// The program TriadClusterTests start under mpirun. Every rank runs it; rank 0 plays the scenario its first
// argument names and prints one line per check, `ok <name>` or `FAIL <name>: <why>`, then `done`. The tests read
// those lines; a scenario that must end the run (a crash) prints what it did before it.
#if MPI && os(Linux)
import Glibc
import Logging
import MetricsTestKit
import Synchronization
import TriadCluster
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport
import TriadTestSupport

/// Says which rank and which (fake) host ran it: the two-node test's launcher sets TRIAD_TEST_HOST per host.
struct WhereAmI: Job {
    var index: Int
    func run() async throws -> String {
        let host = getenv("TRIAD_TEST_HOST").map { String(cString: $0) } ?? "none"
        return "\(index) \(MPICluster.rank ?? -1) \(host) \(getpid())"
    }
}

/// Returns as many bytes as it got, doubled: a large payload both ways.
struct Bounce: Job {
    var bytes: [UInt8]
    func run() async throws -> [UInt8] { bytes }
}

let scenario = CommandLine.arguments.dropFirst().first ?? "basics"
if scenario == "comm" {
    // The MPICommExecutor idiom: every rank goes on past the registration.
    ProcessPool.bootstrap(jobs: TestJobs.all + [WhereAmI.self, Bounce.self], errors: TestJobs.errors)
} else {
    MPICluster.bootstrap(jobs: TestJobs.all + [WhereAmI.self, Bounce.self], errors: TestJobs.errors)
}
nonisolated(unsafe) var failures = 0

func say(_ line: String) {
    print(line)
    fflush(nil)
}

func check(_ name: String, _ condition: Bool, _ detail: @autoclosure () -> String = "") {
    if condition {
        say("ok \(name)")
    } else {
        failures += 1
        say("FAIL \(name): \(detail())")
    }
}

func configuration(localPool: Int = 0) -> MPIExecutorConfiguration {
    var configuration = MPIExecutorConfiguration()
    configuration.localPoolWorkers = localPool
    return configuration
}

switch scenario {
case "basics":
    let executor = try MPIExecutor()
    say("ranks \(executor.workerCount)")
    check("accepting", executor.isAcceptingJobs)
    let square = try await executor.submit(Square(7)).value
    check("submit", square == 49, "got \(square)")
    do {
        _ = try await executor.submit(Throw(registered: true)).value
        check("registered error", false, "no error")
    } catch let error as TestFailure {
        check("registered error", error.reason == "as asked", "\(error)")
    }
    do {
        _ = try await executor.submit(Throw(registered: false)).value
        check("remote error", false, "no error")
    } catch let error as RemoteJobError {
        let origin = error.origin ?? ""
        check(
            "remote error", error.typeName.hasSuffix("UnregisteredFailure") && origin.hasPrefix("rank "),
            "\(error)"
        )
        say("remote error: \(error)")
    }
    let values = try await executor.map((0..<1_000).map(Square.init), options: MapOptions(chunkSize: 7))
    check("map", values == (0..<1_000).map { $0 * $0 }, "wrong values")
    let progress = Atomic<Int>(0)
    let mapped = try await executor.map(
        (0..<200).map(Square.init), options: MapOptions(progress: { _ in progress.add(1, ordering: .relaxed) })
    )
    check("map progress", mapped.count == 200 && progress.load(ordering: .relaxed) == 200,
          "progress \(progress.load(ordering: .relaxed))")
    do {
        _ = try await executor.map([MaybeFail(fail: false), MaybeFail(fail: true), MaybeFail(fail: false)])
        check("map failure", false, "no error")
    } catch let error as TestFailure {
        check("map failure", error.reason == "as asked", "\(error)")
    }
    var seen: [Int: Result<Int, any Error>] = [:]
    for await completion in executor.mapUnordered((0..<300).map { MaybeFail(fail: $0 % 100 == 0) }) {
        seen[completion.index] = completion.result
    }
    let failed = seen.values.filter { if case .failure = $0 { true } else { false } }.count
    check("mapUnordered", seen.count == 300 && failed == 3, "count \(seen.count), failed \(failed)")
    let pids = try await executor.map((0..<40).map { _ in Nap(milliseconds: 20) }, options: MapOptions(chunkSize: 1))
    check("every rank works", Set(pids).count == executor.workerCount, "\(Set(pids).count) pids")
    let hosts = executor.rankHosts
    check(
        "rank hosts",
        hosts.keys.sorted() == Array(1...executor.workerCount) && hosts.values.allSatisfy { $0 == executor.host },
        "\(hosts) against \(executor.host)"
    )
    let big = [UInt8]((0..<(16 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
    let bounced = try await executor.submit(Bounce(bytes: big)).value
    check("large payload", bounced == big, "\(bounced.count) bytes back")
    do {
        _ = try await executor.submit(Nap(milliseconds: 2_000), options: JobOptions(timeout: .milliseconds(200))).value
        check("timeout", false, "no error")
    } catch let error as ExecutorError {
        check("timeout", error.code == .timedOut && error.message.contains("rank "), "\(error)")
    }
    // Every rank busy with a long nap, then a queued job that is cancelled: it never runs.
    let busy = try (0..<executor.workerCount * 4).map { _ in try executor.submit(Nap(milliseconds: 300)) }
    let queued = try executor.submit(Square(3))
    queued.cancel()
    do {
        _ = try await queued.value
        check("cancel", false, "no error")
    } catch let error as ExecutorError {
        check("cancel", error.code == .cancelled, "\(error)")
    }
    for handle in busy { _ = try await handle.value }
    do {
        _ = try executor.submit(Square(1))
        let pending = try (0..<20).map { _ in try executor.submit(Nap(milliseconds: 100)) }
        await executor.shutdown(wait: true, cancelPending: true)
        // Dropped: their handles are cancelled, with the code shutDown.
        var dropped = 0
        for handle in pending {
            if case .failure(let error as ExecutorError) = await handle.result, error.code == .shutDown,
                handle.state == .cancelled
            {
                dropped += 1
            }
        }
        check("shutdown cancels pending", dropped > 0, "none dropped")
        do {
            _ = try executor.submit(Square(1))
            check("shut down", false, "accepted a job")
        } catch {
            check("shut down", error.code == .shutDown && !executor.isAcceptingJobs, "\(error)")
        }
        do {
            _ = try MPIExecutor()
            check("MPI starts once", false, "made a second executor")
        } catch {
            check("MPI starts once", error.code == .finalized, "\(error)")
        }
    }
case "large", "large-mpi":
    // The ranks share this machine: large frames take shared memory, unless the configuration turns it off.
    var largeConfiguration = MPIExecutorConfiguration()
    if scenario == "large-mpi" { largeConfiguration.sharedMemoryThreshold = nil }
    let executor = try MPIExecutor(configuration: largeConfiguration)
    // Rank 1 answers rank 0's offer of a lane as soon as it has the configuration, before it runs a job, and MPI
    // keeps the order of two ranks' messages: once a job's result is back, rank 0 has opened rank 1's lane.
    _ = try await executor.submit(Bounce(bytes: [1])).value
    check("lanes set up", executor.sharesMemory(with: 1) == (scenario == "large"))
    for size in [1 << 10, 100 << 10, 1 << 20, 16 << 20] {
        let big = [UInt8]((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let bounced = try await executor.submit(Bounce(bytes: big)).value
        check("large payload \(size)", bounced == big, "\(bounced.count) bytes back")
    }
    // Two jobs of the four are above the threshold of 256 KiB, each way; with no threshold, none.
    let shared = executor.messagesThroughSharedMemory
    if scenario == "large" {
        check("through shared memory", shared == (2, 2), "\(shared)")
    } else {
        check("through MPI alone", shared == (0, 0), "\(shared)")
    }
    // Many large jobs at once, each different: the rank has several queued while it runs one, so the lanes are
    // written ahead of their reader, and every payload must still come back whole.
    let many = (0..<24).map { index in
        Bounce(bytes: (0..<(600_000 + index)).map { UInt8(truncatingIfNeeded: $0 &+ index) })
    }
    let echoed = try await executor.map(many, options: MapOptions(chunkSize: 1))
    check("pipelined large payloads", echoed == many.map(\.bytes), "\(echoed.map(\.count))")
    await executor.shutdown()
case "hosts":
    let executor = try MPIExecutor()
    let answers = try await executor.map((0..<24).map(WhereAmI.init), options: MapOptions(chunkSize: 1))
    for answer in answers { say("ran \(answer)") }
    await executor.shutdown()
case "crash":
    // A job that kills its rank: the run must end, naming the rank, its host and the job.
    let executor = try MPIExecutor()
    say("ranks \(executor.workerCount)")
    let naps = try (0..<executor.workerCount - 1).map { _ in try executor.submit(Nap(milliseconds: 60_000)) }
    _ = try executor.submit(Crash(.segmentationFault))
    say("submitted")
    for nap in naps { _ = await nap.result }
    say("still running")
case "local-pool":
    let executor = try MPIExecutor(configuration: configuration(localPool: 2))
    let crashed = await (try executor.submit(Crash(.segmentationFault))).result
    if case .failure(let error as ExecutorError) = crashed {
        check("crash in local pool", error.code == .workerCrashed && error.message.contains("rank "), "\(error)")
    } else {
        check("crash in local pool", false, "\(crashed)")
    }
    let values = try await executor.map((0..<100).map(Square.init))
    check("run goes on", values == (0..<100).map { $0 * $0 }, "wrong values")
    var outcomes: [Int: Bool] = [:]
    for await completion in executor.mapUnordered((0..<20).map { Burst($0, $0 == 5 ? .crash : .double) }) {
        if case .success = completion.result {
            outcomes[completion.index] = true
        } else {
            outcomes[completion.index] = false
        }
    }
    let failedJobs = outcomes.values.filter { !$0 }.count
    check("only the crashing job fails", outcomes.count == 20 && failedJobs == 1, "\(outcomes)")
    do {
        _ = try await executor.submit(Nap(milliseconds: 60_000), options: JobOptions(timeout: .milliseconds(300))).value
        check("timeout kills the local worker", false, "no error")
    } catch let error as ExecutorError {
        check("timeout kills the local worker", error.code == .timedOut, "\(error)")
    }
    let after = try await executor.submit(Square(9)).value
    check("after timeout", after == 81, "\(after)")
    await executor.shutdown()
case "configured":
    // Every knob of the configuration: an explicit registry, a default timeout, a frame limit, a pipeline of one.
    var configured = MPIExecutorConfiguration()
    var registry = JobRegistry([Square.self, Nap.self, Bounce.self])
    registry.registerError(TestFailure.self)
    configured.registry = registry
    configured.defaultTimeout = .milliseconds(300)
    configured.maxFrameSize = 1 << 20
    configured.pipelineDepth = 1
    let executor = try MPIExecutor(configuration: configured)
    do {
        _ = try await executor.submit(Nap(milliseconds: 2_000)).value
        check("default timeout", false, "no error")
    } catch let error as ExecutorError {
        check("default timeout", error.code == .timedOut, "\(error)")
    }
    do {
        _ = try executor.submit(Bounce(bytes: [UInt8](repeating: 1, count: 2 << 20)))
        check("frame limit", false, "accepted")
    } catch {
        check("frame limit", error.code == .codingFailed, "\(error)")
    }
    do {
        _ = try executor.submit(WhoAmI())
        check("explicit registry", false, "accepted an unregistered job")
    } catch {
        let named = error.message.contains("MPICluster.bootstrap")
        check("explicit registry", error.code == .unknownJob && named, "\(error)")
    }
    let squares = try await executor.map((0..<50).map(Square.init), options: MapOptions(chunkSize: 1))
    check("pipeline of one", squares == (0..<50).map { $0 * $0 }, "wrong values")
    await executor.shutdown()
case "observed":
    // The executor's metrics and logs, read through a test metrics factory and a recording logger.
    let metrics = TestMetrics()
    let recorder = LogRecorder()
    var configured = MPIExecutorConfiguration()
    configured.metricsFactory = metrics
    configured.logger = recorder.logger()
    configured.name = "ranks"
    let executor = try MPIExecutor(configuration: configured)
    for value in 0..<3 { _ = try await executor.submit(Square(value)).value }
    _ = await (try executor.submit(Throw(registered: true))).result
    _ = try await executor.map((0..<20).map(Square.init), options: MapOptions(chunkSize: 5))
    _ = await (try executor.submit(Nap(milliseconds: 2_000), options: JobOptions(timeout: .milliseconds(200)))).result
    await executor.shutdown()
    func counted(_ label: String, _ job: String, code: String? = nil) -> Int64? {
        let dimensions = [("pool", "ranks"), ("job", job)] + (code.map { [("code", $0)] } ?? [])
        return (try? metrics.expectCounter("triad_cluster_" + label, dimensions))?.totalValue
    }
    let submitted = counted("jobs_submitted_total", Square.jobName)
    let completed = counted("jobs_completed_total", Square.jobName)
    check("submitted counted", submitted == 23, "\(String(describing: submitted))")
    check("completed counted", completed == 23, "\(String(describing: completed))")
    check("failure counted", counted("jobs_failed_total", Throw.jobName, code: "jobError") == 1)
    check("timeout counted", counted("jobs_failed_total", Nap.jobName, code: "timedOut") == 1)
    let records = recorder.all
    check(
        "timeout logged",
        records.contains { $0.level == .notice && $0.metadata["code"] == "timedOut" && $0.metadata["pool"] == "ranks" },
        "\(records.map(\.message))"
    )
    check("shutdown logged", records.contains { $0.level == .notice && $0.message.hasPrefix("shutting down") })
case "runaway":
    // A job that never ends times out; the program then ends without a shutdown, and must not hang at exit.
    let executor = try MPIExecutor()
    let result = await (try executor.submit(Runaway(), options: JobOptions(timeout: .milliseconds(200)))).result
    if case .failure(let error as ExecutorError) = result {
        check("runaway times out", error.code == .timedOut, "\(error)")
    } else {
        check("runaway times out", false, "\(result)")
    }
case "hang":
    // Every rank busy for an hour: the test stops the run with a signal.
    let executor = try MPIExecutor()
    let naps = try (0..<executor.workerCount).map { _ in try executor.submit(Nap(milliseconds: 3_600_000)) }
    while naps.contains(where: { $0.state != .running }) { usleep(10_000) }
    say("running")
    for nap in naps { _ = await nap.result }
case "comm":
    if MPICluster.rank != 0 {
        do {
            _ = try MPIExecutor()
            check("not rank zero on rank \(MPICluster.rank ?? -1)", false, "made an executor")
        } catch {
            check("not rank zero on rank \(MPICluster.rank ?? -1)", error.code == .notRankZero, "\(error)")
        }
    }
    let value = try await MPICluster.withExecutor { executor in
        try await executor.map((0..<10).map(Square.init)).reduce(0, +)
    }
    if let value { check("withExecutor", value == 285, "\(value)") }
    say("returned on rank \(MPICluster.rank ?? -1)")
case "single":
    do {
        _ = try MPIExecutor()
        check("one rank", false, "made an executor")
    } catch {
        check("one rank", error.code == .notEnoughRanks, "\(error)")
        say("message: \(error)")
    }
default:
    say("unknown scenario \(scenario)")
    failures += 1
}
if MPICluster.rank ?? 0 == 0 { say(failures == 0 ? "done" : "done with \(failures) failures") }
#else
print("TriadClusterTestProgram: built without the MPI trait; build with `--traits MPI`")
#endif
