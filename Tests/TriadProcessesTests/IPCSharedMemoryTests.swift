import Glibc
import Testing
import TriadProcesses

extension IPCTests {
    @Suite struct SharedMemoryTests {
        @Test func anAnonymousArrayIsSharedWithAChildByDescriptor() throws {
            let array = try SharedArray<Double>.anonymous(count: 1000)
            #expect(array.count == 1000 && array.memory.name == nil && !array.memory.isOwner)
            for index in array.indices { array[index] = Double(index) }
            let (pipe, theirs) = try Pipe.duplex()
            let peer = try IPCPeer("shared-array-double", descriptors: [theirs.descriptor])
            theirs.close()
            try pipe.send(descriptor: array.memory.descriptor, tag: 1)
            let sum = try pipe.receive(Double.self, timeout: .seconds(600))
            #expect(sum == Double(999 * 1000))
            // The child's writes are visible here without a copy.
            #expect(array[10] == 20)
            #expect(array.withUnsafeMutableBufferPointer { $0.reduce(0, +) } == sum)
            pipe.close()
            #expect(peer.wait() == 0)
            array.memory.release()
            #expect(array.memory.isReleased)
        }

        @Test func aNamedArrayIsPrivateToItsUserAndUnlinkedOnRelease() throws {
            let array = try SharedArray<Double>.named(count: 64)
            let name = try #require(array.memory.name)
            #expect(array.memory.isOwner)
            var info = stat()
            #expect(stat("/dev/shm" + name, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
            array[3] = 1.5
            let (pipe, theirs) = try Pipe.duplex()
            let peer = try IPCPeer("shared-array-named", descriptors: [theirs.descriptor], arguments: [name])
            theirs.close()
            #expect(try pipe.receive(Int.self, timeout: .seconds(600)) == 64)
            #expect(array[3] == 2.5 && array[0] == 1)
            #expect(peer.wait() == 0)
            // Opening by name does not own it; releasing the owner unlinks it.
            let opened = try SharedMemory.open(name: name)
            #expect(!opened.isOwner && opened.count == array.memory.count)
            opened.release()
            #expect(stat("/dev/shm" + name, &info) == 0)
            array.memory.release()
            #expect(stat("/dev/shm" + name, &info) != 0)
            expectIPCError(.notFound) { try SharedMemory.open(name: name) }
        }

        @Test func aSegmentOfASIGKILLedOwnerIsRemovedBySweeping() throws {
            let (pipe, theirs) = try Pipe.duplex()
            let owner = try IPCPeer("shared-named-owner", descriptors: [theirs.descriptor])
            theirs.close()
            let name = try pipe.receive(String.self, timeout: .seconds(600))
            #expect(triadSegments(ofProcesses: [owner.pid]).count == 1)
            // A live owner's segment is left alone.
            #expect(!SharedMemory.removeAbandoned().contains(name))
            owner.kill(SIGKILL)
            owner.wait()
            #expect(triadSegments(ofProcesses: [owner.pid]) == [String(name.dropFirst())])
            // Creating a named segment sweeps first.
            let fresh = try SharedMemory.named(count: 4096)
            #expect(triadSegments(ofProcesses: [owner.pid]).isEmpty)
            fresh.release()
            #expect(SharedMemory.removeAbandoned().isEmpty)
            #expect(triadSegments(ofProcesses: [getpid(), owner.pid]).isEmpty)
        }

