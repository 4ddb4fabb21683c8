"""Python peer of Benchmarks/Benchmarks/CodecBenchmarks: the same payloads through pickle and json.

Run: python3 Benchmarks/peers/codec_peer.py
Prints the median of several runs for each workload, in the same units as the Swift benchmark.
"""
import json
import pickle
import statistics
import time


def median_ms(body, runs):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main():
    doubles = [i * 0.5 for i in range(1_000_000)]
    structs = [{"id": i, "name": f"sample {i}", "values": [1.0, 2.0, 3.0]} for i in range(10_000)]
    rows = [
        ("pickle encode+decode 1M floats", lambda: pickle.loads(pickle.dumps(doubles, protocol=5)), 20),
        ("json encode+decode 1M floats", lambda: json.loads(json.dumps(doubles)), 5),
        ("pickle encode+decode 10k structs", lambda: pickle.loads(pickle.dumps(structs, protocol=5)), 20),
        ("json encode+decode 10k structs", lambda: json.loads(json.dumps(structs)), 10),
    ]
    for name, body, runs in rows:
        print(f"{name}: median {median_ms(body, runs):.2f} ms")


if __name__ == "__main__":
    main()
