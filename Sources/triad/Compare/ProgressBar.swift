import Synchronization
import TriadCore

#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on standard error, drawn only when standard error is a terminal.
final class ProgressBar: Sendable {
    private let enabled: Bool
    private let label: String
    // The last drawn width in cells, so that redraws happen only when the bar moves.
    private let lastDrawn = Mutex<Int>(-1)
    private static let width = 30

    init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled
    }

    /// Whether standard error is a terminal, where a bar makes sense.
    static var isTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    func update(_ progress: MapProgress) {
        guard enabled else { return }
        let filled = Int(progress.fraction * Double(Self.width))
        let changed = lastDrawn.withLock { last in
            guard filled != last || progress.completed == progress.total else { return false }
            last = filled
            return true
        }
        guard changed else { return }
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: Self.width - filled)
        draw("\r\u{1B}[2K\(label) \(bar) \(progress.completed)/\(progress.total)")
    }

    func finish() {
        guard enabled else { return }
        draw("\r\u{1B}[2K")
    }

    private func draw(_ text: String) {
        var text = text
        text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
