import Synchronization

/// Which way the codec takes for a type: its own `Codable` conformance, the bulk copy of an array of numbers or a
/// byte buffer, or the special form of optionals and dictionaries.
///
/// Finding out takes dynamic casts against conditional conformances, which cost more than encoding a small struct,
/// so the answer is worked out once per type and cached.
enum WirePath: UInt8, Sendable {
    case conformance
    case bulk
    case special

    private static let encodingPaths = Mutex<[ObjectIdentifier: WirePath]>([:])
    private static let decodingPaths = Mutex<[ObjectIdentifier: WirePath]>([:])

    static func forEncoding<T: Encodable>(_ type: T.Type) -> WirePath {
        let key = ObjectIdentifier(type)
        if let known = encodingPaths.withLock({ $0[key] }) { return known }
        let path: WirePath =
            type is any WireBulkEncodable.Type ? .bulk : type is any WireSpecialEncodable.Type ? .special : .conformance
        encodingPaths.withLock { $0[key] = path }
        return path
    }

    static func forDecoding<T: Decodable>(_ type: T.Type) -> WirePath {
        let key = ObjectIdentifier(type)
        if let known = decodingPaths.withLock({ $0[key] }) { return known }
        let path: WirePath =
            type is any WireBulkDecodable.Type ? .bulk : type is any WireSpecialDecodable.Type ? .special : .conformance
        decodingPaths.withLock { $0[key] = path }
        return path
    }
}
