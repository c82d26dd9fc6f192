from chainon.cli import main

main()
