#if os(Linux)
import CTriadShims
import TriadCore
import TriadProcesses

extension FuzzTargets {
    /// The reader of a shared ring, and the writer's check of the reader's position, against a peer that the input
    /// plays.
    ///
    /// The first byte picks the ring's size (64 to 512 bytes, so positions wrap often). The rest is a list of
    /// operations: write the input's next bytes into the ring, as many as a byte of the input says (and as fit);
    /// read what the ring holds and take out the frames; publish a written or a read position that the input
    /// gives; overwrite a byte of the ring's data. While the peer only writes, every frame read must be exactly the
    /// next bytes written. Whatever it does, neither side may touch memory outside the ring (AddressSanitizer
    /// watches), accept a payload above the limit, or take an impossible position for anything but a typed error.
    public static func ring(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 2 else { return }
        let capacity = 64 << Int(input[0] & 3)
        let size = Int(TRIAD_RING_CONTROL_SIZE) + capacity
        let memory = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer { memory.deallocate() }
        let maxPayload = 200
        var writer = RingWriter(ring: memory, capacity: capacity)
        // A buffer of 64 bytes, so that payloads above 32 bytes take the reader's large-frame path.
        let reader = RingFrameReader(
            RingReader(ring: memory, capacity: capacity), maxPayload: maxPayload, bufferSize: 64
        )
        // What the writer published while the peer played fair, and how much of it the frames read cover.
        var honest = true
        var written: [UInt8] = []
        var parsed = 0
        var at = 1
        func position() -> UInt64 {
            var value: UInt64 = 0
            for _ in 0..<8 where at < input.count {
                value = value << 8 | UInt64(input[at])
                at += 1
            }
            return value
        }
        while at < input.count {
            let operation = input[at] % 5
            at += 1
            switch operation {
            case 0:
                guard at < input.count else { return }
                let wanted = Int(input[at])
                at += 1
                let bytes = Array(input[at..<min(input.count, at + wanted)])
                var message = OutgoingMessage()
                message.appendSegment(bytes)
                let count: Int
                do {
                    count = try writer.write(message)
                } catch {
                    precondition(!honest, "a writer refused a ring whose reader played fair")
                    return
                }
                precondition(count <= bytes.count && count <= capacity, "a writer wrote more than it had or than fits")
                if honest { written += bytes[..<count] }
                at += count
            case 1:
                do {
                    var ringWriter = false
                    let moved = try reader.fill(ringWriter: &ringWriter)
                    precondition(moved <= capacity, "a reader took more than a ring holds")
                    while let frame = try reader.nextBuffered() {
                        precondition(frame.payload.count <= maxPayload, "a frame's payload is above the limit")
                        guard honest else { continue }
                        let encoded = frame.encoded
                        precondition(
                            parsed + encoded.count <= written.count
                                && encoded.elementsEqual(written[parsed..<(parsed + encoded.count)]),
                            "a frame read from the ring differs from the bytes written"
                        )
                        parsed += encoded.count
                    }
                } catch {
                    // A typed error stops the stream, as the pool stops a worker that broke its ring.
                    return
                }
            case 2:
                honest = false
                writer.publish(position())
            case 3:
                honest = false
                RingReader(ring: memory, capacity: capacity).publish(position())
            default:
                guard at + 1 < input.count else { return }
                honest = false
                let offset = Int(TRIAD_RING_CONTROL_SIZE) + Int(input[at]) % capacity
                memory.storeBytes(of: input[at + 1], toByteOffset: offset, as: UInt8.self)
                at += 2
            }
        }
    }

    /// Seeds for the ring: frames written in pieces and read in between, wrapping around the ring.
    static var ringSeeds: [[UInt8]] {
        var frames: [UInt8] = []
        for length in [0, 3, 50, 120, 7, 90] {
            frames += Frame(kind: 5, flags: 0, payload: Array(repeating: 0x41, count: length)).encoded
        }
        var seeds: [[UInt8]] = []
        for size: UInt8 in [0, 1, 3] {
            var seed: [UInt8] = [size]
            var rest = frames[...]
            while !rest.isEmpty {
                let piece = min(rest.count, 37)
                seed += [0, UInt8(piece)] + rest.prefix(piece) + [1]
                rest = rest.dropFirst(piece)
            }
            seeds.append(seed)
        }
        // A fair start, then an impossible written position, then a read.
        seeds.append([0, 0, 12] + Array(frames.prefix(12)) + [1, 2, 0, 0, 0, 0, 0, 0, 1, 0, 1])
        return seeds
    }
}
#endif
