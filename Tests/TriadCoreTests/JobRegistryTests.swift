import Testing
import TriadCore

private struct Square: Job {
    var value: Int
    func run() async throws -> Int { value * value }
}

extension Square {
    /// Squares its value, and fails for a negative one.
    struct Failing: Job {
        var value: Int
        func run() async throws -> Int {
            guard value >= 0 else { throw ParseError(line: value) }
            return value * value
        }
    }
}

private struct Renamed: Job {
    static var jobName: String { "renamed-job" }
    func run() async throws -> String { "ok" }
}

private struct ParseError: Error, Codable, Hashable {
    var line: Int
}

private struct Fails: Job {
    var registered: Bool
    func run() async throws -> Int {
        if registered { throw ParseError(line: 3) }
        throw CancellationError()
    }
}

@Suite("JobRegistry")
struct JobRegistryTests {
    @Test("job names default to the qualified type name and can be overridden")
    func names() {
        #expect(Square.jobName.hasSuffix("Square"))
        #expect(Square.jobName.contains("."))
        #expect(Renamed.jobName == "renamed-job")
        let registry = JobRegistry([Square.self, Renamed.self])
        #expect(registry.contains(jobName: Square.jobName))
        #expect(registry.contains(jobName: "renamed-job"))
        #expect(!registry.contains(jobName: "nope"))
        #expect(registry.jobNames.count == 2)
    }

    @Test("a registered job runs from its encoded form")
    func runs() async throws {
        let registry = JobRegistry([Square.self])
        let input = try WireEncoder().encode(Square(value: 12))
        let output = try await registry.run(jobName: Square.jobName, input: input).get()
        #expect(try WireDecoder().decode(Int.self, from: output) == 144)
    }

    @Test("an unknown job and an undecodable payload come back as errors, not crashes")
    func badInput() async {
        let registry = JobRegistry([Square.self])
        let unknown = await registry.run(jobName: "Missing", input: [])
        #expect(throws: WireJobError.self) { try unknown.get() }
        let garbage = await registry.run(jobName: Square.jobName, input: [1, 2])
        #expect { try garbage.get() } throws: { ($0 as? WireJobError)?.description.contains("decode") == true }
    }

    @Test("registered errors come back as themselves, others as RemoteJobError")
    func errors() async throws {
        var registry = JobRegistry([Fails.self])
        registry.registerError(ParseError.self)
        for registered in [true, false] {
            let input = try WireEncoder().encode(Fails(registered: registered))
            guard case .failure(let wire) = await registry.run(jobName: Fails.jobName, input: input) else {
                Issue.record("the job did not fail")
                continue
            }
            let error = registry.error(from: wire, jobName: Fails.jobName)
            if registered {
                #expect(error as? ParseError == ParseError(line: 3))
            } else {
                let remote = try #require(error as? RemoteJobError)
                #expect(remote.typeName.contains("CancellationError"))
                #expect(remote.description.contains(Fails.jobName))
            }
        }
    }

    @Test("a job type's batch loop runs its jobs in order, hands each error over with its index and stops where told")
    func batchLoop() async {
        let squares = [3, 2, -1, 4, 5].map(Square.Failing.init(value:))
        var outputs: [Int] = [99]
        var failures: [(index: Int, error: any Error)] = []
        var asked: [Int] = []
        // From index 1: the job at 1 runs whatever the closure says, 2 fails, 3 runs, and the closure stops the part
        // before 4.
        let end = await Square.Failing._runJobs(
            squares, from: 1, to: 5, appendingTo: &outputs,
            failed: { index, error in failures.append((index, error)) },
            beforeJob: { index in
                asked.append(index)
                return index != 1 && index < 4
            }
        )
        #expect(end == 4)
        #expect(asked == [1, 2, 3, 4])
        #expect(outputs == [99, 4, 16])
        #expect(failures.map(\.index) == [2])
        #expect(failures.first?.error as? ParseError == ParseError(line: -1))
        // An empty range runs nothing and asks nothing.
        asked = []
        #expect(await Square.Failing._runJobs(squares, from: 3, to: 3, appendingTo: &outputs, failed: { _, _ in },
                                              beforeJob: { asked.append($0); return true }) == 3)
        #expect(asked.isEmpty)
    }
}
