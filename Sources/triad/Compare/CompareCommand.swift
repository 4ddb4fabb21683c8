import ArgumentParser
import Foundation
import TriadCore

#if canImport(Glibc)
    import Glibc
#endif

/// `triad compare`: the lab. The same workloads under every model in Swift and in Python, the experiments behind
/// the usual claims about Python's models, and a verdict on each claim from this run's figures.
struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Measure the usual claims about Python's three models, in Swift and in Python, side by side.",
        discussion: """
            Each row runs one workload under one model and one runtime: sequential (one job at a time on one thread), \
            threads (ThreadPoolExecutor; in Python ThreadPoolExecutor), processes (ProcessPoolExecutor), async \
            (EventLoopExecutor: tasks on one event-loop thread, where workers is the concurrency limit; in Python \
            asyncio); and, only when asked for with --models mpi, in a triad built with the MPI trait and started by \
            `mpirun -n 4 triad compare --models mpi`, mpi (MPIExecutor: the other ranks run the jobs; its CPU time and \
            peak RSS are rank 0's alone; Swift only). Python runs the lab's own script (--python-script prints it) \
            with the python3 on PATH, or with each --python given; Swift and Python runs alternate. Every row is the \
            median of --repeat runs after a warm-up, with the range. Speedup is against the sequential row of the same \
            workload and runtime. CPU time includes worker processes. Peak RSS is the process's peak during the run \
            plus the summed peaks of its worker processes. Overhead per job is wall time minus the jobs' own time \
            spread over the workers, divided by the jobs. The verdicts come from this run's figures by the thresholds \
            printed beside them. Ctrl-C or SIGTERM stops the run and prints what it measured, marked as interrupted. \
            Set NO_COLOR to turn colour off.
            """
    )

    @Option(
        name: .long,
        help: "Workloads to run, comma-separated (cpu, io, http, tiny, data, data-pipe, startup). Default: all."
    )
    var workloads: String?

    @Option(
        name: .long,
        help: "Models to run, comma-separated (sequential, threads, processes, async, mpi). Default: all but mpi."
    )
    var models: String?

    @Option(
        name: .long, parsing: .unconditional,
        help: "Workers (or, for async, the concurrency limit) of the parallel models. Default: per workload."
    )
    var workers: Int?

    @Option(name: .long, parsing: .unconditional, help: "Multiplies each workload's size; 0.1 gives a quick run.")
    var scale: Double = 1

    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Measured runs per row, after one warm-up.")
    var repeatCount: Int = 3

    @Option(name: .long, help: "A Python interpreter to measure beside Swift; repeat it for several.")
    var python: [String] = []

    @Flag(name: .long, help: "Measure Swift alone, even when python3 is on PATH.")
    var noPython = false

    @Flag(name: .long, help: "Also measure how cost grows: cpu at 1 to 2× the cores workers, tiny at 10³ to 10⁶ jobs.")
    var sweep = false

    @Flag(name: .long, help: "Print the report as JSON on standard output (its schema: --schema).")
    var json = false

    @Option(name: .long, help: "Also write the report as one self-contained HTML file with charts.")
    var html: String?

    @Flag(name: .long, help: "Print the JSON Schema of the --json report and exit.")
    var schema = false

    @Flag(name: .long, help: "Print the lab's Python script and exit.")
    var pythonScript = false

    @Flag(name: .long, help: "Never draw the progress bar or print progress lines.")
    var noProgress = false

    func validate() throws {
        guard scale.isFinite, scale > 0, scale <= 100 else {
            throw ValidationError("--scale must be a number above 0 and at most 100, for example 0.1 or 2")
        }
        if let workers, !(1...4096).contains(workers) {
            throw ValidationError("--workers must be a whole number from 1 to 4096")
        }
        guard (1...100).contains(repeatCount) else {
            throw ValidationError("--repeat must be a whole number from 1 to 100")
        }
        for path in python where access(path, X_OK) != 0 {
            throw ValidationError("--python \(path): no executable file there")
        }
        if noPython && !python.isEmpty { throw ValidationError("--no-python and --python contradict each other") }
        if let html {
            let folder = URL(fileURLWithPath: html).deletingLastPathComponent().path
            var isFolder: ObjCBool = false
            guard !html.isEmpty, FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder),
                isFolder.boolValue
            else { throw ValidationError("--html \(html): the folder \(folder) does not exist") }
        }
        _ = try selectedWorkloads()
        _ = try selectedModels()
    }

    func run() async throws {
        if schema {
            print(ReportSchema.text)
            return
        }
        if pythonScript {
            print(LabScript.source, terminator: "")
            return
        }
        let interruption = Interruption.install()
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let progress = LabProgress(enabled: !noProgress)
        let machine = Machine.current()
        let scratch = try FileIO.makeTemporaryDirectory()
        defer { FileIO.removeDirectory(scratch) }
        let (runtimes, pythons) = try await preparePythons(scratch: scratch, progress: progress)
        let configuration = LabConfiguration(
            workloads: try selectedWorkloads(), modelFilter: try selectedModels(), workers: workers,
            repeatCount: repeatCount, sweep: sweep, scale: scale, cores: cores, progress: progress
        )
        var lab = Lab(configuration: configuration, runtimes: runtimes, pythons: pythons)
        lab = try await interruption.run { [lab] in
            var lab = lab
            try await lab.run()
            return lab
        }
        let signal = interruption.signalName
        let report = LabReport(
            triad: LabReport.Build(
                version: TriadVersion.number, commit: TriadVersion.commit, swiftVersion: TriadVersion.swift),
            machine: machine,
            settings: LabReport.Settings(
                scale: scale, repeatCount: repeatCount, warmUps: configuration.warmUps,
                workloads: configuration.workloads.map(\.name),
                models: Model.allCases.filter(configuration.modelFilter.contains).map(\.rawValue), workers: workers,
                sweep: sweep
            ),
            runtimes: lab.runtimes, interrupted: lab.interrupted || signal != nil, interruption: signal,
            rows: lab.rows, experiments: lab.experiments, sweeps: lab.sweeps,
            verdicts: Claims.verdicts(
                rows: lab.rows + lab.hiddenBaselines, experiments: lab.experiments, runtimes: lab.runtimes,
                cores: cores, loadAverage: machine.loadAverage1m
            )
        )
        try output(report)
        if let signal = interruption.signalNumber { throw ExitCode(128 + signal) }
        if report.rows.contains(where: { !$0.agrees }) {
            throw ValidationError("some models computed a different result from the sequential run (see 'check')")
        }
    }

    private func output(_ report: LabReport) throws {
        if let html {
            do {
                try HTMLReport.render(report).write(toFile: html, atomically: true, encoding: .utf8)
            } catch {
                standardError("triad compare: cannot write \(html): \(error.localizedDescription)")
                throw ExitCode(73)
            }
        }
        if json {
            print(try report.jsonString())
        } else {
            let colour = getenv("NO_COLOR") == nil && isatty(STDOUT_FILENO) == 1
            print(TableRenderer(colour: colour).render(report))
        }
    }

    /// Finds the Pythons to measure and asks each what it is. A Python that cannot answer is reported once and
    /// left out; without any, the report holds Swift alone.
    private func preparePythons(scratch: String, progress: LabProgress) async throws
        -> ([Runtime], [(index: Int, runner: PythonRunner)])
    {
        var runtimes = [
            Runtime(
                id: "swift", language: "swift", version: TriadVersion.swift, executable: nil, freeThreaded: nil,
                gilEnabled: nil, problem: nil)
        ]
        var paths = python
        if paths.isEmpty && !noPython {
            if let found = PythonRunner.onPath() {
                paths = [found]
            } else {
                progress.warn("no python3 on PATH, so this report holds Swift alone (add one with --python PATH)")
            }
        }
        guard !paths.isEmpty else { return (runtimes, []) }
        let script = try LabScript.write(into: scratch)
        var pythons: [(index: Int, runner: PythonRunner)] = []
        for path in paths {
            let folder = "\(scratch)/python-\(pythons.count + runtimes.count)"
            mkdir(folder, 0o700)
            let runner = PythonRunner(executable: path, script: script, scratch: folder)
            do {
                let info = try await runner.info()
                var id = "python \(info.version)\(info.freeThreaded ? "t" : "")"
                if runtimes.contains(where: { $0.id == id }) { id += " (\(runtimes.count + 1))" }
                runtimes.append(
                    Runtime(
                        id: id, language: "python", version: info.version, executable: info.executable,
                        freeThreaded: info.freeThreaded, gilEnabled: info.gilEnabled, problem: nil)
                )
                // Found on PATH, the interpreter itself from now on, not a shim in front of it (pyenv's costs 50 ms
                // a call); one given with --python runs as given.
                let direct = python.isEmpty && access(info.executable, X_OK) == 0 ? info.executable : path
                pythons.append((runtimes.count - 1, PythonRunner(executable: direct, script: script, scratch: folder)))
            } catch {
                let message = (error as? PythonRunner.Failure)?.message ?? "\(error)"
                progress.warn("\(message); this Python is left out")
                runtimes.append(
                    Runtime(
                        id: "python at \(path)", language: "python", version: "unknown", executable: path,
                        freeThreaded: nil, gilEnabled: nil, problem: message)
                )
            }
        }
        return (runtimes, pythons)
    }

    private func selectedWorkloads() throws -> [any Workload] {
        let all = Workloads.all(scale: scale)
        guard let workloads else { return all }
        let names = workloads.split(separator: ",").map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
        guard !names.isEmpty else {
            throw ValidationError(
                "--workloads names no workload; choose from \(all.map(\.name).joined(separator: ", "))")
        }
        return try names.map { name in
            guard let found = all.first(where: { $0.name == name }) else {
                throw ValidationError(
                    "unknown workload '\(name)'; choose from \(all.map(\.name).joined(separator: ", "))"
                )
            }
            return found
        }
    }

    private func selectedModels() throws -> Set<Model> {
        guard let models else { return Set(Model.defaults) }
        let choices = Model.allCases.map(\.rawValue).joined(separator: ", ")
        let names = models.split(separator: ",").map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw ValidationError("--models names no model; choose from \(choices)") }
        let selected = Set(
            try names.map { name in
                guard let model = Model(rawValue: name) else {
                    throw ValidationError("unknown model '\(name)'; choose from \(choices)")
                }
                return model
            }
        )
        if selected.contains(.mpi), let problem = MPIModel.unavailable {
            throw ValidationError(problem)
        }
        return selected
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

extension LabReport {
    func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
