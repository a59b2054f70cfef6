from rpcnet.cli.console import main

raise SystemExit(main())