        @Test func openingWithTheWrongElementTypeOrAForeignSegmentFails() throws {
            let doubles = try SharedArray<Double>.anonymous(count: 4)
            expectIPCError(.invalidSegment) { try SharedArray<UInt8>(openingIn: doubles.memory) }
            let same = try SharedArray<Double>(openingIn: doubles.memory)
            same[1] = 4
            #expect(doubles[1] == 4)
            let raw = try SharedMemory.anonymous(count: 128)
            expectIPCError(.invalidSegment) { try SharedArray<Double>(openingIn: raw) }
            expectIPCError(.tooLarge) { try SharedArray<Double>(creatingIn: raw, count: 100) }
            let fits = try SharedArray<UInt16>(creatingIn: raw, count: 32)
            #expect(fits.count == 32 && fits[31] == 0)
            raw.withUnsafeMutableBytes { #expect($0.count == 128) }
            let copy = IPCDescriptor(rawValue: dup(raw.descriptor.rawValue))
            expectIPCError(.invalidSegment) { try ProcessQueue<Int>(inheriting: copy) }
        }

        @Test func largePayloadsTravelThroughReusedSegments() throws {
            let (pipe, theirs) = try Pipe.duplex()
            let peer = try IPCPeer("payload-roundtrip", descriptors: [theirs.descriptor])
            theirs.close()
            let writer = SharedPayloadWriter()
            let reader = SharedPayloadReader()
            var sentSegments = 0
            var received: [Double] = []
            for size in [1000, 50_000, 300_000, 300_000, 10] {
                let values = (0..<size).map { Double($0) }
                writer.reset()
                let (reference, newSegment) = try writer.write(values)
                #expect(reference.byteCount == size * 8)
                if let newSegment {
                    sentSegments += 1
                    try pipe.send(UInt8(1))
                    try pipe.send(descriptor: newSegment.memory.descriptor, tag: newSegment.id)
                }
                try pipe.send(UInt8(2))
                try pipe.send(reference)
                while try pipe.receive(UInt8.self, timeout: .seconds(600)) == 1 {
                    let (descriptor, tag) = try pipe.receiveDescriptor(timeout: .seconds(600))
                    try reader.adopt(descriptor, segment: tag)
                }
                let back = try pipe.receive(SharedPayloadReference.self, timeout: .seconds(600))
                try reader.read(into: &received, at: back)
                #expect(received == values.map { $0 + 1 })
            }
            // 1 MiB first, then one 2.4 MB segment for 300k Doubles, reused after that.
            #expect(sentSegments == 2)
            let current = try #require(writer.currentSegment)
            #expect(current.id == 2 && current.memory.count >= 2_400_000)
            #expect(writer.reset() == [])  // the 1 MiB segment was released at the first reset after it
            reader.forget(segment: 1)
            expectIPCError(.invalidSegment) {
                try reader.read([Double].self, at: SharedPayloadReference(segment: 99, offset: 0, byteCount: 8))
            }
            pipe.close()
            #expect(peer.wait() == 0)
        }

        @Test func pipePayloadsGoInlineWhenSmallAndThroughSharedMemoryWhenLarge() throws {
            let (pipe, theirs) = try Pipe.duplex()
            let peer = try IPCPeer("payload-pipe-echo", descriptors: [theirs.descriptor])
            theirs.close()
            let writer = SharedPayloadWriter()
            let reader = SharedPayloadReader()
            for size in [10, 100_000, 0, 1000, 300_000, 100_000] {
                let values = (0..<size).map { Double($0) * 0.5 }
                writer.reset()
                try pipe.send(payload: values, using: writer)
                let back = try pipe.receivePayload([Double].self, using: reader, timeout: .seconds(600))
                #expect(back == values.map { $0 + 1 })
            }
            // Only the large payloads made segments: 1 MiB for 100k Doubles, then 2.4 MB for 300k.
            #expect(writer.currentSegment?.id == 2)
            try pipe.send(5)
            pipe.close()
            // The peer fails on the value it did not expect.
            #expect(peer.wait() == 2)
        }

        @Test func sizesDefaultsAndDescriptionsAreWhatTheySay() throws {
            #expect(SharedArray<Double>.segmentSize(count: 10) == 64 + 80)
            let memory = try SharedMemory.anonymous(count: 100)
            memory.baseAddress.storeBytes(of: 42, as: UInt8.self)
            #expect(memory.withUnsafeMutableBytes { $0[0] } == 42)
            #expect(memory.descriptor.description == String(memory.descriptor.rawValue))
            let queue = try ProcessQueue<Int>.anonymous(maxSize: 1, spin: .zero)
            #expect(queue.spin == .zero)
            #expect(ProcessQueue<Int>.defaultSlotSize == 65536 && ProcessQueue<Int>.defaultSpin == .microseconds(50))
            #expect(Pipe.defaultMaxFrameSize == 64 << 20 && Pipe.defaultSharedPayloadThreshold == 256 << 10)
            let directions: [Pipe.Direction] = [.duplex, .receiving, .sending]
            #expect(directions.map(\.description) == ["duplex", "receiving", "sending"])
        }

        @Test func outOfBoundsIndexingIsAProgrammerError() async {
            await #expect(processExitsWith: .failure) {
                let array = try SharedArray<Int>.anonymous(count: 2)
                array[2] = 1
            }
        }

        @Test func nothingOfOursIsLeftInDevShm() {
            SharedMemory.removeAbandoned()
            #expect(triadSegments(ofProcesses: [getpid()]).isEmpty)
            for name in SharedMemory.listTriadSegments() {
                let pid = name.split(separator: ".")[1]
                #expect(kill(pid_t(pid)!, 0) == 0, "segment \(name) outlived its owner")
            }
        }
    }
}
