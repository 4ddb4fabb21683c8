import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C and SIGTERM: the run stops, prints what it measured marked as interrupted, and leaves no process or shared
/// memory behind.
@Suite("triad compare interrupted", .serialized)
struct InterruptionTests {
    /// A run long enough to interrupt: the waiting workloads at full size, with the python3 on PATH.
    static let long = ["compare", "--workloads", "io,http,data", "--repeat", "5"]

    /// A running `triad`, read line by line on standard error.
    final class Running: @unchecked Sendable {
        // Used by the test's own thread only.
        let process = Process()
        let out = Pipe()
        let err = Pipe()
        private var buffered = Data()
        private var stderrText = ""

        /// Marks every process of this run, workers and Pythons included, as they inherit the environment.
        let marker = "TRIAD_TEST_RUN=\(UUID().uuidString)"

        init(_ executable: String, _ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            environment["TRIAD_TEST_RUN"] = String(marker.dropFirst("TRIAD_TEST_RUN=".count))
            process.environment = environment
            process.standardOutput = out
            process.standardError = err
            try process.run()
        }

        /// Blocks until standard error has a line containing `text`, and returns everything read so far.
        @discardableResult
        func waitForLine(containing text: String) -> String {
            let handle = err.fileHandleForReading
            while !stderrText.contains(text) {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffered.append(chunk)
                stderrText = String(decoding: buffered, as: UTF8.self)
            }
            return stderrText
        }

        /// Waits for the end; returns the status and all output.
        func finish() -> (status: Int32, stdout: String, stderr: String) {
            let errors = ErrorCollector(err.fileHandleForReading)
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), stderrText + errors.wait())
        }
    }

    /// The processes still alive that belong to one run: those whose environment carries its marker.
    static func labProcesses(_ run: Running) -> [String] {
        let marker = Data(run.marker.utf8)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { $0.allSatisfy(\.isNumber) && Int32($0) != getpid() }.compactMap { pid in
            guard let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                environment.split(separator: 0).contains(where: { $0.elementsEqual(marker) }),
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return nil }
            return "\(pid): " + String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        }
    }

    static func sharedSegments() -> Set<String> {
        Set(((try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? []).filter { $0.hasPrefix("triad") })
    }

    /// Waits for the processes a run left to go; they are killed as it ends, and the kernel takes a moment to reap.
    static func leftovers(_ run: Running) -> [String] {
        var left = labProcesses(run)
        for _ in 0..<200 where !left.isEmpty {
            usleep(10_000)
            left = labProcesses(run)
        }
        return left
    }

    @Test("SIGINT stops the run, prints the rows measured so far as interrupted, and exits 130")
    func sigint() throws {
        let segments = Self.sharedSegments()
        let run = try Running(triadPath, Self.long + ["--no-python"])
        run.waitForLine(containing: "measured io · threads")
        kill(run.process.processIdentifier, SIGINT)
        let result = run.finish()
        #expect(result.status == 130, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("INTERRUPTED by SIGINT"))
        #expect(result.stdout.split(separator: "\n").contains { $0.hasPrefix("io") && $0.contains("threads") })
        #expect(result.stdout.contains("Verdicts"))
        #expect(Self.leftovers(run) == [])
        #expect(Self.sharedSegments().subtracting(segments).isEmpty)
    }

    @Test("SIGTERM with Python under way writes the JSON and the HTML, marked as interrupted, and exits 143")
    func sigterm() throws {
        let html = FileManager.default.temporaryDirectory.appendingPathComponent("triad-interrupted-\(getpid()).html")
        let run = try Running(triadPath, Self.long + ["--json", "--html", html.path])
        // Wait until Python rows are under way, so that a Python process is likely alive when the signal lands.
        run.waitForLine(containing: "measured io · sequential")
        kill(run.process.processIdentifier, SIGTERM)
        let result = run.finish()
        #expect(result.status == 143, "stderr: \(result.stderr)")
        let report = try JSONDecoder().decode(ReportShape.self, from: Data(result.stdout.utf8))
        #expect(report.interrupted)
        #expect(report.interruption == "SIGTERM")
        #expect(report.rows.contains { $0.workload == "io" && $0.model == "sequential" })
        let page = try String(contentsOf: html, encoding: .utf8)
        #expect(page.contains("Interrupted by SIGTERM"))
        #expect(Self.leftovers(run) == [])
    }

    @Test("a run started with SIGINT ignored keeps ignoring it, and still stops cleanly on SIGTERM")
    func ignoredSigint() throws {
        // The shell ignores SIGINT, and exec keeps it ignored in triad, as for a background job of a script.
        let run = try Running(
            "/bin/sh", ["-c", "trap '' INT; exec \"$0\" \"$@\"", triadPath] + Self.long + ["--no-python"]
        )
        run.waitForLine(containing: "measured io · sequential")
        kill(run.process.processIdentifier, SIGINT)
        kill(run.process.processIdentifier, SIGTERM)
        let result = run.finish()
        #expect(result.status == 143, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("INTERRUPTED by SIGTERM"))
        #expect(!result.stderr.contains("SIGINT"))
        #expect(Self.leftovers(run) == [])
    }
}
