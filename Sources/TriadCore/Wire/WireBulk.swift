#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// Fast paths of the codec. Arrays of fixed-width numbers and byte buffers are copied in one piece, in the same
// layout an element-by-element encoding would produce (a 4-byte count, then little-endian elements), so both
// sides agree whichever path they take. Optionals carry a presence byte, and dictionaries are encoded as pairs,
// because a positional format cannot use the keyed containers that their conformances ask for.

#if !_endian(little)
#error("Triad's wire format copies numbers in bulk and assumes a little-endian machine")
#endif

/// A number that can be copied in bulk: fixed width and stored little-endian on every platform Triad supports.
protocol WireBulkElement: BitwiseCopyable, Sendable {}
extension Int: WireBulkElement {}
extension Int8: WireBulkElement {}
extension Int16: WireBulkElement {}
extension Int32: WireBulkElement {}
extension Int64: WireBulkElement {}
extension UInt: WireBulkElement {}
extension UInt8: WireBulkElement {}
extension UInt16: WireBulkElement {}
extension UInt32: WireBulkElement {}
extension UInt64: WireBulkElement {}
extension Float: WireBulkElement {}
extension Double: WireBulkElement {}

protocol WireBulkEncodable {
    func wireEncode(into sink: WireSink) throws
}

protocol WireBulkDecodable {
    static func wireDecode(from source: WireSource) throws -> Self
}

extension WireSource {
    /// Reads a count and returns the bytes of that many elements of `stride` bytes each.
    func readBulk(stride: Int) throws(WireError) -> (count: Int, bytes: UnsafeRawBufferPointer) {
        let count = try readLength(minimumStride: stride)
        let length = count * stride
        defer { offset += length }
        return (count, UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]))
    }
}

extension Array: WireBulkEncodable where Element: WireBulkElement {
    func wireEncode(into sink: WireSink) throws {
        try sink.writeLength(count)
        if sink.outOfLine.borrow(self, at: sink.bytes.count) { return }
        withUnsafeBytes { sink.bytes.append(contentsOf: $0) }
    }
}

extension Array: WireBulkDecodable where Element: WireBulkElement {
    static func wireDecode(from source: WireSource) throws -> [Element] {
        let (count, raw) = try source.readBulk(stride: MemoryLayout<Element>.stride)
        return [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            WireLargeBuffers.prepare(UnsafeMutableRawBufferPointer(buffer))
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
            initialized = count
        }
    }
}

extension Data: WireBulkEncodable {
    func wireEncode(into sink: WireSink) throws {
        try sink.writeLength(count)
        if sink.outOfLine.borrow(self, at: sink.bytes.count) { return }
        withUnsafeBytes { sink.bytes.append(contentsOf: $0) }
    }
}

extension Data: WireBulkDecodable {
    static func wireDecode(from source: WireSource) throws -> Data {
        let bytes = try source.readBulk(stride: 1).bytes
        return WireLargeBuffers.data(copying: bytes) ?? Data(bytes)
    }
}

protocol WireSpecialEncodable {
    func wireEncode(into sink: WireSink) throws
}

protocol WireSpecialDecodable {
    static func wireDecode(from source: WireSource) throws -> Self
}

extension Optional: WireSpecialEncodable where Wrapped: Encodable {
    func wireEncode(into sink: WireSink) throws {
        switch self {
        case .none:
            sink.bytes.append(0)
        case .some(let wrapped):
            sink.bytes.append(1)
            try sink.encodeValue(wrapped)
        }
    }
}

extension Optional: WireSpecialDecodable where Wrapped: Decodable {
    static func wireDecode(from source: WireSource) throws -> Wrapped? {
        try source.readBool() ? try source.decodeValue(Wrapped.self) : nil
    }
}

extension Dictionary: WireSpecialEncodable where Key: Encodable, Value: Encodable {
    func wireEncode(into sink: WireSink) throws {
        try sink.writeLength(count)
        for (key, value) in self {
            try sink.encodeValue(key)
            try sink.encodeValue(value)
        }
    }
}

extension Dictionary: WireSpecialDecodable where Key: Decodable, Value: Decodable {
    static func wireDecode(from source: WireSource) throws -> [Key: Value] {
        let count = try source.readLength(minimumStride: 0)
        var dictionary: [Key: Value] = [:]
        dictionary.reserveCapacity(Swift.min(count, source.remaining))
        for _ in 0..<count {
            let key = try source.decodeValue(Key.self)
            dictionary[key] = try source.decodeValue(Value.self)
        }
        return dictionary
    }
}

// An array of any other `Codable` element: its count and its elements, the bytes its unkeyed container writes, but
// without the container, whose existential calls and per-element count update cost as much as a small element.
extension Array: WireSpecialEncodable where Element: Encodable {
    func wireEncode(into sink: WireSink) throws {
        try sink.writeLength(count)
        for index in indices { try sink.encodeValue(self[index]) }
    }
}

extension Array: WireSpecialDecodable where Element: Decodable {
    static func wireDecode(from source: WireSource) throws -> [Element] {
        let count = try source.readLength(minimumStride: 0)
        var elements: [Element] = []
        // An element may take no bytes; reserve no more than the input could hold, so a hostile count cannot make
        // a huge allocation.
        elements.reserveCapacity(Swift.min(count, source.remaining))
        for _ in 0..<count { elements.append(try source.decodeValue(Element.self)) }
        return elements
    }
}
