import Foundation
import TriadCore

/// What a run of the lab is asked to do.
struct LabConfiguration: Sendable {
    var workloads: [any Workload]
    var modelFilter: Set<Model>
    var workers: Int?
    var repeatCount: Int
    var warmUps = 1
    var sweep: Bool
    var scale: Double
    var cores: Int
    var progress: LabProgress
}

/// One measurement of one workload under one model, in either language.
struct Sample: Sendable {
    var jobs: Int
    var wallSeconds: Double
    var cpuSeconds: Double
    var peakRSSBytes: Double
    /// Time spent inside the jobs, summed over jobs.
    var busySeconds: Double
    var checksum: Int
}

/// The lab: every workload under every model in Swift and in each Python, with their samples interleaved so that
/// the machine's noise falls on both alike, then the experiments and, when asked, the sweeps.
///
/// Cancelling the task that runs it stops it at the measurement under way; what it measured before is returned,
/// marked as interrupted.
struct Lab: Sendable {
    private let configuration: LabConfiguration
    private(set) var runtimes: [Runtime]
    /// The Pythons still taking part, by their index in `runtimes`.
    private var pythons: [(index: Int, runner: PythonRunner)]
    private(set) var rows: [LabRow] = []
    /// Sequential rows measured as baselines but left out of the report by `--models`; the verdicts use them.
    private(set) var hiddenBaselines: [LabRow] = []
    private(set) var experiments: [Experiment] = []
    private(set) var sweeps: [SweepPoint] = []
    private(set) var interrupted = false

    init(configuration: LabConfiguration, runtimes: [Runtime], pythons: [(index: Int, runner: PythonRunner)]) {
        self.configuration = configuration
        self.runtimes = runtimes
        self.pythons = pythons
    }

    /// Runs everything; returns early, with ``interrupted`` set, when its task is cancelled.
    mutating func run() async throws {
        do {
            try await runExperiments()
            for workload in configuration.workloads { try await runWorkload(workload) }
            if configuration.sweep { try await runSweeps() }
        } catch  where Task.isCancelled || Interruption.signalled {
            // A signal may reach the worker processes before this task hears of it; their deaths are then part of
            // the interruption, not a failure of the run.
            interrupted = true
        }
    }

    // MARK: - Workloads

    private mutating func runWorkload(_ workload: any Workload) async throws {
        // The sequential row always runs first: it is the baseline for speedup and the checksum.
        let models = workload.models.filter { $0.isSequential || configuration.modelFilter.contains($0) }
        var baselines: [String: (wall: Spread, checksum: Int)] = [:]
        for model in models {
            let workers =
                model.isSequential
                ? 1 : (configuration.workers ?? workload.defaultWorkers(for: model, cores: configuration.cores))
            var swift: [Sample] = []
            var python: [Int: [Sample]] = [:]
            let rounds = configuration.warmUps + configuration.repeatCount
            for round in 0..<rounds {
                let label =
                    "\(workload.name) · \(model.rawValue) " + roundLabel(round)
                let sample = try await measureSwift(workload, model: model, workers: workers, label: label)
                if round >= configuration.warmUps { swift.append(sample) }
                for (index, runner) in pythons {
                    guard workload.pythonParameters != nil, model.runsInPython else { continue }
                    let measured = await attempt(index) {
                        try await workload.withPythonParameters { parameters in
                            try await runner.measure(
                                PythonRunner.Spec(
                                    workload: workload.name, model: model.rawValue, workers: workers,
                                    params: parameters
                                )
                            )
                        }
                    }
                    try Task.checkCancellation()
                    guard let measured, round >= configuration.warmUps else { continue }
                    python[index, default: []].append(
                        Sample(
                            jobs: measured.jobs, wallSeconds: measured.wallSeconds, cpuSeconds: measured.cpuSeconds,
                            peakRSSBytes: Double(measured.peakRSSBytes), busySeconds: measured.busySeconds,
                            checksum: measured.checksum
                        )
                    )
                }
            }
            var finished: [LabRow] = []
            let swiftRuntime = runtimes[0].id
            finished.append(
                makeRow(swiftRuntime, workload, model, workers, swift, python: false, baseline: &baselines)
            )
            for (index, samples) in python.sorted(by: { $0.key < $1.key })
            where samples.count == configuration.repeatCount {
                finished.append(
                    makeRow(runtimes[index].id, workload, model, workers, samples, python: true, baseline: &baselines)
                )
            }
            configuration.progress.rowFinished(finished)
            if model.isSequential && !configuration.modelFilter.contains(.sequential) {
                hiddenBaselines += finished
                continue
            }
            rows += finished
        }
    }

