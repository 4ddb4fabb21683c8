import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `triad` binary built beside the tests.
let triadPath: String = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    .appendingPathComponent("triad").path

/// What a finished run of `triad` printed.
struct TriadResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the real `triad` binary to its end.
func runTriad(_ arguments: [String], environment: [String: String] = [:]) throws -> TriadResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: triadPath)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Standard error is read on its own thread, so that neither pipe can fill while the other is read.
    let errors = ErrorCollector(err.fileHandleForReading)
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return TriadResult(
        status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: errors.wait()
    )
}

/// Reads a pipe to its end on a thread of its own.
final class ErrorCollector: @unchecked Sendable {
    // Written by the reading thread before it signals `done`; read only after `done`.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Foundation.Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A folder of fake Python interpreters: shell scripts that misbehave in a given way.
func fakePython(_ name: String, body: String) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("triad-cli-tests-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let path = folder.appendingPathComponent(name).path
    try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
    return path
}
