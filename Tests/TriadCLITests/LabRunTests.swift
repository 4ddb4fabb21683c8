import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One small but complete run of the lab, shared by the tests that read its JSON and its HTML: every workload,
/// the sweeps, Swift and the python3 on PATH.
actor SmallRun {
    static let shared = SmallRun()
    private var result: (json: Data, html: String, stderr: String)?

    func get() throws -> (json: Data, html: String, stderr: String) {
        if let result { return result }
        let html = FileManager.default.temporaryDirectory.appendingPathComponent("triad-lab-\(getpid()).html").path
        let run = try runTriad(["compare", "--scale", "0.01", "--repeat", "1", "--sweep", "--json", "--html", html])
        guard run.status == 0 else { throw RunFailure(message: "triad compare exited \(run.status): \(run.stderr)") }
        let made = (Data(run.stdout.utf8), html, run.stderr)
        result = made
        return made
    }

    struct RunFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

@Suite("the lab's JSON and HTML", .serialized)
struct LabRunTests {
    @Test("the --json report conforms to the schema that --schema prints")
    func schema() async throws {
        let schema = try runTriad(["compare", "--schema"])
        #expect(schema.status == 0)
        let validator = try SchemaValidator(schema: Data(schema.stdout.utf8))
        let run = try await SmallRun.shared.get()
        let report = try JSONSerialization.jsonObject(with: run.json)
        let problems = validator.problems(of: report)
        #expect(problems.isEmpty, "\(problems.prefix(10))")

        // The validator is not a rubber stamp: a broken report fails it.
        var broken = try #require(report as? [String: Any])
        broken["rows"] = [["runtime": "swift", "wallSeconds": ["median": -1]]]
        broken["surprise"] = true
        // Through JSON and back, so that its numbers are what a parser makes of them.
        let reparsed = try JSONSerialization.jsonObject(with: JSONSerialization.data(withJSONObject: broken))
        let complaints = validator.problems(of: reparsed).map(\.description)
        #expect(complaints.contains { $0.contains("'surprise' is not in the schema") })
        #expect(complaints.contains { $0.contains("'workload' is missing") })
        #expect(complaints.contains { $0.contains("is below 0") })
    }

    @Test("the report records the machine, the versions and the sweeps")
    func contents() async throws {
        let run = try await SmallRun.shared.get()
        let report = try #require(try JSONSerialization.jsonObject(with: run.json) as? [String: Any])
        let machine = try #require(report["machine"] as? [String: Any])
        #expect((machine["cores"] as? Int ?? 0) >= 1)
        #expect((machine["memoryBytes"] as? Int ?? 0) > 0)
        let triad = try #require(report["triad"] as? [String: Any])
        #expect((triad["commit"] as? String ?? "").isEmpty == false)
        let sweeps = try #require(report["sweeps"] as? [[String: Any]])
        let cores = machine["cores"] as? Int ?? 1
        let swiftCPU = sweeps.filter { $0["runtime"] as? String == "swift" && $0["sweep"] as? String == "cpu-workers" }
        #expect(swiftCPU.count == 3 * 2 * cores)
        let swiftTiny = sweeps.filter { $0["runtime"] as? String == "swift" && $0["sweep"] as? String == "tiny-jobs" }
        #expect(swiftTiny.count == 4 * 4)
    }

    @Test("the HTML renders in headless Chromium: every chart drawn, every bar there, no script error")
    func html() async throws {
        let run = try await SmallRun.shared.get()
        let html = try String(contentsOfFile: run.html, encoding: .utf8)
        // Self-contained: nothing fetched from anywhere.
        for reference in ["src=", "<link", "url(", "@import", "href=\"http"] {
            #expect(!html.contains(reference), "the page refers to something outside it: \(reference)")
        }

        let report = try JSONDecoder().decode(ReportShape.self, from: run.json)
        let browser = try Chromium()
        let dom = try browser.dumpDOM(run.html)
        let body = try #require(dom.page.firstMatch(of: /<body([^>]*)>/)?.1)
        #expect(body.contains("data-errors=\"\""), "\(body)")
        #expect(!dom.console.contains { $0.contains("Uncaught") || $0.contains(":ERROR:") }, "\(dom.console)")

        // Bars: one per row with a value, per chart; sequential rows have no speedup or overhead bar.
        let speedupBars = report.rows.filter { $0.model != "sequential" && $0.workload != "startup" && $0.speedup != nil }
        let overheadBars = report.rows.filter { $0.model != "sequential" && $0.overheadPerJobSeconds.median > 0 }
        #expect(Self.drawn(in: dom.page, chart: "speedup") == speedupBars.count)
        #expect(Self.drawn(in: dom.page, chart: "memory") == report.rows.count)
        #expect(Self.drawn(in: dom.page, chart: "overhead") == overheadBars.count)
        #expect(Self.count(of: "class=\"bar\"", in: Self.chart("speedup", in: dom.page)) == speedupBars.count)
        // The sweeps: a line per runtime and model.
        let runtimes = report.runtimes.filter { $0.problem == nil }.count
        #expect(Self.drawn(in: dom.page, chart: "sweep-cpu-workers") == 3 * runtimes)
        #expect(Self.drawn(in: dom.page, chart: "sweep-tiny-jobs") == 4 * runtimes)
        // Every chart has titled axes.
        for chart in ["speedup", "memory", "overhead", "sweep-cpu-workers", "sweep-tiny-jobs"] {
            #expect(Self.count(of: "class=\"axis-title\"", in: Self.chart(chart, in: dom.page)) >= 1, "\(chart)")
        }

        let screenshot = try browser.screenshot(run.html)
        #expect(screenshot.count > 10_000)
        #expect(screenshot.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
    }

    /// The chart's own markup, from its opening tag to its end.
    static func chart(_ id: String, in page: String) -> Substring {
        guard let start = page.range(of: "id=\"\(id)\"") else { return "" }
        let rest = page[start.lowerBound...]
        return rest[..<(rest.range(of: "</svg>")?.upperBound ?? rest.endIndex)]
    }

    /// What the page's check wrote on the chart: the bars and lines that drew with a size.
    static func drawn(in page: String, chart id: String) -> Int? {
        let markup = chart(id, in: page)
        guard let match = markup.firstMatch(of: /data-drawn="(\d+)"/) else { return nil }
        return Int(match.1)
    }

    static func count(of needle: String, in text: Substring) -> Int {
        text.ranges(of: needle).count
    }
}

/// Debian's headless Chromium, as `.ci/run` installs it.
struct Chromium {
    let path: String

    init() throws {
        guard let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw SmallRun.RunFailure(message: "no chromium: install Debian's chromium (`apt-get install -y chromium`)")
        }
        path = found
    }

    private var common: [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--user-data-dir=\(FileManager.default.temporaryDirectory.path)/triad-chromium-\(getpid())"]
    }

    /// The page after its scripts ran, and the console's messages.
    func dumpDOM(_ file: String) throws -> (page: String, console: [String]) {
        let result = try run(common + ["--enable-logging=stderr", "--v=0", "--dump-dom", "file://\(file)"])
        let console = result.stderr.split(separator: "\n").filter { $0.contains("CONSOLE") }.map(String.init)
        return (result.stdout, console)
    }

    /// A PNG screenshot of the page.
    func screenshot(_ file: String) throws -> Data {
        let png = FileManager.default.temporaryDirectory.appendingPathComponent("triad-lab-\(getpid()).png").path
        _ = try run(common + ["--window-size=1100,3200", "--screenshot=\(png)", "file://\(file)"])
        return try Data(contentsOf: URL(fileURLWithPath: png))
    }

    private func run(_ arguments: [String]) throws -> TriadResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let errors = ErrorCollector(err.fileHandleForReading)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return TriadResult(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: errors.wait()
        )
    }
}
