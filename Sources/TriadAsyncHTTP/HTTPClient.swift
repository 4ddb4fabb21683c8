import TriadAsync
