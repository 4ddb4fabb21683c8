import Foundation
import Testing
import TriadProcesses

@Suite("Large arrays made as the codec makes them")
struct LargeArraysTests {
    @Test("the array has the requested length and exactly what fill wrote, small or large")
    func filledAsWritten() {
        for count in [0, 1, 4095, 8 << 20] {
            let array = LargeArrays.make(count: count) { buffer in
                for index in buffer.indices { buffer[index] = UInt8(truncatingIfNeeded: index &* 7) }
            }
            #expect(array.count == count)
            #expect(array.indices.allSatisfy { array[$0] == UInt8(truncatingIfNeeded: $0 &* 7) })
        }
    }

    #if os(Linux)
    @Test("on Linux a large array's whole 2 MiB pages are marked for huge pages")
    func advisedForHugePages() throws {
        let array = LargeArrays.make(count: 16 << 20) { $0.initializeMemory(as: UInt8.self, repeating: 1) }
        // The advice covers the whole 2 MiB pages inside the array, so the kernel gives them a mapping of their own,
        // whose VmFlags list `hg` (huge pages advised).
        let huge: UInt = 2 << 20
        let address = array.withUnsafeBytes { (UInt(bitPattern: $0.baseAddress) + huge - 1) & ~(huge - 1) }
        // Read to the end: /proc files report no size, and a single read may stop at a page.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var inMapping = false
        var flags: String?
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), fields.count >= 5 {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inMapping = bounds.count == 2 && bounds[0] <= address && address < bounds[1]
            } else if inMapping, line.hasPrefix("VmFlags:") {
                flags = String(line)
            }
        }
        let found = try #require(flags)
        #expect(found.split(separator: " ").contains("hg"))
        #expect(array[0] == 1 && array[array.count - 1] == 1)
    }
    #endif
}
