import Synchronization

/// Which way the codec takes for a type: its own `Codable` conformance, the bulk copy of an array of numbers or a
/// byte buffer, the type's own ``WireCodable`` functions (for one value or an array of them), or the special form
/// of optionals and dictionaries.
///
/// Finding out takes dynamic casts against conditional conformances, which cost more than encoding a small struct,
/// so the answer is worked out once per type and cached.
enum WirePath: UInt8, Sendable {
    case conformance
    case bulk
    case special
    case native
    case nativeArray

    private static let encodingPaths = Mutex<[ObjectIdentifier: WirePath]>([:])
    private static let decodingPaths = Mutex<[ObjectIdentifier: WirePath]>([:])

    static func forEncoding<T: Encodable>(_ type: T.Type) -> WirePath {
        let key = ObjectIdentifier(type)
        if let known = encodingPaths.withLock({ $0[key] }) { return known }
        let path: WirePath =
            if type is any WireBulkEncodable.Type { .bulk }
            else if type is any WireNativeEncodable.Type { .nativeArray }
            else if type is any WireCodable.Type { .native }
            else if type is any WireSpecialEncodable.Type { .special }
            else { .conformance }
        encodingPaths.withLock { $0[key] = path }
        return path
    }

    static func forDecoding<T: Decodable>(_ type: T.Type) -> WirePath {
        let key = ObjectIdentifier(type)
        if let known = decodingPaths.withLock({ $0[key] }) { return known }
        let path: WirePath =
            if type is any WireBulkDecodable.Type { .bulk }
            else if type is any WireNativeDecodable.Type { .nativeArray }
            else if type is any WireCodable.Type { .native }
            else if type is any WireSpecialDecodable.Type { .special }
            else { .conformance }
        decodingPaths.withLock { $0[key] = path }
        return path
    }
}
