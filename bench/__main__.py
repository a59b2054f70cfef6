import sys

if sys.argv[1:2] == ["host-scale"]:
    from bench.host_scale import main

    sys.exit(main(sys.argv[2:]))

from bench.run import main

sys.exit(main())
