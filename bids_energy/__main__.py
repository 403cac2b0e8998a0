from bids_energy.cli.run import main

raise SystemExit(main())
