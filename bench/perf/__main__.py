from bench.perf.run import main

main()