    /// "warm-up" or "2/3", for the progress bar.
    private func roundLabel(_ round: Int) -> String {
        round < configuration.warmUps
            ? "warm-up" : "\(round - configuration.warmUps + 1)/\(configuration.repeatCount)"
    }

    private func makeRow(
        _ runtime: String, _ workload: any Workload, _ model: Model, _ workers: Int, _ samples: [Sample],
        python: Bool, baseline: inout [String: (wall: Spread, checksum: Int)]
    ) -> LabRow {
        let wall = Spread(samples.map(\.wallSeconds))
        if model.isSequential { baseline[runtime] = (wall, samples.first?.checksum ?? 0) }
        let reference = baseline[runtime]
        let overheads = samples.map { sample in
            let slots = Double(min(workers, max(1, sample.jobs)))
            return max(0, sample.wallSeconds - sample.busySeconds / slots) / Double(max(1, sample.jobs))
        }
        return LabRow(
            runtime: runtime, workload: workload.name, model: model.rawValue, workers: workers,
            jobs: samples.first?.jobs ?? 0, size: workload.size(python: python), samples: samples.count,
            wallSeconds: wall, cpuSeconds: Spread(samples.map(\.cpuSeconds)),
            peakRSSBytes: Spread(samples.map(\.peakRSSBytes)), overheadPerJobSeconds: Spread(overheads),
            speedup: reference.map { wall.speedup(over: $0.wall) },
            agrees: reference.map { reference in samples.allSatisfy { $0.checksum == reference.checksum } } ?? true
        )
    }

    /// Runs `body` for the Python at `index`; a failure drops that Python from the rest of the run, says so once
    /// and records why. Cancellation is not a failure of the Python.
    private mutating func attempt<T>(_ index: Int, _ body: () async throws -> T) async -> T? {
        do {
            return try await body()
        } catch {
            if Task.isCancelled { return nil }
            let message = (error as? PythonRunner.Failure)?.message ?? "\(error)"
            runtimes[index].problem = message
            pythons.removeAll { $0.index == index }
            configuration.progress.warn("\(runtimes[index].id) left out from here on: \(message)")
            return nil
        }
    }

    /// One Swift sample, measured in this process.
    private func measureSwift(_ workload: any Workload, model: Model, workers: Int, label: String) async throws
        -> Sample
    {
        let bar = configuration.progress.bar(label)
        defer { bar.finish() }
        ResourceUsage.resetPeakRSS()
        let before = ResourceUsage.now()
        let start = ContinuousClock.now
        let outcome = try await workload.run(model: model, workers: workers) { bar.update($0) }
        let wall = (ContinuousClock.now - start).seconds
        let after = ResourceUsage.now()
        return Sample(
            jobs: outcome.jobs, wallSeconds: wall,
            cpuSeconds: after.selfCPU - before.selfCPU + after.childrenCPU - before.childrenCPU,
            peakRSSBytes: Double(ResourceUsage.peakRSS() + (outcome.workerPeakRSS ?? 0)),
            busySeconds: Double(outcome.busyNanoseconds) / 1e9, checksum: outcome.checksum
        )
    }

    // MARK: - Experiments

    private mutating func runExperiments() async throws {
        for name in SwiftExperiments.names {
            let swift = try await SwiftExperiments.run(name)
            experiments.append(
                Experiment(
                    runtime: runtimes[0].id, claim: swift.claim, name: name, observed: swift.observed,
                    figures: swift.figures)
            )
            for (index, runner) in pythons {
                guard let figures = await attempt(index, { try await runner.experiment(name) }) else { continue }
                experiments.append(
                    Experiment(
                        runtime: runtimes[index].id, claim: swift.claim, name: name,
                        observed: PythonObservation.describe(name, figures), figures: figures
                    )
                )
            }
            try Task.checkCancellation()
        }
        configuration.progress.note("experiments done")
    }

