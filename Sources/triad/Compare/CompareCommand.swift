import ArgumentParser
import Foundation
import TriadCore

#if canImport(Glibc)
import Glibc
#endif

/// `triad compare`: the same workloads under every model, measured side by side.
struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run CPU-bound and I/O-bound workloads under each model and compare them.",
        discussion: """
            Each row runs one workload under one model: sequential (one job at a time on one thread), threads \
            (ThreadPoolExecutor), processes (ProcessPoolExecutor), async (EventLoopExecutor: tasks on one \
            event-loop thread, where the workers column is its concurrency limit). Speedup is against the sequential row of the \
            same workload. CPU time includes worker processes. Peak RSS is the process's peak during the row plus \
            the summed peaks of its worker processes. Overhead per job is the wall time the executor added per \
            job: wall time minus the jobs' own time spread over the workers, divided by the jobs; it covers \
            start-up, hand-off, waiting and shutdown. Set NO_COLOR to turn colour off.
            """
    )

    @Option(name: .long, help: "Workloads to run, comma-separated (cpu, io, http, tiny, data, data-pipe). Default: all.")
    var workloads: String?

    @Option(name: .long, help: "Models to run, comma-separated (sequential, threads, processes, async). Default: all.")
    var models: String?

    @Option(name: .long, help: "Workers (or, for async, the concurrency limit) of the parallel models. Default: per workload.")
    var workers: Int?

    @Option(name: .long, help: "Multiplies each workload's size; 0.1 gives a quick run.")
    var scale: Double = 1

    @Flag(name: .long, help: "Print the report as JSON on standard output.")
    var json = false

    @Flag(name: .long, help: "Never draw the progress bar.")
    var noProgress = false

    func validate() throws {
        guard scale > 0 else { throw ValidationError("--scale must be above 0, for example 0.1 or 2") }
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        _ = try selectedWorkloads()
        _ = try selectedModels()
    }

    func run() async throws {
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let selected = try selectedWorkloads()
        let modelFilter = try selectedModels()
        let colour = !json && getenv("NO_COLOR") == nil && isatty(STDOUT_FILENO) == 1
        let showProgress = !noProgress && ProgressBar.isTerminal
        var rows: [Row] = []
        for workload in selected {
            var sequentialWall: Double?
            var sequentialChecksum: Int?
            // The sequential row always runs first: it is the baseline for speedup and the checksum.
            let models = workload.models.filter { $0.isSequential || modelFilter.contains($0) }
            for model in models {
                let workerCount = model.isSequential ? 1 : (workers ?? workload.defaultWorkers(for: model, cores: cores))
                let bar = ProgressBar(label: "\(workload.name) · \(model.rawValue)", enabled: showProgress)
                let row = try await measure(workload, model: model, workers: workerCount, bar: bar)
                bar.finish()
                if model.isSequential {
                    sequentialWall = row.wallSeconds
                    sequentialChecksum = row.checksum
                }
                var finished = row
                finished.speedup = sequentialWall.map { $0 / row.wallSeconds }
                finished.agrees = sequentialChecksum.map { $0 == row.checksum } ?? true
                if model.isSequential && !modelFilter.contains(.sequential) { continue }
                rows.append(finished)
            }
        }
        let report = Report(cores: cores, scale: scale, rows: rows)
        if json {
            print(try report.jsonString())
        } else {
            print(TableRenderer(colour: colour).render(report))
            print("\n\(cores) cores. Speedup is against the sequential row; see `triad compare --help` for the columns.")
        }
        if rows.contains(where: { !$0.agrees }) {
            throw ValidationError("some models computed a different result from the sequential run (see 'check')")
        }
    }

    private func measure(_ workload: any Workload, model: Model, workers: Int, bar: ProgressBar) async throws -> Row {
        ResourceUsage.resetPeakRSS()
        let before = ResourceUsage.now()
        let start = ContinuousClock.now
        let outcome = try await workload.run(model: model, workers: workers) { bar.update($0) }
        let wall = (ContinuousClock.now - start).seconds
        let after = ResourceUsage.now()
        let childCPU = after.childrenCPU - before.childrenCPU
        let parentPeak = ResourceUsage.peakRSS()
        // The ideal wall time is the jobs' own time spread over the slots; what is left is the executor's cost.
        let slots = Double(min(workers, max(1, outcome.jobs)))
        let lost = max(0, wall - Double(outcome.busyNanoseconds) / 1e9 / slots)
        return Row(
            workload: workload.name,
            model: model.rawValue,
            workers: workers,
            jobs: outcome.jobs,
            wallSeconds: wall,
            cpuSeconds: after.selfCPU - before.selfCPU + childCPU,
            speedup: nil,
            peakRSSBytes: parentPeak + (outcome.workerPeakRSS ?? 0),
            workerPeakRSSBytes: outcome.workerPeakRSS,
            overheadPerJobMicroseconds: lost / Double(max(1, outcome.jobs)) * 1e6,
            checksum: outcome.checksum,
            agrees: true
        )
    }

    private func selectedWorkloads() throws -> [any Workload] {
        let all = Workloads.all(scale: scale)
        guard let workloads else { return all }
        return try workloads.split(separator: ",").map { name in
            guard let found = all.first(where: { $0.name == name.trimmingCharacters() }) else {
                throw ValidationError(
                    "unknown workload '\(name)'; choose from \(all.map(\.name).joined(separator: ", "))"
                )
            }
            return found
        }
    }

    private func selectedModels() throws -> Set<Model> {
        guard let models else { return Set(Model.allCases) }
        return Set(
            try models.split(separator: ",").map { name in
                guard let model = Model(rawValue: name.trimmingCharacters()) else {
                    throw ValidationError(
                        "unknown model '\(name)'; choose from \(Model.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                return model
            }
        )
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

extension Report {
    func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
