"""Python peers of IPCBenchmarks: multiprocessing.Queue ping-pong, a raw os.pipe round trip, copying 64 MiB into a
reused multiprocessing.shared_memory segment, 64 MiB to a peer and back through multiprocessing.Pipe's send_bytes,
and 64 MiB to a ProcessPoolExecutor worker and back. Stdlib only.
Prints medians.

    python3 Benchmarks/peers/ipc_peer.py
    IPC_PARENT_CPU=0 IPC_PEER_CPU=1 python3 Benchmarks/peers/ipc_peer.py   # pinned across CPUs
"""

import multiprocessing as mp
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import shared_memory

ROUND_TRIPS = 2000
RUNS = 15
MIB64 = 64 << 20


def pin(variable):
    cpu = os.environ.get(variable)
    if cpu is not None:
        os.sched_setaffinity(0, {int(cpu)})


def queue_echo(requests, replies):
    pin("IPC_PEER_CPU")
    while True:
        value = requests.get()
        if value is None:
            return
        replies.put(value + 1)


def queue_ping_pong():
    requests, replies = mp.Queue(), mp.Queue()
    child = mp.Process(target=queue_echo, args=(requests, replies))
    child.start()
    for _ in range(200):  # warm up
        requests.put(1)
        replies.get()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(ROUND_TRIPS):
            requests.put(1)
            replies.get()
        samples.append((time.perf_counter() - start) / ROUND_TRIPS)
    requests.put(None)
    child.join()
    return statistics.median(samples)


def pipe_echo(read_fd, write_fd, unused):
    pin("IPC_PEER_CPU")
    for fd in unused:  # the parent's ends, inherited by fork
        os.close(fd)
    while True:
        byte = os.read(read_fd, 1)
        if not byte:
            return
        os.write(write_fd, byte)


def raw_pipe_round_trip():
    there_r, there_w = os.pipe()
    back_r, back_w = os.pipe()
    # fork, so that the child inherits the raw descriptors
    child = mp.get_context("fork").Process(target=pipe_echo, args=(there_r, back_w, (there_w, back_r)))
    child.start()
    os.close(there_r)
    os.close(back_w)
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(ROUND_TRIPS):
            os.write(there_w, b"x")
            os.read(back_r, 1)
        samples.append((time.perf_counter() - start) / ROUND_TRIPS)
    os.close(there_w)
    child.join()
    os.close(back_r)
    return statistics.median(samples)


def shared_memory_copy():
    # Real data: bytes(MIB64) would map every page to the kernel's zero page, which reads from cache.
    data = bytes(range(256)) * (MIB64 // 256)
    segment = shared_memory.SharedMemory(create=True, size=MIB64)
    try:
        segment.buf[:MIB64] = data  # fault the segment in once
        samples = []
        for _ in range(RUNS * 2):
            start = time.perf_counter()
            segment.buf[:MIB64] = data
            samples.append(time.perf_counter() - start)
        copy_in = statistics.median(samples)
        samples = []
        out = memoryview(bytearray(MIB64))
        out[:] = segment.buf[:MIB64]
        for _ in range(RUNS * 2):
            start = time.perf_counter()
            segment.buf[:MIB64] = data
            out[:] = segment.buf[:MIB64]
            samples.append(time.perf_counter() - start)
        return copy_in, statistics.median(samples)
    finally:
        segment.close()
        segment.unlink()


def bytes_echo(connection):
    while True:
        try:
            data = connection.recv_bytes()
        except EOFError:
            return
        connection.send_bytes(data)


def pipe_bytes_round_trip():
    mine, theirs = mp.Pipe()
    child = mp.Process(target=bytes_echo, args=(theirs,))
    child.start()
    theirs.close()
    data = bytes(range(256)) * (MIB64 // 256)
    samples = []
    for _ in range(9):
        start = time.perf_counter()
        mine.send_bytes(data)
        mine.recv_bytes()
        samples.append(time.perf_counter() - start)
    mine.close()
    child.join()
    return statistics.median(samples)


def identity(data):
    return data


def pool_round_trip():
    data = bytes(range(256)) * (MIB64 // 256)
    with ProcessPoolExecutor(max_workers=1) as pool:
        pool.submit(identity, b"warm").result()
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            pool.submit(identity, data).result()
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


if __name__ == "__main__":
    mp.set_start_method("spawn")
    pin("IPC_PARENT_CPU")
    queue = queue_ping_pong()
    pipe = raw_pipe_round_trip()
    copy_in, copy_both = shared_memory_copy()
    pipe_bytes = pipe_bytes_round_trip()
    pool = pool_round_trip()
    print(f"multiprocessing.Queue ping-pong round trip: median {queue * 1e6:.1f} us")
    print(f"os.pipe 1-byte round trip: median {pipe * 1e6:.1f} us")
    print(f"shared_memory 64 MiB copy in, reused segment: median {copy_in * 1e3:.2f} ms "
          f"({MIB64 / copy_in / 1e9:.2f} GB/s)")
    print(f"shared_memory 64 MiB copy in and out: median {copy_both * 1e3:.2f} ms "
          f"({MIB64 / copy_both / 1e9:.2f} GB/s per round trip)")
    print(f"multiprocessing.Pipe 64 MiB to a peer and back with send_bytes: median {pipe_bytes * 1e3:.1f} ms "
          f"({MIB64 / pipe_bytes / 1e6:.0f} MB/s of payload)")
    print(f"ProcessPoolExecutor 64 MiB to a worker and back: median {pool * 1e3:.1f} ms "
          f"({MIB64 / pool / 1e6:.0f} MB/s of payload)")
