import Foundation
import Glibc
import Testing
import TriadCore
import TriadProcesses
import TriadProcessesTestSupport

extension ProcessPoolTests {
    @Suite("Large payloads decoded straight from the lanes", .serialized)
    struct LargePayloadTests {
        static func pool(workers: Int = 1, _ change: (inout ProcessPoolConfiguration) -> Void = { _ in })
            -> ProcessPoolExecutor
        {
            SharedPayloadPoolTests.pool(workers: workers, change)
        }

        static func mixed(_ seed: Int, bytes: Int, values: Int) -> MixedPayload {
            MixedPayload(
                name: "payload \(seed)",
                bytes: (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ seed) },
                values: (0..<values).map { Double($0) * 0.5 + Double(seed) },
                small: [Int32(seed), -1, 7],
                tail: (0..<40_000).map { UInt16(truncatingIfNeeded: $0 &+ seed) },
                blob: Data((0..<(bytes / 2)).map { UInt8(truncatingIfNeeded: $0 &* 5 &+ seed) })
            )
        }

        @Test("a job of several large arrays and small fields comes back exactly, again and again")
        func mixedRoundTrip() async throws {
            let pool = Self.pool()
            for seed in 0..<3 {
                let job = Self.mixed(seed, bytes: (12 << 20) + seed, values: (3 << 20) - seed)
                #expect(try await pool.submit(job).value == job)
            }
            await pool.shutdown()
        }

        @Test("payloads just below, at and above the lane threshold and the borrowing size arrive intact")
        func aroundThresholds() async throws {
            let threshold = 256 << 10
            let pool = Self.pool { $0.sharedPayloadThreshold = threshold }
            // An encoded Echo is a 4-byte count and the bytes: these counts put its frame on both sides of the
            // threshold, and its array on both sides of the size from which the codec borrows arrays.
            let counts = Array(threshold - 6...threshold - 2) + [threshold, threshold + 1]
                + [(64 << 10) - 1, 64 << 10, (64 << 10) + 1, 0, 1]
            for count in counts {
                let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ count) }
                #expect(try await pool.submit(Echo(bytes)).value == bytes, "\(count) bytes")
            }
            await pool.shutdown()
            let socketOnly = Self.pool { $0.sharedPayloadThreshold = nil }
            for count in [(64 << 10) - 1, 64 << 10, 5 << 20] {
                let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &+ count) }
                #expect(try await socketOnly.submit(Echo(bytes)).value == bytes, "\(count) bytes, socket only")
            }
            await socketOnly.shutdown()
        }

        @Test("many large payloads in flight at once, in both directions, each arrive with their own bytes")
        func manyInFlight() async throws {
            let pool = Self.pool(workers: 2)
            let jobs = (0..<12).map { Self.mixed($0, bytes: (2 << 20) + $0 * 4099, values: (1 << 18) + $0) }
            let handles = try jobs.map { try pool.submit($0) }
            let doubles = try (0..<8).map { index in
                try pool.submit(ScaleDoubles((0..<((1 << 19) + index)).map { Double($0) }, by: Double(index)))
            }
            for (job, handle) in zip(jobs, handles) {
                #expect(try await handle.value == job)
            }
            for (index, handle) in doubles.enumerated() {
                let result = try await handle.value
                #expect(result.count == (1 << 19) + index)
                #expect(result.last == Double((1 << 19) + index - 1) * Double(index))
            }
            // A map sends its jobs in chunks, each a batch in one data frame.
            let batch = (0..<6).map { Self.mixed(100 + $0, bytes: (1 << 20) + $0, values: 1 << 17) }
            #expect(try await pool.map(batch) == batch)
            await pool.shutdown()
        }

        @Test("a worker that crashes with a large payload in its lane fails that job only; the next ones run")
        func crashWithLargePayload() async throws {
            let mappingsBefore = SharedPayloadPoolTests.laneMappings()
            let pool = Self.pool()
            let bytes = [UInt8](repeating: 3, count: 24 << 20)
            let crashed = try pool.submit(CrashWithBytes(bytes))
            let after = try pool.submit(Echo(bytes))
            let error = executorError(await crashed.result)
            #expect(error?.code == .workerCrashed)
            #expect(try await after.value == bytes)
            let job = Self.mixed(9, bytes: 8 << 20, values: 1 << 20)
            #expect(try await pool.submit(job).value == job)
            await pool.shutdown()
            let settled = await eventually(seconds: 120) { SharedPayloadPoolTests.laneMappings() <= mappingsBefore }
            #expect(settled, "lane mappings: \(mappingsBefore) before, \(SharedPayloadPoolTests.laneMappings()) after")
        }

        @Test("a corrupted lane reference or a forged mapped frame from a worker gives protocolViolation")
        func corruptedReferences() async throws {
            let pool = Self.pool()
            for kind in [LaneSabotage.Kind.outsideLane, .malformedReference, .mappedKind] {
                let error = executorError(await (try pool.submit(LaneSabotage(kind))).result)
                #expect(error?.code == .protocolViolation, "\(kind)")
                #expect(error?.jobName == LaneSabotage.jobName)
                let bytes = [UInt8](repeating: 5, count: 1 << 20)
                #expect(try await pool.submit(Echo(bytes)).value == bytes)
            }
            await pool.shutdown()
        }
    }
}
