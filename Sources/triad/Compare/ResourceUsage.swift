#if canImport(Glibc)
import Glibc
#endif

/// CPU time of this process and its finished children, and peak memory of processes, read from the kernel.
struct ResourceUsage {
    /// User plus system CPU time of this process, in seconds.
    var selfCPU: Double
    /// User plus system CPU time of children that have exited and been reaped, in seconds.
    var childrenCPU: Double

    /// Reads the current figures.
    static func now() -> ResourceUsage {
        ResourceUsage(
            selfCPU: cpuSeconds(RUSAGE_SELF),
            childrenCPU: cpuSeconds(RUSAGE_CHILDREN)
        )
    }

    private static func usage(_ who: __rusage_who) -> rusage {
        var usage = rusage()
        getrusage(__rusage_who_t(who.rawValue), &usage)
        return usage
    }

    private static func cpuSeconds(_ who: __rusage_who) -> Double {
        let usage = usage(who)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Resets this process's peak resident set to its current size, so the next reading covers one measurement.
    /// Linux allows this through `/proc/self/clear_refs`; where it is refused the peak stays process-wide.
    static func resetPeakRSS() {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        _ = write(fd, "5", 1)
        close(fd)
    }

    /// A process's peak resident set, in bytes (`VmHWM` in `/proc/<pid>/status`); this process's since the last
    /// reset when `pid` is `nil`. A process that has gone counts as 0.
    static func peakRSS(pid: Int32? = nil) -> Int {
        let path = pid.map { "/proc/\($0)/status" } ?? "/proc/self/status"
        guard let file = fopen(path, "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("VmHWM:") {
                let digits = text.filter(\.isNumber)
                return (Int(digits) ?? 0) * 1024
            }
        }
        return 0
    }
}
