import Testing

@testable import TriadCore

/// The one conversion from `Duration` to nanoseconds: saturating, so that a huge timeout means "no limit".
@Suite("Duration to nanoseconds")
struct DurationTests {
    @Test("ordinary durations convert exactly, and negative ones count as zero")
    func ordinary() {
        #expect(Duration.milliseconds(5).saturatingNanoseconds == 5_000_000)
        #expect(Duration.nanoseconds(1).saturatingNanoseconds == 1)
        #expect(Duration.zero.saturatingNanoseconds == 0)
        #expect(Duration.seconds(-1).saturatingNanoseconds == 0)
        #expect(Duration.milliseconds(-1).saturatingSignedNanoseconds == 0)
    }

    @Test("huge durations saturate instead of trapping")
    func huge() {
        #expect(Duration.seconds(Int64.max).saturatingNanoseconds == .max)
        #expect(Duration.seconds(Int64.max).saturatingSignedNanoseconds == .max)
        #expect(Duration.seconds(18_446_744_073).saturatingNanoseconds == 18_446_744_073_000_000_000)
        #expect(Duration.seconds(18_446_744_074).saturatingNanoseconds == .max)
    }

    @Test("a deadline after a huge duration is never, and poll waits without limit for it")
    func deadlines() {
        #expect(Duration.seconds(2).deadline(after: 10) == 2_000_000_010)
        #expect(Duration.seconds(Int64.max).deadline(after: 10) == .max)
        #expect(Duration.seconds(1).deadline(after: .max - 5) == .max)
        #expect(UInt64.max.pollTimeout(from: 10) == -1)
        #expect(UInt64(10).pollTimeout(from: 20) == 0)
        #expect(UInt64(10).pollTimeout(from: 10) == 0)
        #expect(UInt64(2_000_010).pollTimeout(from: 10) == 2)
        #expect(UInt64(2_000_011).pollTimeout(from: 10) == 3)
        #expect(UInt64(11).pollTimeout(from: 10) == 1)
    }
}
