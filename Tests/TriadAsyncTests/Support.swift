import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The identity of the calling OS thread.
func threadID() -> UInt {
    UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(bitPattern: UInt(pthread_self()))))
}

/// A thread-safe list that tasks append to, for checking order and thread identity.
final class Recorder<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])

    func append(_ item: Element) { items.withLock { $0.append(item) } }

    var all: [Element] { items.withLock { $0 } }
}

/// A log handler that keeps every message, for tests that check what the loop reports.
struct CapturingLogHandler: LogHandler {
    let store: Recorder<(Logger.Level, String, Logger.Metadata)>
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        store.append((event.level, "\(event.message)", event.metadata ?? [:]))
    }

    /// A logger writing to a new store, and the store.
    static func make() -> (Logger, Recorder<(Logger.Level, String, Logger.Metadata)>) {
        let store = Recorder<(Logger.Level, String, Logger.Metadata)>()
        let logger = Logger(label: "test") { _ in CapturingLogHandler(store: store) }
        return (logger, store)
    }
}
