import Synchronization
import TriadCore

/// Every job type's name, computed once. The default ``Job/jobName`` is `String(reflecting:)`, which walks the
/// type's metadata each time; at hundreds of thousands of jobs a second that walk was a seventh of the submit path.
enum JobNames {
    private static let cache = Mutex<[ObjectIdentifier: String]>([:])

    static func name<J: Job>(of type: J.Type) -> String {
        let key = ObjectIdentifier(type)
        if let name = cache.withLock({ $0[key] }) { return name }
        let name = J.jobName
        cache.withLock { $0[key] = name }
        return name
    }
}

extension Job {
    /// ``Job/jobName``, cached per type.
    static var cachedJobName: String { JobNames.name(of: Self.self) }
}
