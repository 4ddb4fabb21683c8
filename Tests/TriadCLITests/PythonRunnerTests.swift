import Foundation
import Testing

/// The Python side going wrong: no Python, a Python that fails, a Python that prints something else. Each gives one
/// clear message and a report of Swift alone, never a crash.
@Suite("triad compare's Python runner", .serialized)
struct PythonRunnerTests {
    static let quick = ["compare", "--scale", "0.01", "--repeat", "1", "--workloads", "startup", "--json"]

    @Test("without python3 on PATH it says so once and reports Swift alone")
    func noPython() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("triad-empty-path").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let result = try runTriad(Self.quick, environment: ["PATH": empty])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.ranges(of: "no python3 on PATH").count == 1, "stderr: \(result.stderr)")
        let report = try JSONDecoder().decode(ReportShape.self, from: Data(result.stdout.utf8))
        #expect(report.runtimes.map(\.id) == ["swift"])
        #expect(report.rows.allSatisfy { $0.runtime == "swift" })
        #expect(!report.rows.isEmpty)
    }

    @Test("a Python that fails is left out with its error, and its claims are not measured")
    func failing() throws {
        let python = try fakePython("failing-python", body: "echo 'Traceback: ImportError: boom' >&2\nexit 3")
        let result = try runTriad(Self.quick + ["--python", python])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("exited with status 3"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("boom"))
        let report = try JSONDecoder().decode(ReportShape.self, from: Data(result.stdout.utf8))
        let left = try #require(report.runtimes.first { $0.language == "python" })
        #expect(left.problem?.contains("boom") == true)
        #expect(report.rows.allSatisfy { $0.runtime == "swift" })
        let verdicts = report.verdicts.filter { $0.runtime == left.id }
        #expect(verdicts.count == 8)
        #expect(verdicts.allSatisfy { $0.outcome == "not measured" })
    }

    @Test("a Python that prints something other than the lab's JSON is left out with what it printed")
    func malformed() throws {
        let python = try fakePython("chatty-python", body: "echo 'hello from a wrapper'")
        let result = try runTriad(Self.quick + ["--python", python])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("printed something other than the lab's JSON"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("hello from a wrapper"))
        #expect(result.stderr.ranges(of: "chatty-python").count == 1)
    }

    @Test("a Python that answers at first and breaks mid-run keeps the rows before, and says why once")
    func breaksMidRun() throws {
        let real = try #require(
            ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
                ?? ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { "\($0)/python3" }
                .first { FileManager.default.isExecutableFile(atPath: $0) }
        )
        // It answers `info` but its `experiment` dies: the lab drops it from there on.
        let python = try fakePython(
            "breaking-python",
            body: "case \"$2\" in info) exec \(real) \"$@\";; *) echo 'Killed' >&2; kill -9 $$;; esac"
        )
        let result = try runTriad(Self.quick + ["--python", python])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("was killed by signal 9"), "stderr: \(result.stderr)")
        #expect(result.stderr.ranges(of: "left out").count == 1)
    }
}
