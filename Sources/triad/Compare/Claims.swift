/// The eight claims about Python's three models that `triad compare` tests, and the verdicts that a run's figures
/// give them. Nothing here knows the expected outcome: each verdict comes from the rows and experiments passed in,
/// by the thresholds below, which the report states beside each verdict.
enum Claims {
    /// The claims, numbered as the report numbers them.
    static let statements: [(number: Int, text: String)] = [
        (1, "Threads give no true parallelism for CPU-bound code (the GIL)."),
        (2, "Threads still help I/O-bound work."),
        (3, "Processes give true parallelism for CPU-bound work."),
        (4, "asyncio is best for I/O-bound work with much waiting."),
        (5, "asyncio runs on a single thread."),
        (6, "Processes do not share memory; they need queues, pipes or shared memory."),
        (7, "asyncio tasks and threads share memory."),
        (8, "Processes cost start-up and serialization."),
    ]

    /// A speedup at or above this, with spreads apart, is true parallelism on two or more workers.
    static let parallelSpeedup = 1.5
    /// A speedup below this is no gain at all.
    static let noGainSpeedup = 1.2
    /// The speedup that counts as threads helping waiting work.
    static let ioSpeedup = 2.0
    /// How far behind the fastest model async may be and still count as best.
    static let bestMargin = 1.10
    /// A ratio of process to thread time at or above this, with spreads apart, is a real cost.
    static let costRatio = 2.0

    /// The verdicts of every claim for every runtime that has rows or experiments.
    /// A load average at the start of at least this share of the cores means other work held them.
    static let busyShare = 0.5

    /// The verdicts of every claim for every runtime that has rows or experiments. `loadAverage` is the machine's
    /// at the start: other work on the cores can only hide parallelism, so on a busy machine a CPU-bound row that
    /// shows none gives `unclear` instead of a verdict.
    static func verdicts(
        rows: [LabRow], experiments: [Experiment], runtimes: [Runtime], cores: Int, loadAverage: Double = 0
    ) -> [Verdict] {
        var verdicts: [Verdict] = []
        for runtime in runtimes {
            let judge = Judge(
                runtime: runtime, rows: rows.filter { $0.runtime == runtime.id },
                experiments: experiments.filter { $0.runtime == runtime.id }, cores: cores,
                busy: loadAverage >= busyShare * Double(cores) ? loadAverage : nil
            )
            for (number, text) in statements {
                var verdict = judge.verdict(claim: number)
                verdict.statement = text
                verdicts.append(verdict)
            }
        }
        return verdicts
    }
}

/// The verdicts of one runtime.
private struct Judge {
    let runtime: Runtime
    let rows: [LabRow]
    let experiments: [Experiment]
    let cores: Int
    /// The load average at the start, when it was high enough to hide parallelism.
    let busy: Double?

    private var busyNote: String {
        "; the machine was busy (load average \(format2(busy ?? 0)) on \(cores) cores), which hides parallelism"
    }

    func row(_ workload: String, _ model: String) -> LabRow? {
        rows.first { $0.workload == workload && $0.model == model }
    }

    func verdict(claim: Int) -> Verdict {
        switch claim {
        case 1: noParallelism()
        case 2: threadsHelpIO()
        case 3: processesParallel()
        case 4: asyncBest()
        case 5: experiment(claim: 5, name: "async-threads")
        case 6: experiment(claim: 6, name: "process-memory")
        case 7: experiment(claim: 7, name: "shared-memory")
        default: processCosts()
        }
    }

    private func make(_ claim: Int, _ outcome: Verdict.Outcome, _ measure: String, _ evidence: String, _ rule: String)
        -> Verdict
    {
        Verdict(
            claim: claim, statement: "", runtime: runtime.id, outcome: outcome, measure: measure, evidence: evidence,
            rule: rule
        )
    }

    private func missing(_ claim: Int, _ measure: String, _ what: String) -> Verdict {
        let reason = runtime.problem.map { "not run: \($0)" } ?? "the run left out \(what)"
        return make(claim, .notMeasured, measure, reason, "")
    }

