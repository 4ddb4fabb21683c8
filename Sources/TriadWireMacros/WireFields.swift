// The field helpers that `@WireCodable`'s code calls. Their overloads let the compiler, not the macro, pick the
// fastest form of each property from its type: the macro sees only syntax, and a type's name does not say whether
// it is a number, a `WireCodable` type or a type alias of either. A read names its type (`Int?.self`) because
// overloads that differ only in their result are ambiguous. Every overload is inlinable and a single call to
// the primitive a hand-written conformance would call, so a release build compiles the derived form to the same
// code. Each one throws, so that the macro can write `try` before every field without a warning.

/// A value that `WireWriter` writes and `WireReader` reads with a primitive of their own:
/// the fixed-width integers, `Float`, `Double`, `Bool` and `String`.
///
/// An implementation detail of `@WireCodable`, public only because the code it writes calls it; do not conform
/// other types.
public protocol _WirePrimitive: Codable {
    /// Writes the value with the writer's primitive for its type.
    ///
    /// - Throws: `WireError` only for a `String` of 4 GiB or more.
    func _write(to writer: inout WireWriter) throws(WireError)

    /// Reads a value with the reader's primitive for its type.
    ///
    /// - Throws: `WireError` when the bytes end early or do not hold a valid value.
    static func _read(from reader: inout WireReader) throws(WireError) -> Self
}

extension Int: _WirePrimitive {
    /// Writes an `Int` as 8 bytes.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads an `Int`. - Throws: `WireError` when the bytes end or the value does not fit.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> Int {
        try reader.read(Int.self)
    }
}

extension Int8: _WirePrimitive {
    /// Writes an `Int8`.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads an `Int8`. - Throws: `WireError` when the bytes end.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> Int8 {
        try reader.read(Int8.self)
    }
}

extension Int16: _WirePrimitive {
    /// Writes an `Int16`.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads an `Int16`. - Throws: `WireError` when the bytes end.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> Int16 {
        try reader.read(Int16.self)
    }
}

extension Int32: _WirePrimitive {
    /// Writes an `Int32`.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads an `Int32`. - Throws: `WireError` when the bytes end.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> Int32 {
        try reader.read(Int32.self)
    }
}

extension Int64: _WirePrimitive {
    /// Writes an `Int64`.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads an `Int64`. - Throws: `WireError` when the bytes end.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> Int64 {
        try reader.read(Int64.self)
    }
}

extension UInt: _WirePrimitive {
    /// Writes a `UInt` as 8 bytes.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads a `UInt`. - Throws: `WireError` when the bytes end or the value does not fit.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> UInt {
        try reader.read(UInt.self)
    }
}

extension UInt8: _WirePrimitive {
    /// Writes a `UInt8`.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads a `UInt8`. - Throws: `WireError` when the bytes end.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> UInt8 {
        try reader.read(UInt8.self)
    }
}

extension UInt16: _WirePrimitive {
    /// Writes a `UInt16`.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads a `UInt16`. - Throws: `WireError` when the bytes end.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> UInt16 {
        try reader.read(UInt16.self)
    }
}

extension UInt32: _WirePrimitive {
    /// Writes a `UInt32`.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads a `UInt32`. - Throws: `WireError` when the bytes end.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> UInt32 {
        try reader.read(UInt32.self)
    }
}

extension UInt64: _WirePrimitive {
    /// Writes a `UInt64`.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads a `UInt64`. - Throws: `WireError` when the bytes end.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> UInt64 {
        try reader.read(UInt64.self)
    }
}

extension Float: _WirePrimitive {
    /// Writes a `Float` by its bit pattern.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads a `Float`. - Throws: `WireError` when the bytes end.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> Float {
        try reader.read(Float.self)
    }
}

extension Double: _WirePrimitive {
    /// Writes a `Double` by its bit pattern.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads a `Double`. - Throws: `WireError` when the bytes end.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> Double {
        try reader.read(Double.self)
    }
}

extension Bool: _WirePrimitive {
    /// Writes a `Bool` as one byte.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) { writer.write(self) }
    /// Reads a `Bool`. - Throws: `WireError` when the bytes end or the byte is not 0 or 1.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> Bool {
        try reader.read(Bool.self)
    }
}

extension String: _WirePrimitive {
    /// Writes a `String` as its UTF-8 byte count and bytes.
    ///
    /// - Throws: `WireError.Code.encodingFailed` for a string of 4 GiB or more.
    @inlinable @inline(__always) public func _write(to writer: inout WireWriter) throws(WireError) {
        try writer.write(self)
    }
    /// Reads a `String`. - Throws: `WireError` when the bytes end or are not UTF-8.
    @inlinable @inline(__always) public static func _read(from reader: inout WireReader) throws(WireError) -> String {
        try reader.read(String.self)
    }
}

extension WireWriter {
    /// Writes a number, a `Bool` or a `String` with its primitive. Called by `@WireCodable`'s code.
    ///
    /// - Throws: `WireError` only for a `String` of 4 GiB or more.
    @inlinable @inline(__always)
    public mutating func _writeField<Value: _WirePrimitive>(_ value: Value) throws(WireError) {
        try value._write(to: &self)
    }

