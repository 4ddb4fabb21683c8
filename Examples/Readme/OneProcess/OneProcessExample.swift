import Triad

/// Renders a scene in a process of its own, reporting progress through the pipe its parent passed it.
struct Render: Job {
    var scene: String
    func run() async throws -> String {
        let progress = try Pipe(inheriting: .passed(0))
        for percent in stride(from: 0, through: 100, by: 25) { try await progress.send(percent) }
        return "\(scene).png"
    }
}

@main struct OneProcessExample {
    static func main() async throws {
        ProcessPool.bootstrap(jobs: [Render.self])

        let (parentEnd, childEnd) = try Pipe.duplex()
        let render = Process(Render(scene: "intro"), passing: [childEnd.descriptor])  // the job opens .passed(0)
        try render.start()
        childEnd.close()
        for _ in 0..<5 { print(try await parentEnd.receive(Int.self), "%") }
        print(try await render.value)       // a crash throws ExecutorError.workerCrashed, naming the signal
    }
}
