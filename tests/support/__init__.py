"""The tests' shared fakes and helpers, one meaning each: ``demo`` (the demo seed's ids, emails and
API keys, and a manifest builder), ``cli`` (``lfr`` through typer's CliRunner), ``emulator`` (an
httpx client on the emulator in-process), ``sdk`` (the official SDK against a served emulator),
``client`` (the reconciler client's manual clock and recording transport), ``fake_github`` (a
GitHub REST API on loopback)."""
