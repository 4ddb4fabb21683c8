import Testing
import TriadCore

private struct Square: Job {
    var value: Int
    func run() async throws -> Int { value * value }
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
}
