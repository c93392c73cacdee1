"""Four-letter words: the text layout (line prefixes, key names) matches Apache ZooKeeper 3.8,
and the whitelist is enforced."""
import re
import time

import pytest

from zktest.words import four_letter

SRVR_LINES = [r"Zookeeper version: \S.*", r"Latency min/avg/max: \d+/[\d.]+/\d+", r"Received: \d+",
              r"Sent: \d+", r"Connections: \d+", r"Outstanding: \d+", r"Zxid: 0x[0-9a-f]+",
              r"Mode: standalone", r"Node count: \d+"]


def flw(zk, cmd):
    return four_letter(zk.port, cmd).decode()


@pytest.fixture
def watched(kz, base):
    """One extra client holding data watches on two paths and an ephemeral node."""
    kz.create(f"{base}/a", b"1")
    kz.create(f"{base}/eph", ephemeral=True)
    kz.get(f"{base}/a", watch=lambda e: None)
    kz.exists(f"{base}/missing", watch=lambda e: None)
    return base


def test_ruok(zk):
    assert flw(zk, "ruok") == "imok"


def test_srvr(zk, kz):
    lines = flw(zk, "srvr").splitlines()
    assert len(lines) == len(SRVR_LINES), lines
    for line, pattern in zip(lines, SRVR_LINES):
        assert re.fullmatch(pattern, line), (line, pattern)
    assert int(lines[4].split(": ")[1]) >= 1  # kz is connected


def test_stat(zk, kz):
    out = flw(zk, "stat")
    head, rest = out.split("\n\n", 1)
    lines = head.splitlines()
    assert re.fullmatch(SRVR_LINES[0], lines[0])
    assert lines[1] == "Clients:"
    assert len(lines) >= 3
    for line in lines[2:]:
        assert re.fullmatch(r" /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+.*\)", line), line
    tail = rest.splitlines()
    for line, pattern in zip(tail, SRVR_LINES[1:]):
        assert re.fullmatch(pattern, line), (line, pattern)
    assert len(tail) == len(SRVR_LINES) - 1


def test_mntr(zk, watched):
    out = flw(zk, "mntr")
    metrics = {}
    for line in out.splitlines():
        key, sep, value = line.partition("\t")
        assert sep and key.startswith("zk_"), line
        metrics[key] = value
    for key in ("zk_version", "zk_server_state", "zk_ephemerals_count", "zk_num_alive_connections",
                "zk_avg_latency", "zk_max_latency", "zk_min_latency", "zk_packets_received",
                "zk_packets_sent", "zk_outstanding_requests", "zk_znode_count", "zk_watch_count",
                "zk_approximate_data_size", "zk_open_file_descriptor_count",
                "zk_max_file_descriptor_count", "zk_uptime", "zk_global_sessions",
                # Apache's summaries, as its default metrics provider prints them.
                "zk_avg_fsynctime", "zk_min_fsynctime", "zk_max_fsynctime", "zk_cnt_fsynctime", "zk_sum_fsynctime",
                "zk_avg_snapshottime", "zk_cnt_snapshottime", "zk_cnt_election_time", "zk_avg_election_time",
                "zk_avg_readlatency", "zk_cnt_readlatency", "zk_p50_readlatency", "zk_p99_readlatency",
                "zk_p999_readlatency", "zk_avg_updatelatency", "zk_cnt_updatelatency", "zk_p95_updatelatency"):
        assert key in metrics, key
    assert int(metrics["zk_cnt_updatelatency"]) >= 1 and int(metrics["zk_cnt_fsynctime"]) >= 1
    assert metrics["zk_server_state"] == "standalone"
    assert int(metrics["zk_ephemerals_count"]) >= 1
    assert int(metrics["zk_watch_count"]) >= 2
    assert int(metrics["zk_znode_count"]) >= 5
    for key in ("zk_avg_latency", "zk_packets_sent", "zk_uptime"):
        float(metrics[key])


def test_conf(zk):
    conf = dict(line.split("=", 1) for line in flw(zk, "conf").splitlines())
    for key in ("clientPort", "secureClientPort", "dataDir", "dataDirSize", "dataLogDir",
                "dataLogSize", "tickTime", "maxClientCnxns", "minSessionTimeout",
                "maxSessionTimeout", "clientPortListenBacklog", "serverId"):
        assert key in conf, key
    assert conf["clientPort"] == str(zk.port)
    assert conf["tickTime"] == "2000"
    assert conf["maxClientCnxns"] == "200"
    assert (conf["minSessionTimeout"], conf["maxSessionTimeout"]) == ("4000", "40000")
    assert conf["dataDir"] == f"{zk.data_dir}/version-2"
    assert conf["dataLogDir"] == f"{zk.datalog_dir}/version-2"
    assert conf["serverId"] == "0"


