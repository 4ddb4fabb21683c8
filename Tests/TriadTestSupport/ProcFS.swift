#if canImport(Glibc)
import Glibc
#endif

/// What the tests read of `/proc`: processes, threads and descriptors by number, and where links point.
public enum ProcFS {
    /// The entries of `directory` whose names are numbers (the processes of `/proc`, the threads of
    /// `/proc/<pid>/task`, the descriptors of `/proc/<pid>/fd`), in the order the kernel lists them; empty if it
    /// cannot be read.
    public static func numberedEntries(of directory: String) -> [Int32] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var found: [Int32] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let number = Int32(name) { found.append(number) }
        }
        return found
    }

    /// Where the symbolic link at `path` points, or nil if it cannot be read.
    public static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
