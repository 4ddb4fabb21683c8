/// The whole report of a `triad compare` run, as `--json` prints it and `--html` draws it. `triad compare --schema`
/// prints its JSON Schema; times are seconds and memory bytes, as the field names say.
struct LabReport: Codable, Sendable {
    /// Bumped when a field changes meaning or goes away; new fields may appear within a version.
    var schemaVersion = 1
    var triad: Build
    var machine: Machine
    var settings: Settings
    /// Swift first, then each Python in the order given.
    var runtimes: [Runtime]
    /// Whether a signal stopped the run; the rows are then those finished before it.
    var interrupted: Bool
    /// The signal that stopped the run, such as `SIGINT`.
    var interruption: String?
    var rows: [LabRow]
    var experiments: [Experiment]
    var sweeps: [SweepPoint]
    var verdicts: [Verdict]

    /// The build of `triad` that made the report.
    struct Build: Codable, Sendable {
        var version: String
        var commit: String
        var swiftVersion: String
    }

    /// What the run was asked to do.
    struct Settings: Codable, Sendable {
        var scale: Double
        var repeatCount: Int
        var warmUps: Int
        var workloads: [String]
        var models: [String]
        var workers: Int?
        var sweep: Bool
    }
}

/// The machine the run measured, read when it started.
struct Machine: Codable, Sendable {
    var cores: Int
    var cpuModel: String
    var memoryBytes: Int
    var loadAverage1m: Double
    var kernel: String
}

/// A language runtime whose rows the report holds.
struct Runtime: Codable, Sendable {
    /// The name rows refer to: `swift`, or `python 3.11.7` (with a number after it for a second Python of the
    /// same version).
    var id: String
    /// `swift` or `python`.
    var language: String
    var version: String
    var executable: String?
    /// Python only: whether this is a free-threaded build (3.13t, 3.14t).
    var freeThreaded: Bool?
    /// Python only: whether the GIL was on during the run.
    var gilEnabled: Bool?
    /// Why this runtime's rows are missing or stop early, when they do.
    var problem: String?
}

/// One workload under one model in one runtime, over the run's samples.
struct LabRow: Codable, Sendable {
    var runtime: String
    var workload: String
    var model: String
    var workers: Int
    var jobs: Int
    /// The size of the work in words, which may differ between languages (Python counts fewer primes).
    var size: String
    /// Measured samples, after the warm-up.
    var samples: Int
    var wallSeconds: Spread
    var cpuSeconds: Spread
    var peakRSSBytes: Spread
    /// The wall time the executor added per job: wall time minus the jobs' own time spread over the workers,
    /// divided by the jobs. It covers start-up, hand-off, waiting and shutdown.
    var overheadPerJobSeconds: Spread
    /// The sequential row's wall time divided by this row's, in the same runtime; `nil` without one.
    var speedup: Spread?
    /// Whether every sample's result matched the sequential row's.
    var agrees: Bool
}

/// An experiment behind one of claims 5 to 7, run in one runtime. Figures are counts, or 1 for yes and 0 for no.
struct Experiment: Codable, Sendable {
    var runtime: String
    var claim: Int
    var name: String
    /// What was observed, in a sentence.
    var observed: String
    var figures: [String: Double]
}

/// One point of a `--sweep`: a workload at one size or worker count under one model.
struct SweepPoint: Codable, Sendable {
    var runtime: String
    /// `cpu-workers` (x is the worker count) or `tiny-jobs` (x is the number of jobs).
    var sweep: String
    var model: String
    var x: Int
    var wallSeconds: Spread
    /// Wall time divided by the jobs.
    var perJobSeconds: Spread
}

/// What a claim's figures say, in one runtime.
struct Verdict: Codable, Sendable {
    enum Outcome: String, Codable, Sendable {
        case holds
        case doesNotHold = "does not hold"
        /// The figures fall between the thresholds, or their spreads overlap where the claim needs a difference.
        case unclear
        case notMeasured = "not measured"
    }

    var claim: Int
    var statement: String
    var runtime: String
    var outcome: Outcome
    /// The workload and measure that test the claim.
    var measure: String
    /// The figures, in words.
    var evidence: String
    /// The thresholds the outcome came from.
    var rule: String
}
