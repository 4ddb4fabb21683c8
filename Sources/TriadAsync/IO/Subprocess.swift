import Subprocess

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// What a finished subprocess left behind: its exit status and its collected output.
public struct SubprocessOutput: Sendable, Hashable {
    /// The exit code, or `nil` if a signal ended the process.
    public var exitCode: Int32?
    /// The signal that ended the process, or `nil` if it exited.
    public var signal: Int32?
    /// Everything the process wrote to standard output, decoded as UTF-8.
    public var standardOutput: String
    /// Everything the process wrote to standard error, decoded as UTF-8.
    public var standardError: String

    /// Whether the process exited with code 0.
    public var succeeded: Bool { exitCode == 0 }
}

extension AsyncLoop {
    /// Runs a program as a subprocess and waits for it without blocking the loop: the analogue of
    /// `asyncio.create_subprocess_exec` followed by `communicate()`.
    ///
    /// The program is found on `PATH` unless `executable` contains a `/`. A non-zero exit is not an error: read
    /// ``SubprocessOutput/exitCode``. Cancelling the caller terminates the subprocess.
    ///
    /// - Parameters:
    ///   - executable: A program name (`"ls"`) or a path (`"/bin/ls"`).
    ///   - arguments: The arguments, without the program name.
    ///   - input: Bytes written to the program's standard input, which is then closed; `nil` for none.
    ///   - outputLimit: The most bytes collected from each of standard output and standard error.
    /// - Returns: The exit status and the output.
    /// - Throws: ``AsyncLoopError/Code/processFailed`` if the program cannot be started or writes more than
    ///   `outputLimit`; `CancellationError` if cancelled.
    public func runProcess(
        _ executable: String,
        arguments: [String] = [],
        input: [UInt8]? = nil,
        outputLimit: Int = 16 << 20
    ) async throws -> SubprocessOutput {
        let program: Executable = executable.contains("/") ? .path(FilePath(executable)) : .name(executable)
        do {
            let result = try await withTaskExecutorPreference(executor) {
                if let input {
                    return try await Subprocess.run(
                        program,
                        arguments: Arguments(arguments),
                        input: .array(input),
                        output: .string(limit: outputLimit),
                        error: .string(limit: outputLimit)
                    )
                }
                return try await Subprocess.run(
                    program,
                    arguments: Arguments(arguments),
                    output: .string(limit: outputLimit),
                    error: .string(limit: outputLimit)
                )
            }
            var output = SubprocessOutput(
                exitCode: nil,
                signal: nil,
                standardOutput: result.standardOutput,
                standardError: result.standardError
            )
            switch result.terminationStatus {
            case .exited(let code): output.exitCode = code
            case .signaled(let signal): output.signal = signal
            }
            return output
        } catch let error as CancellationError {
            throw error
        } catch {
            throw AsyncLoopError(
                .processFailed,
                message: "could not run \(executable): check that it exists and is executable, and its output size",
                underlying: error
            )
        }
    }
}
