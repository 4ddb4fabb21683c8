#!/usr/bin/env python3
"""Python peers of Benchmarks/ProcessesBenchmarks: the same workloads on Python's process pools.

Run: python3 Benchmarks/peers/processes_peer.py
Prints the median of several runs of each workload (standard library only).
"""
import concurrent.futures
import multiprocessing
import os
import statistics
import time


def tiny(value):
    return value + 1


def median_of(runs, body):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pipe_ping_pong(rounds):
    """A one-byte pipe ping-pong between two processes: the floor of any pipe round trip here."""
    parent_read, child_write = os.pipe()
    child_read, parent_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        for _ in range(rounds):
            os.read(child_read, 1)
            os.write(child_write, b"x")
        os._exit(0)
    start = time.perf_counter()
    for _ in range(rounds):
        os.write(parent_write, b"x")
        os.read(parent_read, 1)
    elapsed = time.perf_counter() - start
    os.waitpid(pid, 0)
    for fd in (parent_read, child_write, child_read, parent_write):
        os.close(fd)
    return elapsed / rounds


def main():
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        list(pool.map(tiny, range(1000)))

        def submit_and_await():
            futures = [pool.submit(tiny, i) for i in range(10_000)]
            for future in futures:
                future.result()

        seconds = median_of(5, submit_and_await)
        print(f"ProcessPoolExecutor.submit, 10k tiny jobs awaited: median {seconds * 1000:.1f} ms "
              f"= {10_000 / seconds:,.0f} jobs/s")

    with context.Pool(2) as pool:
        pool.map(tiny, range(1000))
        items = list(range(200_000))
        seconds = median_of(5, lambda: pool.map(tiny, items))
        print(f"multiprocessing.Pool.map, 200k tiny items (default chunks): median {seconds * 1000:.1f} ms "
              f"= {200_000 / seconds:,.0f} items/s")

    with context.Pool(1) as pool:
        pool.apply(tiny, (1,))

        def round_trips():
            for i in range(1000):
                pool.apply(tiny, (i,))

        seconds = median_of(5, round_trips)
        print(f"multiprocessing.Pool.apply, sequential round trip: median {seconds * 1e6 / 1000:.1f} us")

    print(f"os.pipe one-byte ping-pong between two processes: median "
          f"{statistics.median(pipe_ping_pong(2000) for _ in range(5)) * 1e6:.1f} us")

    def first_result():
        with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
            pool.submit(tiny, 1).result()

    seconds = median_of(7, first_result)
    print(f"ProcessPoolExecutor(2) (spawn) to its first result: median {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
