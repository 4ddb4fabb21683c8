import Triad

await TriadCommand.main()
