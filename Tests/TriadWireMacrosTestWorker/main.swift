import TriadProcesses
import TriadWireMacrosTestJobs

// The worker program of TriadWireMacrosTests' pool tests: it knows the jobs whose wire form the macro derived. In a
// worker, bootstrap never returns.
ProcessPool.bootstrap(jobs: MacroTestJobs.all)
