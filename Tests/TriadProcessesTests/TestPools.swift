import Glibc
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport
import TriadTestSupport

/// Makes pools that run the test worker executable, built next to the test runner.
enum TestPools {
    static let registry: JobRegistry = {
        var registry = JobRegistry(TestJobs.all)
        for error in TestJobs.errors { registry.registerError(error) }
        return registry
    }()

    static var workerPath: String { TestPrograms.path(of: "TriadTestWorker") }

    static func configuration(workers: Int = 2, arguments: [String] = []) -> ProcessPoolConfiguration {
        var configuration = ProcessPoolConfiguration(workers: workers)
        configuration.executable = WorkerExecutable(path: workerPath, arguments: arguments)
        configuration.registry = registry
        return configuration
    }

    static func pool(workers: Int = 2, _ change: (inout ProcessPoolConfiguration) -> Void = { _ in })
        -> ProcessPoolExecutor
    {
        var configuration = configuration(workers: workers)
        change(&configuration)
        return ProcessPoolExecutor(configuration: configuration)
    }

    /// Whether a process is gone or a zombie.
    static func isDead(_ pid: Int32) -> Bool {
        if kill(pid, 0) != 0 { return true }
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return true }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 512)
        guard fgets(&buffer, 512, file) != nil else { return true }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return true }
        let state = text[text.index(close, offsetBy: 2)]
        return state == "Z" || state == "X"
    }

    /// The number of open file descriptors of this process.
    static func openFDCount() -> Int {
        ProcFS.numberedEntries(of: "/proc/self/fd").count
    }

    /// This process's resident set size in bytes.
    static func residentBytes() -> Int {
        guard let file = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(file) }
        var size = 0
        var resident = 0
        _ = withUnsafeMutablePointer(to: &size) { sizePointer in
            withUnsafeMutablePointer(to: &resident) { residentPointer in
                withVaList([sizePointer, residentPointer]) { vfscanf(file, "%ld %ld", $0) }
            }
        }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// Waits up to `seconds` for `condition`, polling: a hang guard, not a timing. Keep it to minutes: a loaded machine
/// can stall a test process for most of one.
func eventually(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// The executor error inside `result`, if it failed with one.
func executorError<T>(_ result: Result<T, any Error>) -> ExecutorError? {
    if case .failure(let error) = result { return error as? ExecutorError }
    return nil
}

/// Every process pool suite runs inside this one, one test at a time: they spawn and signal processes, and the leak
/// test counts this process's descriptors.
@Suite("Process pools", .serialized)
enum ProcessPoolTests {}
