import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A program run to its end in a process group of its own, with its output in files. Cancelling the waiting task
/// stops the whole group: SIGINT first, so that Python runs its `finally` blocks and frees its shared memory, then
/// SIGKILL a second later for whatever is left, worker processes included.
enum ChildProcess {
    /// How a child ended.
    enum Exit: Equatable, CustomStringConvertible {
        case status(Int32)
        case signal(Int32)

        var description: String {
            switch self {
            case .status(let code): "exited with status \(code)"
            case .signal(let number): "was killed by signal \(number)"
            }
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Runs `executable` with `arguments`, its standard output and error going to the two paths, and returns how it
    /// ended. Standard input is `/dev/null`; SIGINT and SIGTERM have their default actions in the child even when
    /// this process ignores them.
    static func run(
        _ executable: String, _ arguments: [String], stdout: String, stderr: String
    ) async throws -> Exit {
        let pid = try spawn(executable, arguments, stdout: stdout, stderr: stderr)
        let exit = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Exit, Never>) in
                Foundation.Thread.detachNewThread {
                    var status: Int32 = 0
                    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                    // Whatever of the group outlives its leader (a worker process) goes with it.
                    kill(-pid, SIGKILL)
                    let signal = status & 0x7F
                    continuation.resume(returning: signal == 0 ? .status((status >> 8) & 0xFF) : .signal(signal))
                }
            }
        } onCancel: {
            kill(-pid, SIGINT)
            DispatchQueue.global().asyncAfter(deadline: .now() + 1) { kill(-pid, SIGKILL) }
        }
        try Task.checkCancellation()
        return exit
    }

    private static func spawn(_ executable: String, _ arguments: [String], stdout: String, stderr: String) throws
        -> pid_t
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        )
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw Failure(message: "cannot run \(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }
}
