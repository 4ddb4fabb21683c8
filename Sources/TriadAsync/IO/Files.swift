import NIOCore
import _NIOFileSystem

extension AsyncLoop {
    /// Reads a whole file without blocking the loop: the work runs on NIO's blocking thread pool and the caller
    /// resumes on the loop.
    ///
    /// - Parameters:
    ///   - path: The file's path.
    ///   - maxBytes: The largest file accepted (64 MiB by default).
    /// - Returns: The file's bytes.
    /// - Throws: ``AsyncLoopError/Code/fileFailed`` if the file cannot be opened or read, or is too large.
    public func readFile(at path: String, maxBytes: Int = 64 << 20) async throws -> [UInt8] {
        do {
            let buffer = try await withTaskExecutorPreference(executor) {
                try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
                    try await handle.readToEnd(maximumSizeAllowed: .bytes(Int64(maxBytes)))
                }
            }
            return Array(buffer.readableBytesView)
        } catch {
            throw AsyncLoopError(.fileFailed, message: "could not read \(path)", underlying: error)
        }
    }

    /// Reads a whole file as UTF-8 text without blocking the loop.
    ///
    /// - Parameters:
    ///   - path: The file's path.
    ///   - maxBytes: The largest file accepted (64 MiB by default).
    /// - Returns: The text; invalid UTF-8 is repaired with replacement characters, which is not an error.
    /// - Throws: ``AsyncLoopError/Code/fileFailed`` if the file cannot be opened or read, or is too large.
    public func readText(at path: String, maxBytes: Int = 64 << 20) async throws -> String {
        String(decoding: try await readFile(at: path, maxBytes: maxBytes), as: UTF8.self)
    }

    /// Writes bytes to a file without blocking the loop, creating it if needed.
    ///
    /// - Parameters:
    ///   - bytes: What to write.
    ///   - path: The file's path.
    ///   - append: Whether to add to the end of an existing file instead of replacing its contents.
    /// - Throws: ``AsyncLoopError/Code/fileFailed`` if the file cannot be opened or written.
    public func writeFile(_ bytes: some Sequence<UInt8> & Sendable, to path: String, append: Bool = false) async throws {
        let buffer = ByteBuffer(bytes: bytes)
        do {
            try await withTaskExecutorPreference(executor) {
                let options: OpenOptions.Write =
                    append ? .modifyFile(createIfNecessary: true) : .newFile(replaceExisting: true)
                try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(path), options: options) { handle in
                    let offset = append ? try await handle.info().size : 0
                    _ = try await handle.write(contentsOf: buffer.readableBytesView, toAbsoluteOffset: offset)
                }
            }
        } catch {
            throw AsyncLoopError(.fileFailed, message: "could not write \(path)", underlying: error)
        }
    }

    /// Writes text as UTF-8 to a file without blocking the loop, creating it if needed.
    ///
    /// - Parameters:
    ///   - text: What to write.
    ///   - path: The file's path.
    ///   - append: Whether to add to the end of an existing file instead of replacing its contents.
    /// - Throws: ``AsyncLoopError/Code/fileFailed`` if the file cannot be opened or written.
    public func writeText(_ text: String, to path: String, append: Bool = false) async throws {
        try await writeFile(Array(text.utf8), to: path, append: append)
    }
}
