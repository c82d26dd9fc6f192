from chainon.cli import main

# Guarded: importing every module (the wheel test walks them all) must not run the command.
if __name__ == "__main__":
    main()
