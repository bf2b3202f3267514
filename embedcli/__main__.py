from embedcli.cli.app import main

main()
