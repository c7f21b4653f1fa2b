from threadkit.cli import main

main()