    // MARK: - Sweeps

    private mutating func runSweeps() async throws {
        let cpu = PrimeCountWorkload(scale: configuration.scale)
        for workers in 1...(2 * configuration.cores) {
            for model in [Model.threads, .processes, .async] {
                try await sweepPoint(cpu, sweep: "cpu-workers", model: model, workers: workers, x: workers)
            }
        }
        let counts = [1_000, 10_000, 100_000, 1_000_000].map { max(10, Int(Double($0) * configuration.scale)) }
        for count in counts {
            let tiny = TinyJobWorkload(jobs: count)
            for model in Model.defaults {
                let workers = tiny.defaultWorkers(for: model, cores: configuration.cores)
                try await sweepPoint(tiny, sweep: "tiny-jobs", model: model, workers: workers, x: count)
            }
        }
    }

    private mutating func sweepPoint(_ workload: any Workload, sweep: String, model: Model, workers: Int, x: Int)
        async throws
    {
        var swift: [Sample] = []
        var python: [Int: [Sample]] = [:]
        for round in 1...configuration.repeatCount {
            let label = "sweep \(sweep) \(model.rawValue) \(x) \(round)/\(configuration.repeatCount)"
            swift.append(try await measureSwift(workload, model: model, workers: workers, label: label))
            for (index, runner) in pythons {
                let spec = PythonRunner.Spec(
                    workload: workload.name, model: model.rawValue, workers: workers,
                    params: workload.pythonParameters ?? [:]
                )
                let measured = await attempt(index) { try await runner.measure(spec) }
                try Task.checkCancellation()
                guard let measured else { continue }
                python[index, default: []].append(
                    Sample(
                        jobs: measured.jobs, wallSeconds: measured.wallSeconds, cpuSeconds: measured.cpuSeconds,
                        peakRSSBytes: Double(measured.peakRSSBytes), busySeconds: measured.busySeconds,
                        checksum: measured.checksum
                    )
                )
            }
        }
        func point(_ runtime: String, _ samples: [Sample]) -> SweepPoint {
            let jobs = Double(max(1, samples.first?.jobs ?? 1))
            return SweepPoint(
                runtime: runtime, sweep: sweep, model: model.rawValue, x: x,
                wallSeconds: Spread(samples.map(\.wallSeconds)),
                perJobSeconds: Spread(samples.map { $0.wallSeconds / jobs })
            )
        }
        sweeps.append(point(runtimes[0].id, swift))
        for (index, samples) in python.sorted(by: { $0.key < $1.key }) where samples.count == configuration.repeatCount
        {
            sweeps.append(point(runtimes[index].id, samples))
        }
        configuration.progress.note("swept \(sweep) \(model.rawValue) at \(x)")
    }
}

/// The sentence for a Python experiment's figures, worded as the Swift side words its own.
enum PythonObservation {
    static func describe(_ name: String, _ figures: [String: Double]) -> String {
        func yes(_ key: String) -> String { figures[key] == 1 ? "yes" : "no" }
        switch name {
        case "async-threads":
            let distinct = Int(figures["distinctThreads"] ?? 0)
            return "\(Int(figures["tasks"] ?? 0)) tasks ran on \(distinct) thread\(distinct == 1 ? "" : "s") (the "
                + "process had \(Int(figures["threadsAfter"] ?? 0)) OS thread\(figures["threadsAfter"] == 1 ? "" : "s") in all)"
        case "process-memory":
            return "the worker read back its own write: \(yes("childSawOwnWrite")); the parent saw the plain write: "
                + "\(yes("parentSawPlainWrite")); it saw the write through shared memory: "
                + yes("parentSawSharedMemoryWrite")
        default:
            return "a thread saw another thread's write: \(yes("threadSawWrite")); a task saw another task's write: "
                + yes("taskSawWrite")
        }
    }
}
