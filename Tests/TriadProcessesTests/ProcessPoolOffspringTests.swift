import Glibc
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport
import TriadTestSupport

extension ProcessPoolTests {
    /// Jobs that start processes of their own, and jobs whose worker leaves its last words on standard error.
    @Suite("Process pool workers with offspring and last words", .serialized)
    struct ProcessPoolOffspringTests {
        /// A fresh path for an offspring's pid.
        private func pidFile() -> String {
            "/tmp/triad-offspring-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).pid"
        }

        /// The pid written to `path`, once the job wrote it.
        private func offspring(in path: String) -> pid_t? {
            guard let file = fopen(path, "r") else { return nil }
            defer {
                fclose(file)
                unlink(path)
            }
            var buffer = [CChar](repeating: 0, count: 32)
            guard fgets(&buffer, 32, file) != nil else { return nil }
            return pid_t(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }

        /// The handle's result, or nil if it has not come within `seconds`: a guard against a hang, not a timing.
        private func result<T: Sendable>(
            of handle: JobHandle<T>,
            within seconds: Int
        ) async -> Result<T, any Error>? {
            await withTaskGroup(of: Result<T, any Error>?.self) { group in
                group.addTask { await handle.result }
                group.addTask {
                    try? await Task.sleep(for: .seconds(seconds))
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
        }

        @Test("a job whose worker dies while a forked child holds its descriptors fails with workerCrashed")
        func forkedOffspringHoldsTheSocket() async throws {
            let pool = TestPools.pool(workers: 1)
            let path = pidFile()
            let handle = try pool.submit(StartOffspring(.fork, pidFile: path, killWorker: true))
            // The offspring lives two minutes and holds the worker's socket all that time; the pool must learn of
            // the worker's death from the process itself.
            let outcome = await result(of: handle, within: 30)
            let child = offspring(in: path)
            if let child { kill(child, SIGKILL) }
            #expect(child != nil)
            let error = outcome.flatMap { executorError($0) }
            #expect(error?.code == .workerCrashed)
            #expect((error?.underlying as? WorkerExit)?.signal == SIGKILL)
            #expect(try await pool.submit(Square(9)).value == 81)
            await pool.shutdown()
        }

        @Test("a program that a job spawns inherits none of the worker's descriptors")
        func spawnedOffspringInheritsNothing() async throws {
            let pool = TestPools.pool(workers: 1)
            let path = pidFile()
            let child = try await pool.submit(StartOffspring(.spawn, pidFile: path, killWorker: false)).value
            _ = offspring(in: path)
            defer { kill(child, SIGKILL) }
            #expect(child > 0)
            // What the program holds beyond standard input, output and error: files it opened itself (sleep reads
            // its locale), never the worker's socket, lifeline, progress page or lanes.
            var inherited: [String] = []
            for fd in ProcFS.numberedEntries(of: "/proc/\(child)/fd") where fd > 2 {
                let target = ProcFS.linkTarget("/proc/\(child)/fd/\(fd)") ?? ""
                if ["socket:", "pipe:", "/memfd:", "anon_inode:"].contains(where: target.hasPrefix) {
                    inherited.append("\(fd): \(target)")
                }
            }
            #expect(inherited.isEmpty, "the program inherited \(inherited)")
            await pool.shutdown()
        }

        @Test("a job whose worker dies while a spawned program runs on fails with workerCrashed")
        func spawnedOffspringOutlivesTheWorker() async throws {
            let pool = TestPools.pool(workers: 1)
            let path = pidFile()
            let handle = try pool.submit(StartOffspring(.spawn, pidFile: path, killWorker: true))
            let outcome = await result(of: handle, within: 30)
            if let child = offspring(in: path) { kill(child, SIGKILL) }
            #expect(outcome.flatMap { executorError($0) }?.code == .workerCrashed)
            await pool.shutdown()
        }

        @Test("a fatalError's message comes back in the job's error")
        func fatalErrorMessage() async throws {
            let pool = TestPools.pool(workers: 1)
            let error = executorError(await (try pool.submit(Crash(.fatalError))).result)
            #expect(error?.code == .workerCrashed)
            let exit = try #require(error?.underlying as? WorkerExit)
            #expect(exit.lastOutput.contains("a test job asked for a crash"))
            #expect(error?.message.contains("a test job asked for a crash") == true)
            #expect(exit.lastOutput.utf8.count <= 4096)
            #expect(try await pool.submit(Square(3)).value == 9)
            await pool.shutdown()
        }

        @Test("a worker that ends quietly leaves no last output")
        func quietExit() async throws {
            let pool = TestPools.pool(workers: 1)
            let error = executorError(await (try pool.submit(Crash(.exit3))).result)
            #expect((error?.underlying as? WorkerExit)?.exitStatus == 3)
            #expect((error?.underlying as? WorkerExit)?.lastOutput == "")
            await pool.shutdown()
        }
    }
}
