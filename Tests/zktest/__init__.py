"""The harness of the Python suites (Tests/interop, Tests/reliability, Tests/deploy): one package.

  binaries        where zkserver and zkctl are (ZKSERVER_BIN, ZKCTL_BIN), the server under test (ZK_SERVER),
                  the command line of each kind of server
  ports           loopback ports outside the kernel's ephemeral range
  words           four-letter words (ruok, srvr mode, mntr) and the /metrics text
  runas           the account servers run as when the test process is root, and the check that they
                  run without privilege
  netns           network namespaces on a bridge, with real partitions (root)
  server          ServerProcess (one process started here, signalled by PID) and ZKServer (standalone)
  ensemble        Ensemble and Node: multi-process ensembles, faults, waits for a stable ensemble
  proxy           DropProxy, a loopback proxy that can cut its connections
  jute            a raw-socket ZooKeeper client
  session         RawSession, a raw session that moves between members and re-registers its watches
  cli             interactive cli_mt and zkCli
  writer, load    kazoo write loads that record what was acknowledged
  rolling         zkctl rolling operations under load
  linearizability the checker of the reliability runs

pytest finds it through Tests/pytest.ini; scripts are run as modules from Tests/ (python3 -m reliability.run).
"""
