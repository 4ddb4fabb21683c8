import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Triad's version, and the commit of the checkout `triad` was built from.
enum TriadVersion {
    /// The release this build belongs to.
    static let number = "0.1.0"

    /// The Swift compiler that built this binary, as major.minor.
    static let swift: String = {
        #if compiler(>=6.5)
            "6.5 or later"
        #elseif compiler(>=6.4)
            "6.4"
        #elseif compiler(>=6.3)
            "6.3"
        #elseif compiler(>=6.2)
            "6.2"
        #else
            "before 6.2"
        #endif
    }()

    /// The commit of the source checkout, asked of git in the folder this file was compiled from, with `-dirty`
    /// when the work tree has changes; "unknown" when the sources or git are not there (a copied binary).
    static let commit: String = {
        let folder = String(
            #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
        guard let head = shell("git -C '\(folder)' rev-parse --short=12 HEAD 2>/dev/null"), !head.isEmpty else {
            return "unknown"
        }
        let changes = shell("git -C '\(folder)' status --porcelain --untracked-files=no 2>/dev/null") ?? ""
        return changes.isEmpty ? head : head + "-dirty"
    }()

    /// The line `triad --version` prints.
    static var line: String { "triad \(number) (commit \(commit), Swift \(swift))" }

    private static func shell(_ command: String) -> String? {
        guard let pipe = popen(command, "r") else { return nil }
        var output = ""
        var buffer = [CChar](repeating: 0, count: 256)
        while fgets(&buffer, Int32(buffer.count), pipe) != nil {
            output += String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        guard pclose(pipe) == 0 else { return nil }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
