import Glibc
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

extension ProcessPoolTests {
    @Suite("Large job payloads through shared memory", .serialized)
    struct SharedPayloadPoolTests {
        static func pool(workers: Int = 1, _ change: (inout ProcessPoolConfiguration) -> Void = { _ in })
            -> ProcessPoolExecutor
        {
            var configuration = TestProcesses.configuration
            configuration.workers = workers
            change(&configuration)
            return ProcessPoolExecutor(configuration: configuration)
        }

        /// The bytes of shared lanes this process has mapped.
        static func laneMappedBytes() -> Int {
            guard let file = fopen("/proc/self/maps", "r") else { return -1 }
            defer { fclose(file) }
            var total = 0
            var line = [CChar](repeating: 0, count: 4096)
            while fgets(&line, Int32(line.count), file) != nil {
                let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                guard text.contains("triad-lane"), let range = text.split(separator: " ").first else { continue }
                let bounds = range.split(separator: "-").compactMap { Int($0, radix: 16) }
                if bounds.count == 2 { total += bounds[1] - bounds[0] }
            }
            return total
        }

        /// The shared lanes this process has mapped.
        static func laneMappings() -> Int {
            guard let file = fopen("/proc/self/maps", "r") else { return -1 }
            defer { fclose(file) }
            var count = 0
            var line = [CChar](repeating: 0, count: 4096)
            while fgets(&line, Int32(line.count), file) != nil {
                let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if text.contains("triad-lane") { count += 1 }
            }
            return count
        }

        @Test("64 MiB of Doubles to a pool job and 64 MiB back arrive intact")
        func roundTrip64MiB() async throws {
            let pool = Self.pool()
            let values = (0..<(8 << 20)).map { Double($0) }
            for _ in 0..<2 {
                let result = try await pool.submit(ScaleDoubles(values, by: 2)).value
                #expect(result.count == values.count)
                #expect(result[0] == 0 && result[12_345] == 24_690 && result.last == Double(values.count - 1) * 2)
            }
            let bytes = (0..<(64 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            #expect(try await pool.submit(Echo(bytes)).value == bytes)
            // The payloads went through the lanes: both are mapped here, each at least 64 MiB long.
            #expect(Self.laneMappedBytes() >= 2 * (64 << 20))
            await pool.shutdown()
        }

        @Test("many large jobs in flight at once share the reused lanes without mixing them up")
        func pipelined() async throws {
            let pool = Self.pool(workers: 2)
            let handles = try (0..<24).map { index in
                try pool.submit(ScaleDoubles([Double](repeating: Double(index), count: 40_000 + index), by: 3))
            }
            for (index, handle) in handles.enumerated() {
                let result = try await handle.value
                #expect(result.count == 40_000 + index)
                #expect(result.allSatisfy { $0 == Double(index * 3) })
            }
            let small = try await pool.map((0..<100).map { Square($0) })
            #expect(small == (0..<100).map { $0 * $0 })
            await pool.shutdown()
        }

        @Test("with the threshold off, large payloads go through the socket and still arrive")
        func thresholdOff() async throws {
            let pool = Self.pool { $0.sharedPayloadThreshold = nil }
            let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0) }
            #expect(try await pool.submit(Echo(bytes)).value == bytes)
            #expect(try await pool.submit(MakeBytes(count: 1 << 20)).value.count == 1 << 20)
            await pool.shutdown()
        }

        @Test("oversized values: a job above the frame limit fails at submit, an output above it fails its job")
        func oversized() async throws {
            let pool = Self.pool { $0.maxFrameSize = 1 << 20 }
            #expect {
                try pool.submit(Echo([UInt8](repeating: 1, count: 2 << 20)))
            } throws: { error in
                (error as? ExecutorError)?.code == .codingFailed
            }
            let error = executorError(await (try pool.submit(MakeBytes(count: 2 << 20))).result)
            #expect(error?.code == .protocolViolation)
            #expect(error?.jobName == MakeBytes.jobName)
            // The pool replaced the worker and goes on, large payloads included.
            #expect(try await pool.submit(MakeBytes(count: 512 << 10)).value.count == 512 << 10)
            await pool.shutdown()
        }

        @Test("a worker SIGKILLed with a large payload in its lane fails one job; nothing is left mapped or in shm")
        func killedMidTransfer() async throws {
            let segmentsBefore = SharedMemory.listTriadSegments()
            let mappingsBefore = Self.laneMappings()
            let pool = Self.pool()
            let bytes = [UInt8](repeating: 9, count: 32 << 20)
            let marker = "/tmp/triad-hold-\(getpid())"
            unlink(marker)
            defer { unlink(marker) }
            let held = try pool.submit(HoldBytes(bytes, milliseconds: 30_000, marker: marker))
            let output = try pool.submit(MakeBytes(count: 16 << 20))
            #expect(await eventually(seconds: 120) { access(marker, F_OK) == 0 })
            for pid in pool.workerPIDs { kill(pid, SIGKILL) }
            let error = executorError(await held.result)
            #expect(error?.code == .workerCrashed)
            #expect(try await output.value.count == 16 << 20)
            #expect(try await pool.submit(Echo(bytes)).value.count == bytes.count)
            await pool.shutdown()
            let settled = await eventually(seconds: 120) { Self.laneMappings() <= mappingsBefore }
            #expect(settled, "lane mappings: \(mappingsBefore) before, \(Self.laneMappings()) after")
            #expect(SharedMemory.listTriadSegments() == segmentsBefore)
        }

        @Test("a Process carries large payloads the same way")
        func process() async throws {
            let values = (0..<(1 << 20)).map { Double($0) }
            let process = TestProcesses.make(ScaleDoubles(values, by: 0.5))
            try process.start()
            let result = try await process.value
            #expect(result.count == values.count && result[1000] == 500)
        }
    }
}
