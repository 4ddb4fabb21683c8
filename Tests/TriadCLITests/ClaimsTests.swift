import Testing

@testable import triad

/// Verdicts on recorded figures: every outcome of every claim, and the spread that is too wide to call.
@Suite("claims and verdicts")
struct ClaimsTests {
    static let swift = Runtime(
        id: "swift", language: "swift", version: "6.3", executable: nil, freeThreaded: nil, gilEnabled: nil,
        problem: nil
    )

    /// A row whose samples were `walls` seconds, with its speedup over `baseline` when given.
    static func row(_ workload: String, _ model: String, walls: [Double], baseline: [Double]? = nil, workers: Int = 2)
        -> LabRow
    {
        let wall = Spread(walls)
        return LabRow(
            runtime: "swift", workload: workload, model: model, workers: workers, jobs: 10, size: "10 jobs",
            samples: walls.count, wallSeconds: wall, cpuSeconds: wall, peakRSSBytes: Spread([30e6]),
            overheadPerJobSeconds: Spread([1e-6]), speedup: baseline.map { wall.speedup(over: Spread($0)) },
            agrees: true
        )
    }

    static func verdict(_ claim: Int, rows: [LabRow], experiments: [Experiment] = [], cores: Int = 2) -> Verdict {
        let verdicts = Claims.verdicts(rows: rows, experiments: experiments, runtimes: [swift], cores: cores)
        return verdicts.first { $0.claim == claim }!
    }

    static func cpu(_ model: String, sequential: [Double], parallel: [Double], workers: Int = 2) -> [LabRow] {
        [
            row("cpu", "sequential", walls: sequential, baseline: sequential, workers: 1),
            row("cpu", model, walls: parallel, baseline: sequential, workers: workers),
        ]
    }

    @Test("the spread of samples: median of odd and even counts, overlap, speedup range")
    func spread() {
        #expect(Spread([3, 1, 2]) == Spread(median: 2, min: 1, max: 3))
        #expect(Spread([4, 1, 2, 3]).median == 2.5)
        #expect(Spread([1, 2]).overlaps(Spread([2, 3])))
        #expect(!Spread([1, 2]).overlaps(Spread([2.5, 3])))
        let speedup = Spread([1, 2]).speedup(over: Spread([4, 6]))
        #expect(speedup == Spread(median: 5 / 1.5, min: 2, max: 6))
    }

