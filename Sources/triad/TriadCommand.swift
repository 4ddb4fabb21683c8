import ArgumentParser
import TriadProcesses

/// `triad`: runs the same workloads under Triad's concurrency models, in Swift and in Python, and shows the
/// measured differences.
@main
struct TriadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triad",
        abstract: "Measures the usual claims about Python's three concurrency models, in Swift and in Python.",
        discussion: """
            Triad gives Swift Python's three concurrency models behind one executor API: an asyncio-style event \
            loop, threads, and worker processes. `triad compare` runs CPU-bound and I/O-bound workloads under each \
            model, in Swift and in Python side by side, and gives each of the usual claims about the models a \
            verdict from the figures of that run.
            """,
        version: TriadVersion.line,
        subcommands: [CompareCommand.self],
        defaultSubcommand: CompareCommand.self
    )

    /// The entry point. Registering the jobs comes first: in a worker process started by a pool, the call runs
    /// the worker and never returns.
    static func main() async {
        // Under mpirun (the `mpi` model), every rank but rank 0 serves the lab's jobs from here on.
        MPIModel.bootstrap(jobs: compareJobs)
        await main(nil)
    }
}
