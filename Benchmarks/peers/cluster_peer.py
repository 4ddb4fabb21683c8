#!/usr/bin/env python3
"""Python peer of Benchmarks/ClusterTimings: the same workloads on mpi4py.futures (Debian's python3-mpi4py).

Run each workload under mpirun, in mpi4py.futures' fixed-size mode, as ClusterTimings runs:

    mpirun -n 2 /usr/bin/python3 -m mpi4py.futures Benchmarks/peers/cluster_peer.py roundtrip
    mpirun -n 4 /usr/bin/python3 -m mpi4py.futures Benchmarks/peers/cluster_peer.py map
    mpirun -n 2 /usr/bin/python3 -m mpi4py.futures Benchmarks/peers/cluster_peer.py bytes
    python3 Benchmarks/peers/cluster_peer.py startup PATH/TO/ClusterTimings

`startup` runs mpirun itself: the wall time of `mpirun -n 4` to the first result, for /bin/true, ClusterTimings and
this peer, medians of several runs. `raw` compiles mpi_pingpong.c with mpicc and prints the raw MPI round trip of
the bytes a tiny job and its result take.
"""
import os
import statistics
import subprocess
import sys
import time


def square(value):
    return value * value


def bounce(data):
    return data


def roundtrip():
    from mpi4py.futures import MPIPoolExecutor

    with MPIPoolExecutor() as executor:
        for index in range(200):
            executor.submit(square, index).result()
        per_job = []
        for _ in range(9):
            count = 300
            start = time.perf_counter()
            for index in range(count):
                executor.submit(square, index).result()
            per_job.append((time.perf_counter() - start) / count)
        print(f"roundtrip mpi4py.futures median_us={statistics.median(per_job) * 1e6:.1f}")


def map_tiny():
    from mpi4py.futures import MPIPoolExecutor

    count = 200_000
    with MPIPoolExecutor() as executor:
        for chunksize in (1, 1000):
            list(executor.map(square, range(1000), chunksize=chunksize))
            times = []
            for _ in range(3 if chunksize == 1 else 7):
                n = count if chunksize > 1 else 20_000
                start = time.perf_counter()
                values = list(executor.map(square, range(n), chunksize=chunksize))
                times.append((time.perf_counter() - start) / n)
                assert len(values) == n
            per_job = statistics.median(times)
            print(f"map mpi4py.futures chunksize={chunksize} jobs_per_s={1 / per_job:.0f} "
                  f"per_200k_ms={per_job * count * 1e3:.0f}")


def bytes64():
    from mpi4py.futures import MPIPoolExecutor

    data = bytes(64 << 20)
    with MPIPoolExecutor() as executor:
        executor.submit(bounce, data).result()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            back = executor.submit(bounce, data).result()
            times.append(time.perf_counter() - start)
            assert len(back) == len(data)
        median = statistics.median(times)
        print(f"bytes64MiB mpi4py.futures median_ms={median * 1e3:.1f} GB_per_s={(64 << 20) / median / 1e9:.2f}")


def first():
    from mpi4py.futures import MPIPoolExecutor

    with MPIPoolExecutor() as executor:
        print("first", executor.submit(square, 7).result())


def compile_pingpong():
    here = os.path.dirname(os.path.abspath(__file__))
    binary = "/tmp/triad_mpi_pingpong"
    subprocess.run(["mpicc", "-O2", "-o", binary, os.path.join(here, "mpi_pingpong.c")], check=True)
    return binary


def startup(timings):
    environment = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    commands = {
        "mpirun -n 4 /bin/true": ["/bin/true"],
        "C MPI_Init + MPI_Finalize": [compile_pingpong(), "init"],
        "ClusterTimings first": [timings, "first"],
        "mpi4py.futures first": ["/usr/bin/python3", "-m", "mpi4py.futures", os.path.abspath(__file__), "first"],
    }
    for name, command in commands.items():
        times = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run(["mpirun", "--oversubscribe", "--mca", "btl", "self,vader", "-n", "4"] + command,
                           env=environment, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        print(f"startup {name}: median_ms={statistics.median(times) * 1e3:.0f} "
              f"min_ms={min(times) * 1e3:.0f}")


def raw(job_bytes, result_bytes):
    binary = compile_pingpong()
    environment = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    subprocess.run(["mpirun", "--oversubscribe", "--mca", "btl", "self,vader", "-n", "2", binary,
                    str(job_bytes), str(result_bytes)], env=environment, check=True)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "roundtrip"
    if mode == "roundtrip":
        roundtrip()
    elif mode == "map":
        map_tiny()
    elif mode == "bytes":
        bytes64()
    elif mode == "first":
        first()
    elif mode == "startup":
        startup(sys.argv[2])
    elif mode == "raw":
        raw(int(sys.argv[2]) if len(sys.argv) > 2 else 120, int(sys.argv[3]) if len(sys.argv) > 3 else 80)
