import Foundation
import Glibc
import Testing
import TriadCore
import TriadProcesses

extension IPCTests {
    /// Large raw messages are read straight into their arrays; these tests check the edges of that path: what
    /// follows a large message, a timeout in its middle, and a peer that stops in its middle.
    @Suite struct PipeLargeMessageTests {
        /// The frame kind of raw bytes on a pipe.
        static let bytesKind: UInt8 = 2

        static func pattern(_ count: Int, seed: Int) -> [UInt8] {
            (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ seed) }
        }

        /// Writes all of `bytes` to `fd`, a duplicate of a pipe end (non-blocking, as the pipe's own), waiting for
        /// room as needed, for 30 seconds at most.
        static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
            let deadline = ContinuousClock.now + .seconds(30)
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    precondition(ContinuousClock.now < deadline, "nothing read the pipe for 30 seconds")
                    let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 && errno == EAGAIN {
                        var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                        _ = Glibc.poll(&ready, 1, 1000)
                        continue
                    }
                    precondition(written > 0, "write failed: \(errno)")
                    offset += written
                }
            }
        }

        @Test func aLargeMessageThenADescriptorThenAValueArriveWholeAndInOrder() throws {
            let (sender, receiver) = try Pipe.duplex(maxFrameSize: 8 << 20)
            let large = Self.pattern(3 << 20, seed: 5)
            let (spareReading, spareWriting) = try Pipe.oneWay()
            defer { spareReading.close() }
            let sending = Thread {
                try? sender.send(bytes: large)
                try? sender.send(descriptor: spareWriting.descriptor, tag: 77)
                try? sender.send("after")
            }
            sending.start()
            #expect(try receiver.receiveBytes(timeout: .seconds(600)) == large)
            let (descriptor, tag) = try receiver.receiveDescriptor(timeout: .seconds(600))
            #expect(tag == 77)
            #expect(fcntl(descriptor.rawValue, F_GETFD) >= 0)
            // The descriptor is the writing end of the spare pipe: what goes in comes out of its reading end.
            let written = try Pipe(inheriting: descriptor)
            try written.send(bytes: [4, 2])
            #expect(try spareReading.receiveBytes(timeout: .seconds(5)) == [4, 2])
            written.close()
            spareWriting.close()
            #expect(try receiver.receive(String.self, timeout: .seconds(600)) == "after")
            sender.close()
        }

        @Test func aReceiveThatTimesOutInTheMiddleOfALargeMessageConsumesNothing() throws {
            let (sender, receiver) = try Pipe.duplex(maxFrameSize: 8 << 20)
            let raw = dup(sender.descriptor.rawValue)
            defer { close(raw) }
            let payload = Self.pattern(1 << 20, seed: 9)
            var header: [UInt8] = []
            Frame.appendHeader(kind: Self.bytesKind, length: payload.count, to: &header)
            // Less than a socket buffer holds, so that it is all written before anything reads it.
            let first = 100 << 10
            Self.writeAll(raw, header + payload[..<first])
            let start = ContinuousClock.now
            expectIPCError(.timedOut) { try receiver.receiveBytes(timeout: .milliseconds(200)) }
            #expect(ContinuousClock.now - start >= .milliseconds(190))
            #expect(try receiver.poll(timeout: .milliseconds(50)) == false)
            let rest = Thread { Self.writeAll(raw, Array(payload[first...])) }
            rest.start()
            #expect(try receiver.receiveBytes(timeout: .seconds(600)) == payload)
            // The stream is still in step.
            try sender.send(12)
            #expect(try receiver.receive(Int.self, timeout: .seconds(600)) == 12)
            sender.close()
        }

        @Test func aPeerThatStopsInTheMiddleOfALargeMessageIsACorruptStream() throws {
            let (sender, receiver) = try Pipe.duplex(maxFrameSize: 8 << 20)
            let raw = dup(sender.descriptor.rawValue)
            sender.close()
            var header: [UInt8] = []
            Frame.appendHeader(kind: Self.bytesKind, length: 2 << 20, to: &header)
            Self.writeAll(raw, header + Self.pattern(100 << 10, seed: 1))
            close(raw)
            expectIPCError(.corruptStream) { try receiver.receiveBytes(timeout: .seconds(600)) }
            expectIPCError(.endOfStream) { try receiver.receiveBytes(timeout: .seconds(1)) }
        }

        @Test func aSendCancelledInTheMiddleOfAMessageLeavesThePipeRefusingSends() async throws {
            let (sender, receiver) = try Pipe.duplex(maxFrameSize: 8 << 20)
            // Nobody reads, so the send fills the socket's buffer and waits with part of the message written.
            let large = Self.pattern(4 << 20, seed: 2)
            let sending = Task { try await sender.send(bytes: large, timeout: .seconds(600)) }
            // Cancelled once part of the message is in the socket, however slowly the send started.
            let readEnd = receiver.descriptor.rawValue
            #expect(await eventually(seconds: 60) {
                var queued: Int32 = 0
                return ioctl(readEnd, UInt(FIONREAD), &queued) == 0 && queued > 0
            })
            sending.cancel()
            await expectIPCError(.cancelled) { try await sending.value }
            // The reader would take the next message's bytes for the rest of the cut one, so the pipe refuses them.
            expectIPCError(.corruptStream) { try sender.send(1, timeout: .milliseconds(500)) }
            sender.close()
            receiver.close()
        }

        @Test func aLargeMessageSentAsynchronouslyArrivesWhole() async throws {
            let (sender, receiver) = try Pipe.duplex(maxFrameSize: 8 << 20)
            let large = Self.pattern(2 << 20, seed: 3)
            async let sent: Void = sender.send(bytes: large, timeout: .seconds(600))
            let received = try await receiver.receiveBytes(timeout: .seconds(600))
            try await sent
            #expect(received == large)
            sender.close()
            receiver.close()
        }
    }
}
