"""Python peer of DataMovementBenchmarks: 64 MiB to a ProcessPoolExecutor worker and back, as bytes and as an
array of doubles, beside a 64 MiB memory copy as the raw limit. Stdlib only. Prints medians, and the payload rate
(64 MiB divided by the round trip's time).

    python3 Benchmarks/peers/datamove_peer.py
"""

import array
import multiprocessing as mp
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

MIB64 = 64 << 20
RUNS = 7


def identity(data):
    return data


def median_seconds(body, runs=RUNS):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def report(name, seconds):
    print(f"{name}: median {seconds * 1e3:.1f} ms ({MIB64 / seconds / 1e6:.0f} MB/s of payload)")


if __name__ == "__main__":
    mp.set_start_method("spawn")
    # Real data: bytes(MIB64) would map every page to the kernel's zero page.
    data = bytes(range(256)) * (MIB64 // 256)
    doubles = array.array("d", range(MIB64 // 8))
    with ProcessPoolExecutor(max_workers=1) as pool:
        pool.submit(identity, b"warm").result()
        report("ProcessPoolExecutor 64 MiB bytes to a worker and back",
               median_seconds(lambda: pool.submit(identity, data).result()))
        report("ProcessPoolExecutor 64 MiB array('d') to a worker and back",
               median_seconds(lambda: pool.submit(identity, doubles).result()))
    target = bytearray(MIB64)
    view = memoryview(target)
    report("memory copy of 64 MiB (reference)", median_seconds(lambda: view.__setitem__(slice(0, MIB64), data), 31))
