// The one conversion from `Duration` to nanoseconds that every module uses. A timeout such as `.seconds(.max)`
// means "no limit", so the conversion saturates instead of trapping, and a negative duration counts as zero.

extension Duration {
    /// The duration in whole nanoseconds, from 0 (for zero and negative durations) up to `UInt64.max`, which
    /// any longer duration saturates to.
    package var saturatingNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds > 0 || (seconds == 0 && attoseconds > 0) else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let (total, overflowAgain) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return overflowAgain ? .max : total
    }

    /// ``saturatingNanoseconds`` capped at `Int64.max`, for clocks and APIs that count in signed nanoseconds.
    package var saturatingSignedNanoseconds: Int64 {
        Int64(clamping: saturatingNanoseconds)
    }

    /// The instant this long after `now`, in nanoseconds on the same clock, saturating at `UInt64.max` (never).
    package func deadline(after now: UInt64) -> UInt64 {
        let (sum, overflow) = now.addingReportingOverflow(saturatingNanoseconds)
        return overflow ? .max : sum
    }
}

extension UInt64 {
    /// The milliseconds from `now` until this deadline, rounded up, as a `poll` timeout: -1 (wait without limit)
    /// for a deadline too far to express, 0 for one that has passed.
    package func pollTimeout(from now: UInt64) -> Int32 {
        guard self > now else { return 0 }
        let milliseconds = (self - now - 1) / 1_000_000 + 1
        return milliseconds > UInt64(Int32.max) ? -1 : Int32(milliseconds)
    }
}