    @Test("claim 1: holds without a gain, does not hold with one, unclear between or when the ranges overlap")
    func claim1() {
        #expect(
            Self.verdict(1, rows: Self.cpu("threads", sequential: [1, 1.1], parallel: [1, 1.05])).outcome == .holds)
        #expect(
            Self.verdict(1, rows: Self.cpu("threads", sequential: [1, 1.1], parallel: [0.5, 0.55])).outcome
                == .doesNotHold
        )
        #expect(
            Self.verdict(1, rows: Self.cpu("threads", sequential: [1, 1], parallel: [0.75, 0.75])).outcome == .unclear)
        let wide = Self.verdict(1, rows: Self.cpu("threads", sequential: [0.4, 1, 1.2], parallel: [0.5, 0.6, 1.5]))
        #expect(wide.outcome == .unclear)
        #expect(wide.evidence.contains("spread too wide"))
        #expect(
            Self.verdict(1, rows: Self.cpu("threads", sequential: [1], parallel: [0.5]), cores: 1).outcome
                == .notMeasured)
        #expect(Self.verdict(1, rows: []).outcome == .notMeasured)
        #expect(Self.verdict(1, rows: []).evidence.contains("left out"))
    }

    @Test("on a busy machine a CPU-bound row without parallelism is unclear, and one with it still counts")
    func busyMachine() {
        func verdict(_ claim: Int, _ rows: [LabRow], load: Double) -> Verdict {
            Claims.verdicts(rows: rows, experiments: [], runtimes: [Self.swift], cores: 2, loadAverage: load)
                .first { $0.claim == claim }!
        }
        let flatThreads = Self.cpu("threads", sequential: [1, 1.1], parallel: [1, 1.05])
        #expect(verdict(1, flatThreads, load: 0.3).outcome == .holds)
        #expect(verdict(1, flatThreads, load: 1.5).outcome == .unclear)
        #expect(verdict(1, flatThreads, load: 1.5).evidence.contains("the machine was busy"))
        let fastThreads = Self.cpu("threads", sequential: [1, 1.1], parallel: [0.5, 0.55])
        #expect(verdict(1, fastThreads, load: 1.5).outcome == .doesNotHold)
        let flatProcesses = Self.cpu("processes", sequential: [1, 1], parallel: [1.2, 1.3])
        #expect(verdict(3, flatProcesses, load: 0.3).outcome == .doesNotHold)
        #expect(verdict(3, flatProcesses, load: 1.5).outcome == .unclear)
        let fastProcesses = Self.cpu("processes", sequential: [1, 1], parallel: [0.55, 0.6])
        #expect(verdict(3, fastProcesses, load: 1.5).outcome == .holds)
    }

    @Test("claim 2: threads on the io workload")
    func claim2() {
        func rows(_ threads: [Double]) -> [LabRow] {
            [
                Self.row("io", "sequential", walls: [1, 1.1], baseline: [1, 1.1], workers: 1),
                Self.row("io", "threads", walls: threads, baseline: [1, 1.1], workers: 16),
            ]
        }
        #expect(Self.verdict(2, rows: rows([0.1, 0.12])).outcome == .holds)
        #expect(Self.verdict(2, rows: rows([1, 1.1])).outcome == .doesNotHold)
        #expect(Self.verdict(2, rows: rows([0.7, 0.7])).outcome == .unclear)
        #expect(Self.verdict(2, rows: rows([0.1, 1.2])).outcome == .unclear)
    }

    @Test("claim 3: processes on the cpu workload")
    func claim3() {
        #expect(
            Self.verdict(3, rows: Self.cpu("processes", sequential: [1, 1], parallel: [0.55, 0.6])).outcome == .holds)
        #expect(
            Self.verdict(3, rows: Self.cpu("processes", sequential: [1, 1], parallel: [1.2, 1.3])).outcome
                == .doesNotHold
        )
        #expect(
            Self.verdict(3, rows: Self.cpu("processes", sequential: [1, 1], parallel: [0.75, 0.8])).outcome == .unclear
        )
    }

    @Test("claim 4: async against the fastest other model on the http workload")
    func claim4() {
        func rows(async: [Double], threads: [Double]) -> [LabRow] {
            [
                Self.row("http", "threads", walls: threads), Self.row("http", "processes", walls: [2, 2.2]),
                Self.row("http", "async", walls: async),
            ]
        }
        #expect(Self.verdict(4, rows: rows(async: [0.1, 0.11], threads: [0.12, 0.13])).outcome == .holds)
        #expect(Self.verdict(4, rows: rows(async: [0.105, 0.11], threads: [0.1, 0.1])).outcome == .holds)
        #expect(Self.verdict(4, rows: rows(async: [0.2, 0.21], threads: [0.1, 0.11])).outcome == .doesNotHold)
        let wide = Self.verdict(4, rows: rows(async: [0.09, 0.2, 0.3], threads: [0.1, 0.11, 0.12]))
        #expect(wide.outcome == .unclear)
        #expect(wide.evidence.contains("spread too wide"))
    }

    @Test("claims 5 to 7 follow what the experiments saw")
    func experiments() {
        func experiment(_ claim: Int, _ name: String, _ figures: [String: Double]) -> Experiment {
            Experiment(runtime: "swift", claim: claim, name: name, observed: "seen", figures: figures)
        }
        #expect(
            Self.verdict(5, rows: [], experiments: [experiment(5, "async-threads", ["distinctThreads": 1])]).outcome
                == .holds
        )
        #expect(
            Self.verdict(5, rows: [], experiments: [experiment(5, "async-threads", ["distinctThreads": 3])]).outcome
                == .doesNotHold
        )
        let isolated = ["childSawOwnWrite": 1.0, "parentSawPlainWrite": 0, "parentSawSharedMemoryWrite": 1]
        #expect(Self.verdict(6, rows: [], experiments: [experiment(6, "process-memory", isolated)]).outcome == .holds)
        var shared = isolated
        shared["parentSawPlainWrite"] = 1
        #expect(
            Self.verdict(6, rows: [], experiments: [experiment(6, "process-memory", shared)]).outcome == .doesNotHold)
        #expect(
            Self.verdict(
                7, rows: [], experiments: [experiment(7, "shared-memory", ["threadSawWrite": 1, "taskSawWrite": 1])]
            )
            .outcome == .holds
        )
        #expect(
            Self.verdict(
                7, rows: [], experiments: [experiment(7, "shared-memory", ["threadSawWrite": 1, "taskSawWrite": 0])]
            )
            .outcome == .doesNotHold
        )
        #expect(Self.verdict(7, rows: []).outcome == .notMeasured)
    }

    @Test("claim 8: start-up and moving data, processes against threads")
    func claim8() {
        func rows(start: [Double], move: [Double]) -> [LabRow] {
            [
                Self.row("startup", "threads", walls: [0.001, 0.0012]), Self.row("startup", "processes", walls: start),
                Self.row("data-pipe", "threads", walls: [0.01, 0.011]), Self.row("data-pipe", "processes", walls: move),
            ]
        }
        #expect(Self.verdict(8, rows: rows(start: [0.05, 0.06], move: [0.1, 0.12])).outcome == .holds)
        #expect(Self.verdict(8, rows: rows(start: [0.001, 0.0011], move: [0.0105, 0.011])).outcome == .doesNotHold)
        #expect(Self.verdict(8, rows: rows(start: [0.05, 0.06], move: [0.0105, 0.011])).outcome == .unclear)
        #expect(Self.verdict(8, rows: rows(start: [0.0005, 0.06], move: [0.1, 0.12])).outcome == .unclear)
    }

    @Test("a runtime that was left out has every claim not measured, with the reason")
    func leftOut() {
        var python = Self.swift
        python.id = "python 3.11.7"
        python.problem = "it printed nonsense"
        let verdicts = Claims.verdicts(rows: [], experiments: [], runtimes: [python], cores: 2)
        #expect(verdicts.count == 8)
        #expect(verdicts.allSatisfy { $0.outcome == .notMeasured && $0.evidence.contains("it printed nonsense") })
    }

    @Test("the table marks a speedup whose range overlaps the sequential row's")
    func tooClose() {
        let close = Self.cpu("threads", sequential: [1, 1.2], parallel: [0.9, 1.05])
        let apart = Self.cpu("threads", sequential: [1, 1.2], parallel: [0.5, 0.6])
        #expect(TableRenderer.tooClose(close[1], close))
        #expect(!TableRenderer.tooClose(apart[1], apart))
        #expect(!TableRenderer.tooClose(close[0], close))
        let report = LabReport(
            triad: .init(version: "0", commit: "c", swiftVersion: "6.3"),
            machine: Machine(cores: 2, cpuModel: "cpu", memoryBytes: 1 << 30, loadAverage1m: 0.5, kernel: "Linux"),
            settings: .init(
                scale: 1, repeatCount: 2, warmUps: 1, workloads: ["cpu"], models: ["threads"], sweep: false),
            runtimes: [Self.swift], interrupted: false, rows: close, experiments: [], sweeps: [],
            verdicts: Claims.verdicts(rows: close, experiments: [], runtimes: [Self.swift], cores: 2)
        )
        let text = TableRenderer(colour: false).render(report)
        #expect(text.contains("×≈"))
        #expect(text.contains("shows no difference"))
        #expect(HTMLReport.render(report).contains("≈"))
    }

    @Test("the advice names the fastest model and the ones within the spread")
    func advice() {
        let rows =
            Self.cpu("threads", sequential: [1, 1.1], parallel: [0.5, 0.55])
            + [Self.row("cpu", "processes", walls: [0.52, 0.6], baseline: [1, 1.1])]
        let lines = Advice.lines(rows: rows, runtime: "swift")
        #expect(lines.count == 1)
        #expect(lines[0].hasPrefix("CPU-bound work: threads"))
        #expect(lines[0].contains("as good within this run's spread: processes"))
    }
}
