from releaser.cli import main

main()
