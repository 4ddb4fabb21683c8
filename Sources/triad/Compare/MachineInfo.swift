import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Machine {
    /// Reads this machine's cores, CPU model, memory, load and kernel.
    static func current() -> Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let kibibytes =
            meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .map { Int($0.filter(\.isNumber)) ?? 0 } ?? 0
        var loads = [Double](repeating: 0, count: 3)
        _ = getloadavg(&loads, 3)
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return Machine(
            cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), cpuModel: model, memoryBytes: kibibytes * 1024,
            loadAverage1m: loads[0], kernel: "Linux \(release)"
        )
    }
}