    /// Writes an optional number, `Bool` or `String`: a presence byte, then the value if there is one, as the
    /// codec writes any optional. Called by `@WireCodable`'s code.
    ///
    /// - Throws: `WireError` only for a `String` of 4 GiB or more.
    @inlinable @inline(__always)
    public mutating func _writeField<Value: _WirePrimitive>(_ value: Value?) throws(WireError) {
        if let value {
            write(true)
            try value._write(to: &self)
        } else {
            write(false)
        }
    }

    /// Writes a `WireCodable` value through its own `encode(to:)`. Called by `@WireCodable`'s code.
    ///
    /// - Throws: What the value's `encode(to:)` throws.
    @inlinable @inline(__always)
    public mutating func _writeField<Value: WireCodable>(_ value: Value) throws(WireError) {
        try value.encode(to: &self)
    }

    /// Writes an optional `WireCodable` value: a presence byte, then the value through its own
    /// `encode(to:)`. Called by `@WireCodable`'s code.
    ///
    /// - Throws: What the value's `encode(to:)` throws.
    @inlinable @inline(__always)
    public mutating func _writeField<Value: WireCodable>(_ value: Value?) throws(WireError) {
        if let value {
            write(true)
            try value.encode(to: &self)
        } else {
            write(false)
        }
    }

    /// Writes an array of `WireCodable` values: a 4-byte count, then each element through its own
    /// `encode(to:)`, as the codec writes such an array. Called by `@WireCodable`'s code.
    ///
    /// - Throws: `WireError.Code.encodingFailed` for an array of 2³² elements or more, and what an
    ///   element's `encode(to:)` throws.
    @inlinable
    public mutating func _writeField<Element: WireCodable>(_ value: [Element]) throws(WireError) {
        guard let count = UInt32(exactly: value.count) else {
            throw WireError(.encodingFailed, "an array of \(value.count) elements is too long to encode")
        }
        write(count)
        for index in value.indices { try value[index].encode(to: &self) }
    }

    /// Writes any other `Encodable` value through the codec's general path, as `WireWriter.write(_:)`
    /// does. Called by `@WireCodable`'s code.
    ///
    /// - Throws: `WireError.Code.encodingFailed` when the value's conformance throws.
    @inlinable @inline(__always)
    public mutating func _writeField<Value: Encodable>(_ value: Value) throws(WireError) {
        try write(value)
    }
}

extension WireReader {
    /// Reads a number, a `Bool` or a `String` with its primitive. Called by `@WireCodable`'s code.
    ///
    /// - Throws: `WireError` when the bytes end early or do not hold a valid value.
    @inlinable @inline(__always)
    public mutating func _readField<Value: _WirePrimitive>(_ type: Value.Type) throws(WireError) -> Value {
        try Value._read(from: &self)
    }

    /// Reads an optional number, `Bool` or `String` written by `WireWriter._writeField(_:)`.
    /// Called by `@WireCodable`'s code.
    ///
    /// - Throws: `WireError` when the bytes end early or do not hold a valid value.
    @inlinable @inline(__always)
    public mutating func _readField<Value: _WirePrimitive>(_ type: Value?.Type) throws(WireError) -> Value? {
        try read(Bool.self) ? try Value._read(from: &self) : nil
    }

    /// Reads a `WireCodable` value through its own `init(from:)`. Called by `@WireCodable`'s code.
    ///
    /// - Throws: What the type's `init(from:)` throws.
    @inlinable @inline(__always)
    public mutating func _readField<Value: WireCodable>(_ type: Value.Type) throws(WireError) -> Value {
        try Value(from: &self)
    }

    /// Reads an optional `WireCodable` value: a presence byte, then the value through its own
    /// `init(from:)`. Called by `@WireCodable`'s code.
    ///
    /// - Throws: What the type's `init(from:)` throws, and `WireError.Code.invalidValue` for a presence
    ///   byte other than 0 or 1.
    @inlinable @inline(__always)
    public mutating func _readField<Value: WireCodable>(_ type: Value?.Type) throws(WireError) -> Value? {
        try read(Bool.self) ? try Value(from: &self) : nil
    }

    /// Reads an array of `WireCodable` values: a 4-byte count, then each element through its own
    /// `init(from:)`. Called by `@WireCodable`'s code.
    ///
    /// - Throws: What an element's `init(from:)` throws, and `WireError.Code.truncated` when the bytes
    ///   end early.
    @inlinable
    public mutating func _readField<Element: WireCodable>(_ type: [Element].Type) throws(WireError) -> [Element] {
        let count = Int(try read(UInt32.self))
        var elements: [Element] = []
        // An element may take no bytes; reserve no more than the input could hold, so that a hostile count cannot
        // make a huge allocation.
        elements.reserveCapacity(Swift.min(count, remainingCount))
        for _ in 0..<count { elements.append(try Element(from: &self)) }
        return elements
    }

    /// Reads any other `Decodable` value through the codec's general path, as
    /// `WireReader.read(_:)` does. Called by `@WireCodable`'s code.
    ///
    /// - Throws: `WireError` when the bytes end early, are invalid, or the type's conformance throws.
    @inlinable @inline(__always)
    public mutating func _readField<Value: Decodable>(_ type: Value.Type) throws(WireError) -> Value {
        try read(Value.self)
    }
}
