"""`python -m cchc.cli`: the `cchc` command."""

from cchc.cli import main

if __name__ == "__main__":
    main()
