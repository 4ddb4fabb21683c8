import TriadCore