    /// Claim 1: the threads row of the CPU-bound workload against its sequential row.
    private func noParallelism() -> Verdict {
        let measure = "cpu workload: threads' wall time against one thread's"
        let rule =
            "holds below \(format2(Claims.noGainSpeedup))× speedup; does not hold at \(format2(Claims.parallelSpeedup))× "
            + "or more with the two rows' ranges apart; unclear between, when the ranges overlap, or below "
            + "\(format2(Claims.noGainSpeedup))× on a machine whose load average at the start was at least half its cores"
        guard let sequential = row("cpu", "sequential"), let threads = row("cpu", "threads"),
            let speedup = threads.speedup
        else { return missing(1, measure, "the cpu workload's sequential or threads row") }
        guard cores >= 2, threads.workers >= 2 else {
            return make(
                1, .notMeasured, measure,
                "needs 2 cores and 2 workers; this run had \(cores) and "
                    + "\(threads.workers)", rule)
        }
        var evidence =
            "\(threads.workers) threads: \(describe(speedup))× (\(time(threads.wallSeconds)) against "
            + "\(time(sequential.wallSeconds)))"
        if runtime.freeThreaded == true {
            evidence += "; a free-threaded build, GIL \(runtime.gilEnabled == true ? "on" : "off")"
        }
        if speedup.median < Claims.noGainSpeedup {
            return busy == nil
                ? make(1, .holds, measure, evidence, rule) : make(1, .unclear, measure, evidence + busyNote, rule)
        }
        if speedup.median >= Claims.parallelSpeedup {
            if threads.wallSeconds.overlaps(sequential.wallSeconds) {
                return make(1, .unclear, measure, evidence + "; spread too wide to call", rule)
            }
            return make(1, .doesNotHold, measure, evidence, rule)
        }
        return make(1, .unclear, measure, evidence + "; between the thresholds", rule)
    }

    /// Claim 2: the threads row of the I/O-bound workload against its sequential row.
    private func threadsHelpIO() -> Verdict {
        let measure = "io workload (waits and file I/O): threads' wall time against one thread's"
        let rule =
            "holds at \(format2(Claims.ioSpeedup))× speedup or more with the rows' ranges apart; does not hold "
            + "below \(format2(Claims.noGainSpeedup))×; unclear otherwise"
        guard let sequential = row("io", "sequential"), let threads = row("io", "threads"),
            let speedup = threads.speedup
        else { return missing(2, measure, "the io workload's sequential or threads row") }
        let evidence =
            "\(threads.workers) threads: \(describe(speedup))× (\(time(threads.wallSeconds)) against "
            + "\(time(sequential.wallSeconds)))"
        return gain(2, speedup, threads, sequential, at: Claims.ioSpeedup, measure, evidence, rule)
    }

    /// Claim 3: the processes row of the CPU-bound workload against its sequential row.
    private func processesParallel() -> Verdict {
        let measure = "cpu workload: processes' wall time against one thread's"
        let rule =
            "holds at \(format2(Claims.parallelSpeedup))× speedup or more with the rows' ranges apart; does not "
            + "hold below \(format2(Claims.noGainSpeedup))× (unclear instead on a machine whose load average at the start was "
            + "at least half its cores); unclear otherwise"
        guard let sequential = row("cpu", "sequential"), let processes = row("cpu", "processes"),
            let speedup = processes.speedup
        else { return missing(3, measure, "the cpu workload's sequential or processes row") }
        guard cores >= 2, processes.workers >= 2 else {
            return make(
                3, .notMeasured, measure,
                "needs 2 cores and 2 workers; this run had \(cores) and "
                    + "\(processes.workers)", rule)
        }
        let evidence =
            "\(processes.workers) processes: \(describe(speedup))× (\(time(processes.wallSeconds)) "
            + "against \(time(sequential.wallSeconds)))"
        if busy != nil && speedup.median < Claims.noGainSpeedup {
            return make(3, .unclear, measure, evidence + busyNote, rule)
        }
        return gain(3, speedup, processes, sequential, at: Claims.parallelSpeedup, measure, evidence, rule)
    }

