import Foundation
import Testing

@Suite("triad compare", .serialized)
struct CompareCommandTests {
    @Test("--json holds Swift and Python rows for each workload and model, with agreeing results")
    func json() throws {
        let result = try runTriad(["compare", "--scale", "0.02", "--repeat", "2", "--workloads", "cpu,http", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let report = try JSONDecoder().decode(ReportShape.self, from: Data(result.stdout.utf8))
        let runtimes = report.runtimes.map(\.id)
        #expect(runtimes.first == "swift")
        let cells = Set(report.rows.map { "\($0.runtime)/\($0.workload)/\($0.model)" })
        for runtime in runtimes {
            for workload in ["cpu", "http"] {
                for model in ["sequential", "threads", "processes", "async"] {
                    #expect(cells.contains("\(runtime)/\(workload)/\(model)"))
                }
            }
        }
        for row in report.rows {
            #expect(row.agrees)
            #expect(row.samples == 2)
            #expect(row.wallSeconds.min <= row.wallSeconds.median && row.wallSeconds.median <= row.wallSeconds.max)
            #expect(row.peakRSSBytes.median > 1_000_000)
            #expect((row.speedup?.median ?? 0) > 0)
        }
        // The waiting workload runs its concurrent rows with as many workers as requests in flight.
        for row in report.rows where row.workload == "http" && (row.model == "threads" || row.model == "async") {
            #expect(row.workers == 50)
        }
        // Every claim has a verdict in every runtime, and 5 to 7 come from experiments run in each.
        for runtime in runtimes {
            #expect(Set(report.verdicts.filter { $0.runtime == runtime }.map(\.claim)) == Set(1...8))
            #expect(Set(report.experiments.filter { $0.runtime == runtime }.map(\.claim)) == [5, 6, 7])
        }
        #expect(!result.stderr.contains("█"))
    }

    @Test("the table honours NO_COLOR, filters, and ends with the verdicts and the advice")
    func table() throws {
        let result = try runTriad(
            [
                "compare", "--scale", "0.02", "--repeat", "1", "--workloads", "io", "--models", "threads", "--workers",
                "4",
                "--no-python",
            ],
            environment: ["NO_COLOR": "1"]
        )
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(!result.stdout.contains("\u{1B}["))
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("io") && $0.contains("threads") && $0.contains(" 4 ") })
        #expect(!lines.contains { $0.hasPrefix("cpu") })
        #expect(!lines.contains { $0.hasPrefix("io") && $0.contains("sequential") })
        #expect(result.stdout.contains("Verdicts"))
        #expect(result.stdout.contains("2. Threads still help I/O-bound work."))
        #expect(result.stdout.contains("Advice on this machine"))
        #expect(result.stdout.contains("cores"))
        #expect(result.stdout.contains("load average"))
    }

    @Test(
        "every bad value is refused with a clear message and status 64",
        arguments: [
            (["--scale", "inf"], "--scale"),
            (["--scale", "nan"], "--scale"),
            (["--scale", "0"], "--scale"),
            (["--workloads", ""], "--workloads names no workload"),
            (["--workloads", "gpu"], "unknown workload 'gpu'"),
            (["--models", ","], "--models names no model"),
            (["--models", "fibers"], "unknown model 'fibers'"),
            // Outside mpirun (or without the MPI trait) the mpi model says how to start it.
            (["--models", "mpi"], "mpirun -n 4"),
            (["--workers", "-3"], "--workers must be"),
            (["--workers", "0"], "--workers must be"),
            (["--repeat", "0"], "--repeat must be"),
            (["--repeat", "many"], "--repeat"),
            (["--python", "/nonexistent/python3"], "no executable file there"),
            (["--html", "/nonexistent/report.html"], "does not exist"),
        ]
    )
    func badArguments(arguments: [String], message: String) throws {
        let result = try runTriad(["compare"] + arguments)
        #expect(result.status == 64, "stdout: \(result.stdout)")
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("--version prints Triad's version, the commit and the Swift version")
    func version() throws {
        let result = try runTriad(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("triad 0."))
        #expect(result.stdout.contains("commit "))
        #expect(result.stdout.contains("Swift 6."))
    }

    @Test("--python-script prints the lab's Python, which uses the standard library alone")
    func pythonScript() throws {
        let result = try runTriad(["compare", "--python-script"])
        #expect(result.status == 0)
        let imports = result.stdout.split(separator: "\n").filter { $0.hasPrefix("import ") || $0.hasPrefix("from ") }
        let allowed: Set<String> = [
            "importlib", "json", "os", "resource", "sys", "sysconfig", "tempfile", "threading", "time",
        ]
        for line in imports {
            let module = line.split(separator: " ")[1].split(separator: ".")[0]
            #expect(allowed.contains(String(module)), "\(line)")
        }
        // The modules it imports on first use are the standard library's too.
        let lazy = result.stdout.matches(of: /Lazy\("([a-z_.]+)"\)/).map { String($0.1.split(separator: ".")[0]) }
        #expect(Set(lazy) == ["asyncio", "http", "concurrent", "multiprocessing"])
    }
}

/// The parts of the report the tests read.
struct ReportShape: Decodable {
    struct Spread: Decodable {
        var median: Double
        var min: Double
        var max: Double
    }
    struct Runtime: Decodable {
        var id: String
        var language: String
        var problem: String?
    }
    struct Row: Decodable {
        var runtime: String
        var workload: String
        var model: String
        var workers: Int
        var samples: Int
        var wallSeconds: Spread
        var peakRSSBytes: Spread
        var overheadPerJobSeconds: Spread
        var speedup: Spread?
        var agrees: Bool
    }
    struct Experiment: Decodable {
        var runtime: String
        var claim: Int
    }
    struct Verdict: Decodable {
        var claim: Int
        var runtime: String
        var outcome: String
        var evidence: String
    }
    var runtimes: [Runtime]
    var interrupted: Bool
    var interruption: String?
    var rows: [Row]
    var experiments: [Experiment]
    var verdicts: [Verdict]
}