def test_envi(zk):
    lines = flw(zk, "envi").splitlines()
    assert lines[0] == "Environment:"
    env = dict(line.split("=", 1) for line in lines[1:])
    for key in ("zookeeper.version", "host.name", "os.name", "os.arch", "os.version",
                "user.name", "user.home", "user.dir"):
        assert key in env, key
    assert env["os.name"] == "Linux"


def test_cons(zk, kz):
    lines = [l for l in flw(zk, "cons").splitlines() if l]
    assert lines
    for line in lines:
        assert re.fullmatch(r" /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+.*\)", line), line
    sid = f"sid=0x{kz.client_id[0]:x},"
    mine = [l for l in lines if sid in l]
    assert len(mine) == 1, (sid, lines)
    for key in ("lop=", "est=", "to=", "lcxid=0x", "lzxid=0x", "lresp=", "llat=", "minlat=",
                "avglat=", "maxlat="):
        assert key in mine[0], key


def test_wchs(zk_factory, kazoo_factory):
    srv = zk_factory()
    kz = kazoo_factory(server=srv)
    kz.create("/w1")
    kz.get("/w1", watch=lambda e: None)
    kz.exists("/w2", watch=lambda e: None)
    kz.get_children("/w1", watch=lambda e: None)  # child watches are not counted by wchs
    assert flw(srv, "wchs") == "1 connections watching 2 paths\nTotal watches:2\n"


def test_dirs(zk):
    lines = flw(zk, "dirs").splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"datadir_size: \d+", lines[0])
    assert re.fullmatch(r"logdir_size: \d+", lines[1])


def test_isro(zk):
    assert flw(zk, "isro") == "rw"


def test_whitelist(zk_factory):
    srv = zk_factory({"4lw.commands.whitelist": "ruok, conf"})
    assert flw(srv, "ruok") == "imok"
    assert flw(srv, "conf").startswith("clientPort=")
    assert flw(srv, "srvr").startswith("Zookeeper version: ")  # srvr is always enabled
    for cmd in ("stat", "mntr", "envi", "cons", "wchs", "dirs", "isro"):
        assert flw(srv, cmd) == f"{cmd} is not executed because it is not in the whitelist.\n"


def test_default_whitelist_is_srvr_only_and_ruok_for_zkserver(zk_factory, zk_kind):
    """Apache ZooKeeper 3.8 answers only srvr without a whitelist; zkserver answers ruok as well."""
    srv = zk_factory(start=False, omit=["4lw.commands.whitelist"])
    srv.start(wait=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # ruok is not whitelisted: probe with srvr
        try:
            if flw(srv, "srvr").startswith("Zookeeper version"):
                break
        except OSError:
            pass
        time.sleep(0.05)
    assert flw(srv, "srvr").startswith("Zookeeper version: ")
    if zk_kind == "apache":
        assert flw(srv, "ruok") == "ruok is not executed because it is not in the whitelist.\n"
    else:
        assert flw(srv, "ruok") == "imok"
    assert flw(srv, "mntr") == "mntr is not executed because it is not in the whitelist.\n"


def test_unknown_word_closes_silently(zk, kz):
    assert four_letter(zk.port, "abcd") == b""
    assert kz.exists("/") is not None


def test_node_count_tracks_changes(zk_factory, kazoo_factory):
    srv = zk_factory()
    kz = kazoo_factory(server=srv)

    def counts():
        srvr = dict(l.split(": ", 1) for l in flw(srv, "srvr").splitlines())
        mntr = dict(l.split("\t", 1) for l in flw(srv, "mntr").splitlines())
        return int(srvr["Node count"]), int(mntr["zk_znode_count"])

    n0, m0 = counts()
    assert n0 == m0
    kz.create("/nc/a/b", makepath=True)
    kz.create("/nc/e", ephemeral=True)
    assert counts() == (n0 + 4, n0 + 4)
    kz.delete("/nc/a", recursive=True)
    assert counts() == (n0 + 2, n0 + 2)
    kz.stop()
    assert counts() == (n0 + 1, n0 + 1)  # the ephemeral went with the session