    private func gain(
        _ claim: Int, _ speedup: Spread, _ row: LabRow, _ baseline: LabRow, at threshold: Double,
        _ measure: String, _ evidence: String, _ rule: String
    ) -> Verdict {
        if speedup.median < Claims.noGainSpeedup { return make(claim, .doesNotHold, measure, evidence, rule) }
        if speedup.median >= threshold {
            if row.wallSeconds.overlaps(baseline.wallSeconds) {
                return make(claim, .unclear, measure, evidence + "; spread too wide to call", rule)
            }
            return make(claim, .holds, measure, evidence, rule)
        }
        return make(claim, .unclear, measure, evidence + "; between the thresholds", rule)
    }

    /// Claim 4: async against the fastest of threads and processes on the HTTP workload.
    private func asyncBest() -> Verdict {
        let measure = "http workload (requests to a 20 ms server): async's wall time against the fastest other model"
        let rule =
            "holds when async is fastest or within \(Int(((Claims.bestMargin - 1) * 100).rounded()))% of the "
            + "fastest; does not hold when another model is further ahead with the ranges apart; unclear when they overlap"
        guard let async = row("http", "async") else { return missing(4, measure, "the http workload's async row") }
        let others = ["threads", "processes"].compactMap { row("http", $0) }
        guard let fastest = others.min(by: { $0.wallSeconds.median < $1.wallSeconds.median }) else {
            return missing(4, measure, "the http workload's threads and processes rows")
        }
        let ratio = async.wallSeconds.median / max(fastest.wallSeconds.median, 1e-12)
        let evidence =
            "async \(time(async.wallSeconds)) at \(async.workers) concurrent, \(fastest.model) "
            + "\(time(fastest.wallSeconds)) with \(fastest.workers) workers (\(format2(ratio))× its time); peak "
            + "memory \(formatBytes(Int(async.peakRSSBytes.median))) against \(formatBytes(Int(fastest.peakRSSBytes.median)))"
        if ratio <= Claims.bestMargin { return make(4, .holds, measure, evidence, rule) }
        if async.wallSeconds.overlaps(fastest.wallSeconds) {
            return make(4, .unclear, measure, evidence + "; spread too wide to call", rule)
        }
        return make(4, .doesNotHold, measure, evidence, rule)
    }

    /// Claims 5 to 7: what the experiment saw.
    private func experiment(claim: Int, name: String) -> Verdict {
        let measures = [
            5: "experiment: 200 tasks on one loop record the thread they run on before and after each await",
            6:
                "experiment: a worker process writes a global variable, then a byte of shared memory; the parent reads both",
            7: "experiment: one thread writes a value another thread reads; one task writes a value another task reads",
        ]
        let rules = [
            5: "holds when every task ran on one thread; does not hold otherwise",
            6:
                "holds when the parent does not see the plain write (and does see the shared-memory write); does not hold "
                + "when it sees the plain write",
            7: "holds when both readers see the write; does not hold otherwise",
        ]
        let measure = measures[claim] ?? name
        let rule = rules[claim] ?? ""
        guard let found = experiments.first(where: { $0.name == name }) else {
            return missing(claim, measure, "the \(name) experiment")
        }
        let figures = found.figures
        let holds: Bool
        switch claim {
        case 5: holds = figures["distinctThreads"] == 1
        case 6: holds = figures["parentSawPlainWrite"] == 0 && figures["childSawOwnWrite"] == 1
        default: holds = figures["threadSawWrite"] == 1 && figures["taskSawWrite"] == 1
        }
        return make(claim, holds ? .holds : .doesNotHold, measure, found.observed, rule)
    }

