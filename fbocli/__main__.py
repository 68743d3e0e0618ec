from fbocli.cli import main

main()
