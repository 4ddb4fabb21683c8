import Foundation
import Testing

/// Runs the real `triad` binary built beside the tests.
private func runTriad(_ arguments: [String], environment: [String: String] = [:]) throws -> (
    status: Int32, stdout: String, stderr: String
) {
    let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    let process = Process()
    process.executableURL = directory.appendingPathComponent("triad")
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

private struct ReportShape: Decodable {
    struct Row: Decodable {
        var workload: String
        var model: String
        var workers: Int
        var jobs: Int
        var wallSeconds: Double
        var cpuSeconds: Double
        var speedup: Double?
        var peakRSSBytes: Int
        var overheadPerJobMicroseconds: Double
        var agrees: Bool
    }
    var cores: Int
    var rows: [Row]
}

@Suite("triad compare", .serialized)
struct CompareCommandTests {
    @Test("--json gives one agreeing row per workload and model")
    func json() throws {
        let result = try runTriad(["compare", "--scale", "0.02", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let report = try JSONDecoder().decode(ReportShape.self, from: Data(result.stdout.utf8))
        let cells = Set(report.rows.map { "\($0.workload)/\($0.model)" })
        for workload in ["cpu", "io", "http", "tiny"] {
            for model in ["sequential", "threads", "processes", "async"] {
                #expect(cells.contains("\(workload)/\(model)"))
            }
        }
        // The data-movement workloads compare the pool with the raw limits, which their sequential rows measure.
        for workload in ["data", "data-pipe"] {
            for model in ["sequential", "processes"] {
                #expect(cells.contains("\(workload)/\(model)"))
            }
        }
        for row in report.rows {
            #expect(row.agrees)
            #expect(row.jobs > 0)
            #expect(row.wallSeconds > 0)
            #expect(row.peakRSSBytes > 1_000_000)
            if row.model == "processes" {
                // The workers' own memory counts too: more than the parent alone.
                #expect(row.peakRSSBytes > 2 * 1_000_000 * row.workers)
            }
            #expect((row.speedup ?? 0) > 0)
            #expect(row.model == "sequential" ? row.workers == 1 : row.workers >= 1)
        }
        // Waiting jobs overlap on the thread pool and on the loop, so both beat the sequential row clearly.
        for row in report.rows where row.workload == "http" && (row.model == "threads" || row.model == "async") {
            #expect((row.speedup ?? 0) > 2, "\(row.model) fetched no faster than one request at a time")
        }
        // Progress goes to a terminal only; the test's stderr is a pipe.
        #expect(!result.stderr.contains("█"))
    }

    @Test("the table honours NO_COLOR and filters by workload and model")
    func table() throws {
        let result = try runTriad(
            ["compare", "--scale", "0.02", "--workloads", "io", "--models", "threads", "--workers", "4"],
            environment: ["NO_COLOR": "1"]
        )
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(!result.stdout.contains("\u{1B}["))
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("io") && $0.contains("threads") && $0.contains(" 4 ") })
        #expect(!lines.contains { $0.hasPrefix("cpu") })
        #expect(!lines.contains { $0.hasPrefix("io") && $0.contains("sequential") })
    }

    @Test("an unknown workload or model is refused with the valid choices")
    func badArguments() throws {
        let workload = try runTriad(["compare", "--workloads", "gpu"])
        #expect(workload.status != 0)
        #expect(workload.stderr.contains("unknown workload 'gpu'"))
        #expect(workload.stderr.contains("cpu, io, http, tiny"))
        let model = try runTriad(["compare", "--models", "fibers"])
        #expect(model.status != 0)
        #expect(model.stderr.contains("unknown model 'fibers'"))
        let scale = try runTriad(["compare", "--scale", "0"])
        #expect(scale.status != 0)
        #expect(scale.stderr.contains("--scale"))
    }
}
