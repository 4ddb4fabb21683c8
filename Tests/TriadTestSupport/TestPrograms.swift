#if canImport(Glibc)
import Glibc
#endif

/// The programs the package builds beside its test runner: test workers, peers and whole test programs.
public enum TestPrograms {
    /// The path of the program `name`, in the directory of the running test binary (or of the `.xctest` bundle
    /// directory that holds it).
    public static func path(of name: String) -> String {
        guard let runner = ProcFS.linkTarget("/proc/self/exe") else {
            preconditionFailure("the test runner cannot find its own binary through /proc/self/exe")
        }
        var directory = runner[..<(runner.lastIndex(of: "/") ?? runner.endIndex)]
        if directory.hasSuffix(".xctest") {
            directory = directory[..<(directory.lastIndex(of: "/") ?? directory.endIndex)]
        }
        return directory + "/" + name
    }
}
