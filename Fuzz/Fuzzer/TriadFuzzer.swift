import CFuzzDriver
import TriadFuzzTargets

#if canImport(Glibc)
import Glibc
#endif

// One fuzzer binary for every target, chosen by TRIAD_FUZZ_TARGET (`frames`, `wire`, `ring`). Built with
// `-sanitize=fuzzer,address -DTRIAD_FUZZING` by `Fuzz/run`, it is a libFuzzer program; built normally, it replays
// inputs (`TriadFuzzer frames FILE-OR-DIRECTORY...`) or writes a target's seeds (`TriadFuzzer frames --seeds DIR`).

/// Writes `message` and a newline to standard error.
private func complain(_ message: String) {
    let line = message + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

@main
enum TriadFuzzer {
    static func main() throws {
        #if TRIAD_FUZZING
        guard let name = getenv("TRIAD_FUZZ_TARGET").map({ String(cString: $0) }), !FuzzTargets.seeds(for: name).isEmpty
        else {
            complain("set TRIAD_FUZZ_TARGET to frames, wire or ring")
            exit(64)
        }
        target = name
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(triad_fuzz_run(&argc, &argv) { data, size in
            FuzzTargets.run(target, Array(UnsafeBufferPointer(start: data, count: size)))
            return 0
        })
        #else
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let target = arguments.first, !FuzzTargets.seeds(for: target).isEmpty, arguments.count >= 2 else {
            complain("usage: TriadFuzzer frames|wire|ring (FILE-OR-DIRECTORY... | --seeds DIRECTORY)")
            exit(64)
        }
        if arguments[1] == "--seeds", arguments.count == 3 {
            let written = try FuzzCorpus.writeSeeds(for: target, to: arguments[2])
            print("wrote \(written) seeds for \(target) to \(arguments[2])")
        } else {
            let count = try FuzzCorpus.replay(target, paths: Array(arguments.dropFirst()))
            print("replayed \(count) inputs through \(target)")
        }
        #endif
    }
}

#if TRIAD_FUZZING
/// The target libFuzzer drives, set once before it starts: a C callback cannot capture it.
nonisolated(unsafe) private var target = ""

/// libFuzzer's own name for the target, which its library refers to even when started through its driver.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTargets.run(target, Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
#endif
