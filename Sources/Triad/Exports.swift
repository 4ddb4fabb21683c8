@_exported import TriadAsync
@_exported import TriadCore
@_exported import TriadLifecycle
@_exported import TriadProcesses
@_exported import TriadThreads
