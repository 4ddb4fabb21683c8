#if MPI && os(Linux)
import Glibc
import Testing

// The cluster's tests: each starts the test program under mpirun with 2–4 ranks and checks what it printed, its
// exit status, and that no process of it is left. They exist only with the MPI trait:
// `swift test --traits MPI --filter TriadClusterTests`.

@Suite(.serialized)
struct ClusterTests {
    /// Runs a scenario that checks things on rank 0 and must end cleanly.
    private func expectClean(ranks: Int, scenario: String, checks: [String]) throws {
        let run = try MPIRun(ranks: ranks, scenario: scenario)
        defer { run.cleanUp() }
        let status = run.wait()
        let output = run.output
        let ended = status.map { String(exitStatus($0)) } ?? "nothing (hung)"
        #expect(status.map(exitStatus) == 0, "mpirun ended with \(ended):\n\(output)")
        #expect(run.failures.isEmpty, "\(output)")
        for check in checks { #expect(output.contains("ok \(check)\n"), "no ok for \(check):\n\(output)") }
        #expect(output.contains("\ndone\n") || output.hasPrefix("done\n"), "\(output)")
        #expect(MPIRun.waitForNoneLeft(), "processes left: \(MPIRun.programProcesses())")
    }

    @Test func resultsErrorsMapsCancellationTimeoutsAndShutdown() throws {
        try expectClean(
            ranks: 3, scenario: "basics",
            checks: [
                "accepting", "submit", "registered error", "remote error", "map", "map progress", "map failure",
                "mapUnordered", "every rank works", "rank hosts", "large payload", "timeout", "cancel",
                "shutdown cancels pending", "shut down", "MPI starts once",
            ]
        )
    }

    @Test func theConfigurationIsHonoured() throws {
        try expectClean(
            ranks: 3, scenario: "configured",
            checks: ["default timeout", "frame limit", "explicit registry", "pipeline of one"]
        )
    }

    @Test func rankZeroCountsJobsAndLogsTimeoutsAndTheShutdown() throws {
        try expectClean(
            ranks: 3, scenario: "observed",
            checks: [
                "submitted counted", "completed counted", "failure counted", "timeout counted", "timeout logged",
                "shutdown logged",
            ]
        )
    }

    @Test func largePayloadsTravelBothWaysThroughSharedMemory() throws {
        try expectClean(
            ranks: 2, scenario: "large",
            checks: [
                "lanes set up", "large payload 1024", "large payload 102400", "large payload 1048576",
                "large payload 16777216", "through shared memory", "pipelined large payloads",
            ]
        )
    }

    @Test func largePayloadsTravelThroughMPIWhenSharedMemoryIsOff() throws {
        try expectClean(
            ranks: 2, scenario: "large-mpi",
            checks: [
                "lanes set up", "large payload 1024", "large payload 102400", "large payload 1048576",
                "large payload 16777216", "through MPI alone", "pipelined large payloads",
            ]
        )
    }

    @Test func theCommExecutorIdiomReturnsOnEveryRank() throws {
        let run = try MPIRun(ranks: 3, scenario: "comm")
        defer { run.cleanUp() }
        let status = run.wait()
        let output = run.output
        #expect(status.map(exitStatus) == 0, "\(output)")
        #expect(output.contains("ok withExecutor"), "\(output)")
        #expect(!output.contains("FAIL"), "\(output)")
        for rank in 1..<3 { #expect(output.contains("ok not rank zero on rank \(rank)"), "\(output)") }
        for rank in 0..<3 { #expect(output.contains("returned on rank \(rank)"), "\(output)") }
        #expect(MPIRun.waitForNoneLeft())
    }

    @Test func aCrashingJobUnderALocalPoolFailsAloneAndTheRunGoesOn() throws {
        try expectClean(
            ranks: 3, scenario: "local-pool",
            checks: [
                "crash in local pool", "run goes on", "only the crashing job fails", "timeout kills the local worker",
                "after timeout",
            ]
        )
    }

    @Test func aCrashingRankEndsTheRunNamingRankHostAndJob() throws {
        let run = try MPIRun(ranks: 3, scenario: "crash")
        defer { run.cleanUp() }
        // The other rank naps for an hour: the run ends only because the crash ends it.
        let status = run.wait()
        let elapsed = ContinuousClock.now - run.started
        let output = run.output
        #expect(status != nil && exitStatus(status!) != 0, "\(output)")
        #expect(
            output.contains("crashed with signal 11 while running job TriadProcessesTestSupport.Crash"), "\(output)"
        )
        #expect(output.contains(" on host "), "\(output)")
        // Rank 0 adds its own account when mpirun lets it speak before it kills the run, which a loaded machine
        // does not always allow: the crashing rank's own line above is the report that must be there.
        if !output.contains("rank 0 on host") { print("rank 0 was stopped before it could add its account") }
        #expect(!output.contains("still running"), "\(output)")
        #expect(MPIRun.waitForNoneLeft(), "processes left: \(MPIRun.programProcesses())")
        print("a crashing rank ended the run in \(elapsed)")
    }

    @Test func aProgramThatEndsWithAJobThatNeverEndsEndsTheRun() throws {
        let run = try MPIRun(ranks: 2, scenario: "runaway")
        defer { run.cleanUp() }
        let status = run.wait()
        let output = run.output
        #expect(output.contains("ok runaway times out"), "\(output)")
        #expect(status != nil && exitStatus(status!) != 0, "\(output)")
        let named = output.contains("TriadProcessesTestSupport.Runaway")
        #expect(output.contains("jobs still run after") && named, "\(output)")
        #expect(MPIRun.waitForNoneLeft(), "processes left: \(MPIRun.programProcesses())")
    }

    @Test func aKilledRankEndsTheRunAndNothingIsLeft() throws {
        let run = try MPIRun(ranks: 4, scenario: "hang")
        defer { run.cleanUp() }
        #expect(run.waitForOutput("running\n"), "\(run.output)")
        let victim = try #require(MPIRun.pid(ofRank: 2))
        kill(victim, SIGKILL)
        let status = run.wait()
        let output = run.output
        #expect(status != nil && exitStatus(status!) != 0, "\(output)")
        // mpirun names the rank, its host and the signal. Rank 0 adds the job each rank was running when mpirun
        // sends it SIGTERM before SIGKILL, which it does not always do, so that line is not required here.
        #expect(output.contains("rank 2") && output.contains("signal 9"), "\(output)")
        #expect(MPIRun.waitForNoneLeft(), "processes left: \(MPIRun.programProcesses())")
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalToMpirunStopsEveryRank(signal: Int32) throws {
        let run = try MPIRun(ranks: 4, scenario: "hang")
        defer { run.cleanUp() }
        #expect(run.waitForOutput("running\n"), "\(run.output)")
        let signalled = ContinuousClock.now
        kill(run.pid, signal)
        let status = run.wait()
        #expect(status != nil && exitStatus(status!) != 0, "\(run.output)")
        #expect(MPIRun.waitForNoneLeft(), "processes left: \(MPIRun.programProcesses())")
        print("signal \(signal): every rank gone \(ContinuousClock.now - signalled) after it")
    }

    @Test func twoHostsShareAMap() throws {
        // Two "hosts" on loopback, 127.0.0.2 and 127.0.0.3, reached through a script that stands in for ssh and
        // tells each process which host it plays; TCP between them, as between machines.
        let folder = "/tmp/triad-cluster-two-hosts-\(getpid())"
        mkdir(folder, 0o700)
        let agent = folder + "/agent.sh"
        let hostfile = folder + "/hosts"
        try write(
            "#!/bin/sh\nhost=\"$1\"\nshift\nTRIAD_TEST_HOST=\"$host\"\nexport TRIAD_TEST_HOST\n"
                + "exec /bin/sh -c \"$*\"\n",
            to: agent
        )
        chmod(agent, 0o755)
        try write("127.0.0.2 slots=2\n127.0.0.3 slots=2\n", to: hostfile)
        defer {
            unlink(agent)
            unlink(hostfile)
            rmdir(folder)
        }
        let run = try MPIRun(
            ranks: 4, scenario: "hosts",
            mpirunOptions: [
                "--hostfile", hostfile, "--mca", "plm_rsh_agent", agent, "--mca", "btl", "self,tcp",
                // The daemon of the second host otherwise maps the first's hardware topology at an address it
                // guesses from its own memory layout, and crashes now and then when that address is taken (a
                // segmentation fault in hwloc_shmem_topology_write, before any rank starts).
                "--mca", "rtc_hwloc_vmhole", "none",
            ]
        )
        defer { run.cleanUp() }
        let status = run.wait()
        let output = run.output
        #expect(status.map(exitStatus) == 0, "\(output)")
        // "ran <index> <rank> <host> <pid>" per job.
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("ran ") }.map { $0.split(separator: " ") }
        #expect(lines.count == 24, "\(output)")
        let hosts = Set(lines.map { String($0[3]) })
        #expect(hosts == ["127.0.0.2", "127.0.0.3"], "\(output)")
        // Ranks 0 and 1 live on the first host, 2 and 3 on the second; rank 0 runs no job.
        for line in lines {
            let rank = Int(line[2]) ?? -1
            #expect(rank >= 1, "\(line)")
            #expect(String(line[3]) == (rank <= 1 ? "127.0.0.2" : "127.0.0.3"), "\(line)")
        }
        #expect(MPIRun.waitForNoneLeft())
    }

    @Test func triadCompareAddsAnMPIRowUnderMpirun() throws {
        let run = try MPIRun(
            ranks: 3, scenario: "compare",
            program: [
                MPIRun.triadPath, "compare", "--models", "mpi", "--workloads", "tiny,cpu", "--scale", "0.02",
                "--repeat", "1", "--no-python", "--no-progress",
            ]
        )
        defer { run.cleanUp() }
        let status = run.wait()
        let output = run.output
        #expect(status.map(exitStatus) == 0, "\(output)")
        let rows = output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        for workload in ["tiny", "cpu"] {
            let row = rows.first { $0.count > 3 && $0[0] == workload && $0[1] == "mpi" }
            #expect(row?.last == "ok", "no checked mpi row for \(workload):\n\(output)")
        }
        #expect(MPIRun.waitForNoneLeft())
    }

    @Test func outsideMpirunTheExecutorSaysHowToStart() throws {
        var child: pid_t = 0
        let outputPath = "/tmp/triad-cluster-single-\(getpid()).out"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup(MPIRun.programPath), strdup("single"), nil]
        defer { for pointer in argv { free(pointer) } }
        #expect(posix_spawn(&child, MPIRun.programPath, &actions, nil, &argv, environ) == 0)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        let output = try String(contentsOfFile: outputPath)
        #expect(exitStatus(status) == 0, "\(output)")
        #expect(output.contains("ok one rank"), "\(output)")
        #expect(output.contains("mpirun -n"), "\(output)")
    }

    private func write(_ text: String, to path: String) throws {
        guard let file = fopen(path, "w") else { throw MPIRun.SpawnError(errno: errno) }
        fputs(text, file)
        fclose(file)
    }
}

extension String {
    /// The contents of a file.
    init(contentsOfFile path: String) throws {
        guard let file = fopen(path, "r") else { throw MPIRun.SpawnError(errno: errno) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        self = String(decoding: bytes, as: UTF8.self)
    }
}
#endif
