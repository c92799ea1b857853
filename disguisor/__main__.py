from disguisor.cli import main

main()
