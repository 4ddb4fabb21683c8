/// The keyed containers of one encoding or decoding, kept by their key type so that each struct after the first of
/// its type gets its container without an allocation or a look-up of generic metadata.
///
/// `Encoder.container(keyedBy:)` must return a `KeyedEncodingContainer<Key>`, whose initializer boxes the container
/// on the heap and asks the runtime for the metadata of the box and of the container, for every struct encoded:
/// profiles of a 200k-struct array put half of `Codable`'s cost there. Triad's containers hold nothing but the sink
/// or source they write to or read from, so one box per key type serves every struct of that type in the encoding,
/// nested ones too. A `KeyedEncodingContainer` is a single reference to its box, so the cache keeps that reference
/// and gives it back as the container type it came from (a layout that differs is simply not cached).
///
/// The boxes refer back to their sink or source, so the owner empties the cache when its encoding ends
/// (``removeAll()``), which breaks that cycle.
struct WireContainerCache {
    private var keys: [ObjectIdentifier] = []
    private var boxes: [AnyObject] = []

    /// The most key types kept; a type beyond them gets a fresh container each time, as without the cache.
    private static let capacity = 16

    /// The cached container of type `Container` for `key`, or the one `make` builds, which is cached.
    @inline(__always)
    mutating func container<Container>(for key: ObjectIdentifier, _ make: () -> Container) -> Container {
        if let index = keys.firstIndex(of: key) {
            return unsafeBitCast(boxes[index], to: Container.self)
        }
        let container = make()
        if MemoryLayout<Container>.size == MemoryLayout<AnyObject>.size, keys.count < Self.capacity {
            keys.append(key)
            boxes.append(unsafeBitCast(container, to: AnyObject.self))
        }
        return container
    }

    /// Lets go of every container.
    mutating func removeAll() {
        keys.removeAll()
        boxes.removeAll()
    }
}