    /// Claim 8: a process pool's start-up and data movement against a thread pool's.
    private func processCosts() -> Verdict {
        let measure =
            "startup workload (a pool to its first result) and data-pipe workload (a large buffer there and "
            + "back): processes' wall time against threads'"
        let rule =
            "holds when processes take \(format2(Claims.costRatio))× threads' time or more in both, with the ranges "
            + "apart; does not hold when both are below \(format2(Claims.noGainSpeedup))×; unclear otherwise"
        guard let startProcesses = row("startup", "processes"), let startThreads = row("startup", "threads"),
            let moveProcesses = row("data-pipe", "processes"), let moveThreads = row("data-pipe", "threads")
        else { return missing(8, measure, "the startup or data-pipe workload's threads or processes row") }
        let start = startProcesses.wallSeconds.median / max(startThreads.wallSeconds.median, 1e-12)
        let move = moveProcesses.wallSeconds.median / max(moveThreads.wallSeconds.median, 1e-12)
        let evidence =
            "start-up \(formatSeconds(startProcesses.wallSeconds.median)) against "
            + "\(formatSeconds(startThreads.wallSeconds.median)) (\(format2(start))×); \(moveProcesses.size) "
            + "\(formatSeconds(moveProcesses.wallSeconds.median)) against \(formatSeconds(moveThreads.wallSeconds.median)) "
            + "(\(format2(move))×)"
        let apart =
            !startProcesses.wallSeconds.overlaps(startThreads.wallSeconds)
            && !moveProcesses.wallSeconds.overlaps(moveThreads.wallSeconds)
        if start >= Claims.costRatio && move >= Claims.costRatio {
            return apart
                ? make(8, .holds, measure, evidence, rule)
                : make(8, .unclear, measure, evidence + "; spread too wide to call", rule)
        }
        if start < Claims.noGainSpeedup && move < Claims.noGainSpeedup {
            return make(8, .doesNotHold, measure, evidence, rule)
        }
        return make(8, .unclear, measure, evidence + "; between the thresholds", rule)
    }

    /// A ratio's median and range.
    private func describe(_ spread: Spread) -> String {
        "\(format2(spread.median)) (\(format2(spread.min))–\(format2(spread.max)))"
    }

    /// A time's median and range.
    private func time(_ spread: Spread) -> String {
        "\(formatSeconds(spread.median)) (\(formatSeconds(spread.min))–\(formatSeconds(spread.max)))"
    }
}

/// The advice that follows from a runtime's rows on this machine: which model for which work.
enum Advice {
    static func lines(rows: [LabRow], runtime: String) -> [String] {
        let own = rows.filter { $0.runtime == runtime }
        var lines: [String] = []
        if let line = pick(own, workload: "cpu", kind: "CPU-bound work", includeSequential: false) {
            lines.append(line)
        }
        let io = own.contains { $0.workload == "http" } ? "http" : "io"
        if let line = pick(own, workload: io, kind: "I/O-bound work", includeSequential: false) { lines.append(line) }
        if let line = pick(own, workload: "tiny", kind: "tiny jobs", includeSequential: true) { lines.append(line) }
        return lines
    }

    /// The fastest model of a workload, and the others whose range overlaps its own, which are as good on this run.
    private static func pick(_ rows: [LabRow], workload: String, kind: String, includeSequential: Bool) -> String? {
        let candidates = rows.filter { $0.workload == workload && (includeSequential || $0.model != "sequential") }
        guard let best = candidates.min(by: { $0.wallSeconds.median < $1.wallSeconds.median }) else { return nil }
        let ties = candidates.filter { $0.model != best.model && $0.wallSeconds.overlaps(best.wallSeconds) }
        var line = "\(kind): \(best.model == "sequential" ? "no executor, a plain loop" : best.model)"
        line += " (\(formatSeconds(best.wallSeconds.median))"
        if let speedup = best.speedup, best.model != "sequential" { line += ", \(format2(speedup.median))×" }
        line += ")"
        if !ties.isEmpty {
            line += "; as good within this run's spread: " + ties.map(\.model).joined(separator: ", ")
        }
        return line
    }
}
