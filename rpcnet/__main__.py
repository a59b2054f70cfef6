from rpcnet.cli.rpcnetd import main

raise SystemExit(main())
