import Glibc
import Testing
import TriadProcesses

extension IPCTests {
    @Suite struct PipeTests {
        /// Spawns a peer with one end of a duplex pipe and closes this process's copy of that end.
        func peer(_ role: String, maxFrameSize: Int = Pipe.defaultMaxFrameSize) throws -> (Pipe, IPCPeer) {
            let (mine, theirs) = try Pipe.duplex(maxFrameSize: maxFrameSize)
            let peer = try IPCPeer(role, descriptors: [theirs.descriptor])
            theirs.close()
            return (mine, peer)
        }

        @Test func duplexValuesRoundTripAndClosingGivesThePeerEndOfStream() throws {
            let (pipe, peer) = try peer("pipe-echo")
            for value in [1, 41, -7] {
                try pipe.send(value)
                #expect(try pipe.receive(Int.self, timeout: .seconds(600)) == value + 1)
            }
            pipe.close()
            #expect(pipe.isClosed)
            // The peer exits with 0 only when it sees end of stream.
            #expect(peer.wait() == 0)
            expectIPCError(.closed) { try pipe.send(1) }
        }

        @Test func rawBytesRoundTripIncludingALargeMessage() throws {
            let (pipe, peer) = try peer("pipe-bytes-echo")
            let small: [UInt8] = [1, 2, 3]
            try pipe.send(bytes: small)
            #expect(try pipe.receiveBytes(timeout: .seconds(600)) == small.reversed())
            let large = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try pipe.send(bytes: large)
            #expect(try pipe.receiveBytes(timeout: .seconds(600)) == large.reversed())
            try pipe.send(bytes: [])
            #expect(try pipe.receiveBytes(timeout: .seconds(600)) == [])
            pipe.close()
            #expect(peer.wait() == 0)
        }

        @Test func oneWayPipeDeliversWhatWasSentThenEndOfStreamWhenThePeerExits() throws {
            let (receiving, sending) = try Pipe.oneWay()
            #expect(receiving.direction == .receiving && sending.direction == .sending)
            let peer = try IPCPeer("pipe-write-then-exit", descriptors: [sending.descriptor])
            sending.close()
            #expect(try receiving.receive(String.self, timeout: .seconds(600)) == "goodbye")
            #expect(peer.wait() == 0)
            expectIPCError(.endOfStream) { try receiving.receive(String.self, timeout: .seconds(600)) }
            // It stays at end of stream.
            #expect(try receiving.poll(timeout: .zero))
            expectIPCError(.endOfStream) { try receiving.receiveBytes(timeout: .seconds(1)) }
        }

        @Test func aPeerKilledBySIGKILLGivesEndOfStreamAndPeerClosed() throws {
            let (pipe, peer) = try peer("pipe-hang")
            #expect(try pipe.poll(timeout: .milliseconds(100)) == false)
            peer.kill(SIGKILL)
            peer.wait()
            #expect(peer.signal == SIGKILL)
            expectIPCError(.endOfStream) { try pipe.receive(Int.self, timeout: .seconds(600)) }
            expectIPCError(.peerClosed) { try pipe.send(bytes: [UInt8](repeating: 1, count: 1 << 20)) }
        }

        @Test func writingToAOneWayPipeWhoseReaderIsGoneIsPeerClosedNotSIGPIPE() throws {
            let (receiving, sending) = try Pipe.oneWay()
            receiving.close()
            expectIPCError(.peerClosed) { try sending.send("anyone there?") }
            expectIPCError(.peerClosed) { try sending.send(bytes: [1]) }
        }

        @Test func receiveTimesOutWithoutConsumingAndPollReportsNothing() throws {
            let (pipe, peer) = try peer("pipe-echo")
            let start = ContinuousClock.now
            expectIPCError(.timedOut) { try pipe.receive(Int.self, timeout: .milliseconds(200)) }
            #expect(ContinuousClock.now - start >= .milliseconds(190))
            #expect(try pipe.poll(timeout: .milliseconds(50)) == false)
            // The pipe still works after a timeout.
            try pipe.send(9)
            #expect(try pipe.poll(timeout: .seconds(600)))
            #expect(try pipe.receive(Int.self, timeout: .seconds(600)) == 10)
            pipe.close()
            #expect(peer.wait() == 0)
        }

