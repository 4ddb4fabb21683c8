/// The JSON Schema (draft 2020-12) of the report `triad compare --json` prints; `triad compare --schema` prints
/// it. Field names carry their units: `Seconds` are seconds, `Bytes` bytes; a `spread` is the median, minimum and
/// maximum of a row's samples.
enum ReportSchema {
    static let text = #"""
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://github.com/triad/triad/compare-report.schema.json",
  "title": "triad compare report",
  "description": "One run of the lab: Swift's and each Python's rows, the experiments, the sweeps and the verdicts. Times in seconds, memory in bytes.",
  "type": "object",
  "required": ["schemaVersion", "triad", "machine", "settings", "runtimes", "interrupted", "rows", "experiments", "sweeps", "verdicts"],
  "additionalProperties": false,
  "properties": {
    "schemaVersion": {"type": "integer", "enum": [1], "description": "Bumped when a field changes meaning or goes away."},
    "triad": {
      "type": "object",
      "required": ["version", "commit", "swiftVersion"],
      "additionalProperties": false,
      "properties": {
        "version": {"type": "string", "description": "Triad's release."},
        "commit": {"type": "string", "description": "The commit built, '-dirty' when the tree had changes, or 'unknown'."},
        "swiftVersion": {"type": "string", "description": "The compiler that built triad, major.minor."}
      }
    },
    "machine": {
      "type": "object",
      "required": ["cores", "cpuModel", "memoryBytes", "loadAverage1m", "kernel"],
      "additionalProperties": false,
      "properties": {
        "cores": {"type": "integer", "minimum": 1, "description": "Online CPUs."},
        "cpuModel": {"type": "string"},
        "memoryBytes": {"type": "integer", "minimum": 0, "description": "Total memory, bytes."},
        "loadAverage1m": {"type": "number", "minimum": 0, "description": "The one-minute load average when the run started."},
        "kernel": {"type": "string"}
      }
    },
    "settings": {
      "type": "object",
      "required": ["scale", "repeatCount", "warmUps", "workloads", "models", "sweep"],
      "additionalProperties": false,
      "properties": {
        "scale": {"type": "number", "minimum": 0, "description": "The factor on every workload's size."},
        "repeatCount": {"type": "integer", "minimum": 1, "description": "Measured samples per row."},
        "warmUps": {"type": "integer", "minimum": 0, "description": "Unmeasured samples before them."},
        "workloads": {"type": "array", "items": {"$ref": "#/$defs/workload"}},
        "models": {"type": "array", "items": {"$ref": "#/$defs/model"}},
        "workers": {"type": "integer", "minimum": 1, "description": "The --workers given, if any."},
        "sweep": {"type": "boolean"}
      }
    },
    "runtimes": {
      "type": "array",
      "minItems": 1,
      "description": "Swift first, then each Python in the order given.",
      "items": {
        "type": "object",
        "required": ["id", "language", "version"],
        "additionalProperties": false,
        "properties": {
          "id": {"type": "string", "description": "What rows call it: 'swift', 'python 3.11.7', 'python 3.14.0t'."},
          "language": {"type": "string", "enum": ["swift", "python"]},
          "version": {"type": "string"},
          "executable": {"type": "string"},
          "freeThreaded": {"type": "boolean", "description": "Python: a free-threaded build."},
          "gilEnabled": {"type": "boolean", "description": "Python: whether the GIL was on."},
          "problem": {"type": "string", "description": "Why this runtime's rows are missing or stop early."}
        }
      }
    },
    "interrupted": {"type": "boolean", "description": "A signal stopped the run; the rows are those finished before it."},
    "interruption": {"type": "string", "description": "The signal, such as SIGINT."},
    "rows": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["runtime", "workload", "model", "workers", "jobs", "size", "samples", "wallSeconds", "cpuSeconds", "peakRSSBytes", "overheadPerJobSeconds", "agrees"],
        "additionalProperties": false,
        "properties": {
          "runtime": {"type": "string"},
          "workload": {"$ref": "#/$defs/workload"},
          "model": {"$ref": "#/$defs/model"},
          "workers": {"type": "integer", "minimum": 1, "description": "Workers, or async's concurrency limit."},
          "jobs": {"type": "integer", "minimum": 0},
          "size": {"type": "string", "description": "The work in words; it may differ between languages."},
          "samples": {"type": "integer", "minimum": 1},
          "wallSeconds": {"$ref": "#/$defs/spread"},
          "cpuSeconds": {"$ref": "#/$defs/spread", "description": "User and system time, worker processes included."},
          "peakRSSBytes": {"$ref": "#/$defs/spread", "description": "The process's peak resident set plus its workers' peaks."},
          "overheadPerJobSeconds": {"$ref": "#/$defs/spread", "description": "Wall time minus the jobs' own time over the workers, per job."},
          "speedup": {"$ref": "#/$defs/spread", "description": "The sequential row's wall time over this row's, same runtime."},
          "agrees": {"type": "boolean", "description": "Every sample's result matched the sequential row's."}
        }
      }
    },
    "experiments": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["runtime", "claim", "name", "observed", "figures"],
        "additionalProperties": false,
        "properties": {
          "runtime": {"type": "string"},
          "claim": {"type": "integer", "minimum": 5, "maximum": 7},
          "name": {"type": "string", "enum": ["async-threads", "process-memory", "shared-memory"]},
          "observed": {"type": "string"},
          "figures": {"type": "object", "additionalProperties": {"type": "number"}, "description": "Counts, or 1 for yes and 0 for no."}
        }
      }
    },
    "sweeps": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["runtime", "sweep", "model", "x", "wallSeconds", "perJobSeconds"],
        "additionalProperties": false,
        "properties": {
          "runtime": {"type": "string"},
          "sweep": {"type": "string", "enum": ["cpu-workers", "tiny-jobs"]},
          "model": {"$ref": "#/$defs/model"},
          "x": {"type": "integer", "minimum": 1, "description": "Workers for cpu-workers, jobs for tiny-jobs."},
          "wallSeconds": {"$ref": "#/$defs/spread"},
          "perJobSeconds": {"$ref": "#/$defs/spread"}
        }
      }
    },
    "verdicts": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["claim", "statement", "runtime", "outcome", "measure", "evidence", "rule"],
        "additionalProperties": false,
        "properties": {
          "claim": {"type": "integer", "minimum": 1, "maximum": 8},
          "statement": {"type": "string"},
          "runtime": {"type": "string"},
          "outcome": {"type": "string", "enum": ["holds", "does not hold", "unclear", "not measured"]},
          "measure": {"type": "string", "description": "The workload and measure that test the claim."},
          "evidence": {"type": "string", "description": "The figures, in words."},
          "rule": {"type": "string", "description": "The thresholds the outcome came from."}
        }
      }
    }
  },
  "$defs": {
    "spread": {
      "type": "object",
      "required": ["median", "min", "max"],
      "additionalProperties": false,
      "properties": {
        "median": {"type": "number", "minimum": 0},
        "min": {"type": "number", "minimum": 0},
        "max": {"type": "number", "minimum": 0}
      }
    },
    "workload": {"type": "string", "enum": ["cpu", "io", "http", "tiny", "data", "data-pipe", "startup"]},
    "model": {"type": "string", "enum": ["sequential", "threads", "processes", "async", "mpi"]}
  }
}
"""#
}