        @Test func closingAnEndEndsACallBlockedOnItInAnotherTask() async throws {
            let (first, second) = try Pipe.duplex()
            let waiting = Task { try await first.receive(Int.self, timeout: .seconds(600)) }
            try await Task.sleep(for: .milliseconds(100))
            first.close()
            await expectIPCError(.closed) { try await waiting.value }
            expectIPCError(.closed) { try first.poll() }
            expectIPCError(.endOfStream) { try second.receive(Int.self, timeout: .seconds(5)) }
        }

        @Test func garbageFromThePeerIsACorruptStream() throws {
            let (pipe, peer) = try peer("pipe-write-garbage")
            expectIPCError(.corruptStream) { try pipe.receive(Int.self, timeout: .seconds(600)) }
            peer.kill()
            peer.wait()
        }

        @Test func oversizedMessagesAreRefusedAtBothEnds() throws {
            let (small, large) = try Pipe.duplex(maxFrameSize: 1024)
            expectIPCError(.tooLarge) { try small.send(bytes: [UInt8](repeating: 0, count: 2048)) }
            expectIPCError(.tooLarge) { try small.send([UInt8](repeating: 0, count: 2048)) }
            // The sender's limit is larger than the receiver's.
            let copy = IPCDescriptor(rawValue: dup(large.descriptor.rawValue))
            let sender = try Pipe(inheriting: copy, maxFrameSize: 1 << 20)
            try sender.send(bytes: [UInt8](repeating: 7, count: 4096))
            expectIPCError(.tooLarge) { try small.receiveBytes(timeout: .seconds(5)) }
        }

        @Test func aValueOfAnotherTypeFailsToDecodeAndAnotherKindIsUnexpected() throws {
            let (first, second) = try Pipe.duplex()
            try first.send("a string, not an Int")
            expectIPCError(.decodingFailed) { try second.receive(Int.self, timeout: .seconds(5)) }
            try first.send(bytes: [1, 2, 3])
            expectIPCError(.unexpectedMessage) { try second.receive(Int.self, timeout: .seconds(5)) }
            try first.send(5)
            expectIPCError(.unexpectedMessage) { try second.receiveBytes(timeout: .seconds(5)) }
            // Each failed message was consumed; the pipe goes on.
            try first.send(6)
            #expect(try second.receive(Int.self, timeout: .seconds(5)) == 6)
        }

        @Test func asyncCallsRoundTripAndCancellationEndsAWait() async throws {
            let (pipe, peer) = try peer("pipe-echo")
            for value in 0..<20 {
                try await pipe.send(value)
                #expect(try await pipe.receive(Int.self, timeout: .seconds(600)) == value + 1)
            }
            try await pipe.send(bytes: [1])  // the echo peer skips raw bytes
            let (first, second) = try Pipe.duplex()
            try await first.send(bytes: [4, 5])
            #expect(try await second.receiveBytes(timeout: .seconds(5)) == [4, 5])
            #expect(try await pipe.poll(timeout: .milliseconds(50)) == false)
            let waiting = Task { () async throws(IPCError) -> Int in try await pipe.receive(Int.self) }
            try await Task.sleep(for: .milliseconds(100))
            waiting.cancel()
            await expectIPCError(.cancelled) { try await waiting.value }
            // Nothing was consumed: the pipe still works.
            try await pipe.send(100)
            #expect(try await pipe.receive(Int.self, timeout: .seconds(600)) == 101)
            pipe.close()
            #expect(peer.wait() == 0)
        }

        @Test func anEndIsReopenedFromAnInheritedNumberInTheEnvironment() throws {
            let (first, second) = try Pipe.duplex()
            let copy = dup(second.descriptor.rawValue)
            setenv("TRIAD_TEST_PIPE", String(copy), 1)
            defer { unsetenv("TRIAD_TEST_PIPE") }
            let reopened = try Pipe(inheriting: IPCDescriptor.inherited(fromEnvironment: "TRIAD_TEST_PIPE"))
            #expect(reopened.direction == .duplex)
            try first.send("hello")
            #expect(try reopened.receive(String.self, timeout: .seconds(5)) == "hello")
            expectIPCError(.invalidSegment) { try IPCDescriptor.inherited(fromEnvironment: "TRIAD_TEST_NOT_SET") }
            expectIPCError(.invalidSegment) { try IPCDescriptor.inherited(number: "9999") }
            expectIPCError(.invalidSegment) { try IPCDescriptor.inherited(number: "seven") }
        }
    }
}
